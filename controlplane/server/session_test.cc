#include "controlplane/server/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config_delta.h"

namespace weft::cp::server {
namespace {

using ::testing::HasSubstr;

// A mesh with one local workload "w" and `services` Services.
translate::Mesh mesh_with(int services) {
  translate::Mesh mesh;
  translate::Workload w;
  w.name = "w";
  w.ns = "default";
  w.local = translate::Workload::LocalPorts{.outbound = 1, .admin = 2, .metrics = 3, .inbound = {}};
  mesh.workloads[{"default", "w"}] = w;
  for (int i = 0; i < services; ++i) {
    translate::ServicePort sp;
    sp.service = "s" + std::to_string(i);
    sp.ns = "default";
    sp.port = 80;
    sp.cluster.set_name(sp.service + ".default:80");
    mesh.service_ports.push_back(sp);
  }
  return mesh;
}

std::shared_ptr<ConfigCache> cache_with(int services) {
  return std::make_shared<ConfigCache>(std::make_shared<translate::Mesh>(mesh_with(services)));
}

mesh::v1::DiscoveryRequest hello() {
  mesh::v1::DiscoveryRequest r;
  r.mutable_node()->set_name("w");
  return r;
}

// What the proxy receives: the shared encoded payload and this session's
// nonce, parsed as one message.
std::optional<mesh::v1::DiscoveryResponse> next(ProxySession& session) {
  auto outgoing = session.next();
  if (!outgoing) return std::nullopt;
  auto response = outgoing->decode();
  EXPECT_EQ(response.version(), outgoing->version);
  EXPECT_EQ(response.nonce(), outgoing->nonce);
  return response;
}

mesh::v1::DiscoveryRequest ack(const mesh::v1::DiscoveryResponse& response) {
  mesh::v1::DiscoveryRequest r;
  r.set_version(response.version());
  r.set_nonce(response.nonce());
  return r;
}

TEST(ProxySession, FullThenDeltaThenNothingWhenUnchanged) {
  ProxySession session(SystemClock::now());
  ASSERT_TRUE(session.hello(hello()));
  auto t0 = Clock::now();
  session.update(cache_with(1), t0);
  auto first = next(session);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->has_config());
  EXPECT_FALSE(next(session)) << "one response outstanding at a time";
  auto acked = session.reply(ack(*first), t0 + std::chrono::milliseconds(30));
  ASSERT_TRUE(acked);
  ASSERT_TRUE(acked->propagation);
  EXPECT_EQ(*acked->propagation, std::chrono::milliseconds(30));
  EXPECT_TRUE(session.status().in_sync());

  session.update(cache_with(2), t0);
  auto second = next(session);
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->has_delta());
  ASSERT_EQ(second->delta().clusters_size(), 1);
  EXPECT_EQ(second->delta().clusters(0).name(), "s1.default:80");
  // The proxy's result of the delta matches the version it was told.
  auto applied = config::apply_delta(first->config(), second->delta());
  ASSERT_TRUE(applied);
  EXPECT_EQ(config::content_version(*applied), second->version());
  ASSERT_TRUE(session.reply(ack(*second), Clock::now()));

  session.update(cache_with(2), Clock::now());
  EXPECT_FALSE(next(session)) << "a change that does not concern it sends nothing";
}

TEST(ProxySession, NackKeepsTheAckedVersionAndWaitsForANewOne) {
  ProxySession session(SystemClock::now());
  ASSERT_TRUE(session.hello(hello()));
  session.update(cache_with(1), Clock::now());
  ASSERT_TRUE(session.reply(ack(*next(session)), Clock::now()));
  auto good = session.status().version_acked;

  session.update(cache_with(2), Clock::now());
  auto rejected = next(session);
  auto nack = ack(*rejected);
  nack.mutable_error()->set_message("cluster s1: no endpoints");
  auto result = session.reply(nack, Clock::now());
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->nacked);
  EXPECT_EQ(session.status().version_acked, good);
  EXPECT_EQ(session.status().last_nack_error, "cluster s1: no endpoints");
  EXPECT_FALSE(session.status().in_sync());
  // A rejected delta is sent once more, whole (the proxy's base may have
  // been what was wrong); rejected whole, it is not sent again.
  auto whole = next(session);
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->has_config());
  EXPECT_EQ(whole->version(), rejected->version());
  auto nack_whole = ack(*whole);
  nack_whole.mutable_error()->set_message("cluster s1: no endpoints");
  ASSERT_TRUE(session.reply(nack_whole, Clock::now()));
  EXPECT_FALSE(next(session)) << "the rejected version is not resent";

  session.update(cache_with(3), Clock::now());
  auto retry = next(session);
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->has_config()) << "after a NACK the next response is whole";
}

// A proxy whose result of a delta is not the announced version asks for
// the whole configuration: it gets it at once, not at the next change.
TEST(ProxySession, ARejectedDeltaIsResentWhole) {
  ProxySession session(SystemClock::now());
  ASSERT_TRUE(session.hello(hello()));
  session.update(cache_with(1), Clock::now());
  ASSERT_TRUE(session.reply(ack(*next(session)), Clock::now()));
  session.update(cache_with(2), Clock::now());
  auto delta = next(session);
  ASSERT_TRUE(delta && delta->has_delta());
  auto nack = ack(*delta);
  nack.mutable_error()->set_message("content version 1 does not match the announced 2");
  ASSERT_TRUE(session.reply(nack, Clock::now()));
  auto whole = next(session);
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->has_config());
  ASSERT_TRUE(session.reply(ack(*whole), Clock::now()));
  EXPECT_TRUE(session.status().in_sync());
}

TEST(ProxySession, StaleNonceIsRejected) {
  ProxySession session(SystemClock::now());
  ASSERT_TRUE(session.hello(hello()));
  session.update(cache_with(1), Clock::now());
  auto response = next(session);
  auto stale = ack(*response);
  stale.set_nonce("999");
  auto result = session.reply(stale, Clock::now());
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("not outstanding"));
  EXPECT_TRUE(session.reply(ack(*response), Clock::now()));
}

TEST(ProxySession, UnknownProxyGetsNothingAndAnError) {
  ProxySession session(SystemClock::now());
  mesh::v1::DiscoveryRequest r;
  r.mutable_node()->set_name("ghost");
  ASSERT_TRUE(session.hello(r));
  session.update(cache_with(1), Clock::now());
  EXPECT_FALSE(next(session));
  EXPECT_THAT(session.status().translate_error, HasSubstr("no Pod default/ghost"));
}

TEST(ConfigCache, ProxiesWithTheSamePortsShareOneTranslationAndOneDelta) {
  auto mesh = mesh_with(2);
  for (int i = 0; i < 3; ++i) {
    translate::Workload w;
    w.name = "p" + std::to_string(i);
    w.ns = "default";
    w.container_ports = {8080};
    mesh.workloads[{"default", w.name}] = w;
  }
  ConfigCache cache(std::make_shared<translate::Mesh>(mesh));
  auto a = cache.config_for({"p0", "default"});
  auto b = cache.config_for({"p2", "default"});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->get(), b->get()) << "one shared configuration";
  EXPECT_EQ((*a)->version(), config::content_version(**a));
  ASSERT_TRUE(cache.config_for({"w", "default"}));  // directory mode: its own
  EXPECT_EQ(cache.translations(), 2u);
  ConfigCache next(std::make_shared<translate::Mesh>(mesh_with(3)));
  auto local = next.config_for({"w", "default"});
  auto old_local = cache.config_for({"w", "default"});
  auto delta = next.delta_response(*old_local, *local);
  EXPECT_EQ(delta.get(), next.delta_response(*old_local, *local).get()) << "encoded once";
  EXPECT_EQ(next.full_response(*local).get(), next.full_response(*local).get());
  mesh::v1::DiscoveryResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(*delta));
  EXPECT_EQ(decoded.version(), (*local)->version());
  EXPECT_TRUE(decoded.nonce().empty()) << "each stream adds its own";
  ASSERT_EQ(decoded.delta().clusters_size(), 1);
}

TEST(ProxySession, HelloNeedsAName) {
  ProxySession session(SystemClock::now());
  EXPECT_FALSE(session.hello(mesh::v1::DiscoveryRequest()));
}

}  // namespace
}  // namespace weft::cp::server
