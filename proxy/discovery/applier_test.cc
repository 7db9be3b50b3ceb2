#include "proxy/discovery/applier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config_delta.h"

namespace weft::proxy::discovery {
namespace {

using ::testing::HasSubstr;

mesh::v1::ProxyConfig config_with(std::initializer_list<const char*> clusters) {
  mesh::v1::ProxyConfig config;
  for (const auto* name : clusters) config.add_clusters()->set_name(name);
  config.set_version(config::content_version(config));
  return config;
}

mesh::v1::DiscoveryResponse whole(const mesh::v1::ProxyConfig& config, const char* nonce) {
  mesh::v1::DiscoveryResponse r;
  r.set_version(config.version());
  r.set_nonce(nonce);
  *r.mutable_config() = config;
  return r;
}

TEST(Applier, AcksWholeThenDeltaAndAppliesWhatWasAnnounced) {
  std::vector<std::string> applied;
  Applier applier([&](const mesh::v1::ProxyConfig& c) -> Result<void> {
    applied.push_back(c.version());
    return {};
  });
  auto a = config_with({"x"});
  auto reply = applier.handle(whole(a, "1"));
  EXPECT_FALSE(reply.has_error());
  EXPECT_EQ(reply.nonce(), "1");
  EXPECT_EQ(reply.version(), a.version());

  auto b = config_with({"x", "y"});
  mesh::v1::DiscoveryResponse delta;
  delta.set_version(b.version());
  delta.set_nonce("2");
  *delta.mutable_delta() = config::make_delta(a, b);
  reply = applier.handle(delta);
  EXPECT_FALSE(reply.has_error()) << reply.error().message();
  EXPECT_EQ(applier.version(), b.version());
  EXPECT_THAT(applied, ::testing::ElementsAre(a.version(), b.version()));
}

TEST(Applier, NacksAMismatchedVersionADeltaWithoutBaseAnUnknownFieldAndAnApplyError) {
  bool fail_apply = false;
  Applier applier([&](const mesh::v1::ProxyConfig&) -> Result<void> {
    if (fail_apply) return fail(ErrorCode::kInvalidArgument, "listener web: port in use");
    return {};
  });
  mesh::v1::DiscoveryResponse orphan;
  orphan.set_nonce("1");
  orphan.mutable_delta();
  EXPECT_THAT(applier.handle(orphan).error().message(), HasSubstr("before any whole"));

  auto a = config_with({"x"});
  auto lying = whole(a, "2");
  lying.set_version("0000000000000000");
  EXPECT_THAT(applier.handle(lying).error().message(), HasSubstr("does not match"));

  // From a newer control plane: a field this proxy does not know, even
  // with the version the proxy would compute for it.
  auto newer = a;
  auto& cluster = *newer.mutable_clusters(0);
  cluster.GetReflection()->MutableUnknownFields(&cluster)->AddVarint(99, 1);
  auto from_newer = whole(newer, "4");
  from_newer.set_version(config::content_version(newer));
  EXPECT_THAT(applier.handle(from_newer).error().message(),
              HasSubstr("does not know (config.clusters[0]: field 99)"));

  fail_apply = true;
  EXPECT_THAT(applier.handle(whole(a, "3")).error().message(), HasSubstr("port in use"));
  EXPECT_EQ(applier.version(), "") << "nothing was ACKed";
}

}  // namespace
}  // namespace weft::proxy::discovery
