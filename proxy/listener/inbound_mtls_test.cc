#include "proxy/listener/inbound_mtls.h"

#include <gtest/gtest.h>

namespace weft::proxy::listener {
namespace {

using config::MtlsMode;

TEST(InboundAction, ByModeIdentityAndWhatTheClientSent) {
  struct Case {
    MtlsMode mode;
    bool identity, tls;
    InboundAction action;
    bool looks;
  };
  const Case cases[] = {
      {MtlsMode::kStrict, true, true, InboundAction::kTerminateTls, true},
      {MtlsMode::kStrict, true, false, InboundAction::kRefusePlaintext, true},
      // STRICT without a certificate yet: TLS fails (counted), plaintext refused.
      {MtlsMode::kStrict, false, true, InboundAction::kTerminateTls, true},
      {MtlsMode::kStrict, false, false, InboundAction::kRefusePlaintext, true},
      {MtlsMode::kPermissive, true, true, InboundAction::kTerminateTls, true},
      {MtlsMode::kPermissive, true, false, InboundAction::kServe, true},
      {MtlsMode::kPermissive, false, true, InboundAction::kServe, false},
      {MtlsMode::kPermissive, false, false, InboundAction::kServe, false},
      {MtlsMode::kDisable, true, true, InboundAction::kServe, false},
      {MtlsMode::kDisable, true, false, InboundAction::kServe, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(inbound_action(c.mode, c.identity, c.tls), c.action)
        << static_cast<int>(c.mode) << c.identity << c.tls;
    EXPECT_EQ(looks_for_tls(c.mode, c.identity), c.looks) << static_cast<int>(c.mode) << c.identity;
  }
}

}  // namespace
}  // namespace weft::proxy::listener
