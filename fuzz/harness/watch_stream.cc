// A Kubernetes watch response body as the control plane's informers read
// it: bytes in chunks of any size (the first input byte), cut into lines,
// each line an event whose object becomes a cache entry of the kind the
// second byte picks. Properties: the lines are exactly the bytes (nothing
// lost or invented across chunk boundaries), a line over the limit is an
// error rather than memory, and every object is either parsed or has a
// reason.
#include "controlplane/sources/kubernetes/watch_stream.h"

#include <array>
#include <string>

#include "fuzz/harness/fuzz.h"

namespace kubernetes = weft::cp::kubernetes;

namespace {

// The kinds the informers watch (kubernetes/informer.cc).
const std::array<std::string, 9> kKinds = {"Namespace", "Node",          "Service",
                                           "Pod",       "EndpointSlice", "HTTPRoute",
                                           "GRPCRoute", "TrafficPolicy", "MeshConfig"};
constexpr std::size_t kMaxLine = std::size_t{64} * 1024;  // small, so inputs can reach it

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = data[0] == 0 ? size : data[0];
  const auto& kind = kKinds[data[1] % kKinds.size()];
  auto input = weft::fuzz::bytes_of(data + 2, size - 2);

  kubernetes::LineSplitter lines(kMaxLine);
  std::string seen;  // every line with its newline: must rebuild the input
  auto on_line = [&](std::string_view line) {
    FUZZ_EXPECT(line.size() <= kMaxLine + piece);
    seen.append(line).push_back('\n');
    auto event = kubernetes::parse_event(line);
    if (!event) return true;
    (void)kubernetes::resource_version(*event);
    if (event->type == "ERROR") return kubernetes::error_code(*event) == 0;
    if (event->type == "BOOKMARK") return true;
    auto read = kubernetes::read_object(std::move(event->object), kind);
    FUZZ_EXPECT((read.object != nullptr) != !read.error.empty());
    return true;
  };
  std::size_t fed_bytes = 0;
  while (fed_bytes < input.size()) {
    auto chunk = input.substr(fed_bytes, piece);
    fed_bytes += chunk.size();
    auto fed = lines.feed(chunk, on_line);
    if (fed == kubernetes::LineSplitter::Fed::kTooLong) {
      FUZZ_EXPECT(lines.rest().size() > kMaxLine);
      return 0;
    }
    if (fed == kubernetes::LineSplitter::Fed::kStopped) {
      FUZZ_EXPECT(input.substr(0, fed_bytes).starts_with(seen));
      return 0;
    }
  }
  FUZZ_EXPECT(seen + std::string(lines.rest()) == input);
  return 0;
}
