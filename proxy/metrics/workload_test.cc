#include "proxy/metrics/workload.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::proxy::metrics {
namespace {

TEST(PeerField, EncodesAndDecodesBack) {
  const Peer peer{{"productpage", "default", "productpage", "v1", "bookinfo"},
                  "reviews.default.svc.cluster.local"};
  const auto field = encode_peer(peer);
  EXPECT_EQ(field,
            "w=productpage;ns=default;app=productpage;ver=v1;sa=bookinfo;"
            "svc=reviews.default.svc.cluster.local");
  EXPECT_EQ(decode_peer(field), peer);
}

TEST(PeerField, DecodesWhatIsValidOnly) {
  const std::string long_value(kMaxPeerValueBytes + 1, 'a');
  struct Case {
    const char* name;
    std::string field;
    std::optional<Peer> want;
  };
  const Case cases[] = {
      {"the least a field says", "w=a;ns=b;svc=c",
       Peer{{"a", "b", "unknown", "unknown", "unknown"}, "c"}},
      {"keys in any order, unknown keys skipped (a newer proxy's)", "svc=c;zone=z1;ns=b;w=a;ver=v2",
       Peer{{"a", "b", "unknown", "v2", "unknown"}, "c"}},
      {"a later pair of a key wins", "w=a;ns=b;svc=c;w=d",
       Peer{{"d", "b", "unknown", "unknown", "unknown"}, "c"}},
      {"no Service", "w=a;ns=b", std::nullopt},
      {"no workload", "ns=b;svc=c", std::nullopt},
      {"an empty value", "w=;ns=b;svc=c", std::nullopt},
      {"a pair without '='", "w=a;ns=b;svc=c;junk", std::nullopt},
      {"an empty field", "", std::nullopt},
      {"a trailing ';' is an empty pair", "w=a;ns=b;svc=c;",
       Peer{{"a", "b", "unknown", "unknown", "unknown"}, "c"}},
      {"a label value a client made up", "w=a b;ns=b;svc=c", std::nullopt},
      {"a quote would break the exposition", "w=a\";ns=b;svc=c", std::nullopt},
      {"a value past the limit", "w=" + long_value + ";ns=b;svc=c", std::nullopt},
      {"non-ASCII", "w=\xc3\xa9;ns=b;svc=c", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(decode_peer(c.field), c.want) << c.name;
}

}  // namespace
}  // namespace weft::proxy::metrics
