// The proxy's discovery applier fed a sequence of DiscoveryResponses, as a
// hostile or buggy control plane would send them: binary protobuf, parts
// separated by "\n--\n". A response's version is a hash of its content,
// which a fuzzer cannot guess; when the first input byte's bit 0 is set,
// the harness announces the right one, so the configuration gets past that
// check into translation. Each candidate is applied as the proxy applies a
// push (translate, then check_replaceable against the one in force).
// Properties: an ACK means the configuration is in force with the announced
// version; a NACK leaves the one in force unchanged; a delta from the
// configuration in force to an accepted one rebuilds it exactly.
#include <google/protobuf/util/message_differencer.h>

#include <memory>

#include "common/config_delta.h"
#include "fuzz/harness/fuzz.h"
#include "mesh/v1/discovery.pb.h"
#include "proxy/config/snapshot.h"
#include "proxy/discovery/applier.h"

namespace config = weft::proxy::config;
using google::protobuf::util::MessageDifferencer;

namespace {

// The version the proxy computes for what `response` would give.
std::string true_version(const mesh::v1::DiscoveryResponse& response,
                         const mesh::v1::ProxyConfig& base, bool have_base) {
  if (response.has_config()) {
    auto whole = response.config();
    weft::config::canonicalize(whole);
    return weft::config::content_version(whole);
  }
  if (response.has_delta() && have_base) {
    auto applied = weft::config::apply_delta(base, response.delta());
    if (applied) return weft::config::content_version(*applied);
  }
  return response.version();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool announce_true_version = (data[0] & 1) != 0;
  std::shared_ptr<const config::Snapshot> in_force;
  mesh::v1::ProxyConfig accepted;  // the ProxyConfig of in_force
  bool have_base = false;
  weft::proxy::discovery::Applier applier(
      [&](const mesh::v1::ProxyConfig& next) -> weft::Result<void> {
        auto snapshot = config::translate(next);
        if (!snapshot) return tl::unexpected(snapshot.error());
        if (in_force) {
          if (auto ok = config::check_replaceable(*in_force, **snapshot); !ok) return ok;
        }
        in_force = *snapshot;
        return {};
      });

  weft::fuzz::for_each_part(weft::fuzz::bytes_of(data + 1, size - 1), "\n--\n", [&](auto part) {
    mesh::v1::DiscoveryResponse response;
    if (!response.ParseFromArray(part.data(), static_cast<int>(part.size()))) return;
    if (announce_true_version) response.set_version(true_version(response, accepted, have_base));
    const config::Snapshot* before = in_force.get();
    auto reply = applier.handle(response);
    FUZZ_EXPECT(reply.nonce() == response.nonce());
    if (reply.has_error()) {
      FUZZ_EXPECT(!reply.error().message().empty());
      FUZZ_EXPECT(in_force.get() == before);
      return;
    }
    FUZZ_EXPECT(in_force && in_force.get() != before);
    FUZZ_EXPECT(applier.version() == response.version());
    mesh::v1::ProxyConfig next;
    if (response.has_config()) {
      next = response.config();
      weft::config::canonicalize(next);
    } else {
      auto applied = weft::config::apply_delta(accepted, response.delta());
      FUZZ_EXPECT(applied.has_value());
      next = std::move(*applied);
    }
    next.set_version(response.version());
    // What the control plane would send for this change: a delta that
    // rebuilds it exactly.
    if (have_base) {
      auto rebuilt = weft::config::apply_delta(accepted, weft::config::make_delta(accepted, next));
      FUZZ_EXPECT(rebuilt.has_value());
      rebuilt->set_version(next.version());
      FUZZ_EXPECT(MessageDifferencer::Equals(*rebuilt, next));
    }
    accepted = std::move(next);
    have_base = true;
  });
  return 0;
}
