#include "common/unknown_fields.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <functional>

#include "mesh/v1/discovery.pb.h"

namespace weft::proto {
namespace {

google::protobuf::UnknownFieldSet& unknown_of(google::protobuf::Message& message) {
  return *message.GetReflection()->MutableUnknownFields(&message);
}

mesh::v1::DiscoveryResponse response_with_two_clusters() {
  mesh::v1::DiscoveryResponse response;
  response.set_version("v");
  auto& config = *response.mutable_config();
  config.add_clusters()->set_name("a");
  config.add_clusters()->set_name("b");
  return response;
}

TEST(UnknownFields, NamesWhereTheFirstUnknownPartIs) {
  struct Case {
    const char* name;
    std::function<void(mesh::v1::DiscoveryResponse&)> edit;
    std::optional<std::string> found;
  };
  const Case cases[] = {
      {"every part known", [](auto&) {}, std::nullopt},
      {"an unknown field in the envelope", [](auto& r) { unknown_of(r).AddVarint(9, 1); },
       "field 9"},
      {"an unknown field in a repeated item's nested message",
       [](auto& r) {
         unknown_of(*r.mutable_config()->mutable_clusters(1)->mutable_outlier_detection())
             .AddVarint(42, 1);
       },
       "config.clusters[1].outlier_detection: field 42"},
      {"an enum value outside its enum",
       [](auto& r) {
         r.mutable_config()->mutable_clusters(0)->set_load_balancer(
             static_cast<mesh::v1::Cluster::LoadBalancer>(77));
       },
       "config.clusters[0].load_balancer: enum value 77"},
      {"an unknown length-delimited field in a delta",
       [](auto& r) { unknown_of(*r.mutable_delta()).AddLengthDelimited(30, "x"); },
       "delta: field 30"},
  };
  for (const auto& c : cases) {
    auto response = response_with_two_clusters();
    c.edit(response);
    // As it arrives: parsed from the wire.
    mesh::v1::DiscoveryResponse received;
    ASSERT_TRUE(received.ParseFromString(response.SerializeAsString())) << c.name;
    EXPECT_EQ(find_unknown(received), c.found) << c.name;
  }
}

}  // namespace
}  // namespace weft::proto
