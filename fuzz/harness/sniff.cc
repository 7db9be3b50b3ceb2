// The protocol sniffer: the first bytes of every captured connection.
// Property: the verdict does not depend on how TCP cut the bytes. Once a
// prefix is decided, every longer input (within the sniff window the
// listener reads) gets the same verdict.
#include "proxy/listener/sniff/sniff.h"

#include "fuzz/harness/fuzz.h"

using weft::proxy::listener::sniff::Protocol;
namespace sniff = weft::proxy::listener::sniff;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = weft::fuzz::bytes_of(data, size).substr(0, sniff::kMaxSniffBytes);
  const auto whole = sniff::classify(bytes);
  const auto whole_http = sniff::classify_http(bytes);
  FUZZ_EXPECT(!sniff::name(whole).empty());
  FUZZ_EXPECT(whole != Protocol::kBadHttp2Preface);  // classify_http's verdict only
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto prefix = bytes.substr(0, n);
    if (auto p = sniff::classify(prefix); p != Protocol::kNeedMore) FUZZ_EXPECT(p == whole);
    if (auto p = sniff::classify_http(prefix); p != Protocol::kNeedMore) {
      FUZZ_EXPECT(p == whole_http);
    }
  }
  return 0;
}
