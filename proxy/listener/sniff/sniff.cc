#include "proxy/listener/sniff/sniff.h"

#include <cctype>

namespace weft::proxy::listener::sniff {
namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::string_view kHttp2PrefaceLine = "PRI * HTTP/2.0\r\n";

// RFC 9110 tchar, the characters of a method token.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Longer than any method clients send: a longer token is not HTTP. Held to
// whether or not the space after it has arrived yet, so the verdict does
// not depend on how TCP cut the bytes.
constexpr std::size_t kMaxMethodBytes = 20;

// "METHOD SP target SP HTTP/1.x": decided at the first space after the
// method, confirmed by the version once the line ends.
Protocol classify_http1(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && is_token_char(bytes[i])) ++i;
  if (i >= kMaxMethodBytes) return Protocol::kOpaque;
  if (i == bytes.size()) return Protocol::kNeedMore;
  if (i == 0 || bytes[i] != ' ') return Protocol::kOpaque;
  auto line_end = bytes.find("\r\n");
  if (line_end == std::string_view::npos) {
    // A method and a space: HTTP/1 unless the line proves otherwise, which a
    // long target cannot do within the sniff window.
    return bytes.size() >= kMaxSniffBytes ? Protocol::kHttp1 : Protocol::kNeedMore;
  }
  auto line = bytes.substr(0, line_end);
  return line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0") ? Protocol::kHttp1
                                                                    : Protocol::kOpaque;
}

}  // namespace

Protocol classify(std::string_view bytes) {
  if (bytes.empty()) return Protocol::kNeedMore;
  // TLS record: handshake (22), version major 3.
  if (bytes[0] == 0x16) {
    if (bytes.size() < 2) return Protocol::kNeedMore;
    return bytes[1] == 0x03 ? Protocol::kTls : Protocol::kOpaque;
  }
  if (bytes[0] == 'P') {
    auto n = std::min(bytes.size(), kHttp2Preface.size());
    if (bytes.substr(0, n) == kHttp2Preface.substr(0, n)) {
      return n == kHttp2Preface.size() ? Protocol::kHttp2 : Protocol::kNeedMore;
    }
  }
  return classify_http1(bytes);
}

Protocol classify_http(std::string_view bytes) {
  auto n = std::min(bytes.size(), kHttp2Preface.size());
  if (bytes.substr(0, n) == kHttp2Preface.substr(0, n)) {
    return n == kHttp2Preface.size() ? Protocol::kHttp2 : Protocol::kNeedMore;
  }
  // No HTTP/1 request has this request line: the preface was meant.
  if (bytes.starts_with(kHttp2PrefaceLine)) return Protocol::kBadHttp2Preface;
  return Protocol::kHttp1;
}

Protocol classify_inbound_http(std::string_view bytes) {
  if (bytes.empty()) return Protocol::kNeedMore;
  if (bytes[0] == 0x16) {
    if (bytes.size() < 2) return Protocol::kNeedMore;
    if (bytes[1] == 0x03) return Protocol::kTls;
  }
  return classify_http(bytes);
}

std::string_view name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kNeedMore:
      return "unknown";
    case Protocol::kHttp1:
      return "http1";
    case Protocol::kHttp2:
      return "http2";
    case Protocol::kTls:
      return "tls";
    case Protocol::kOpaque:
      return "opaque";
    case Protocol::kBadHttp2Preface:
      return "bad_http2_preface";
  }
  return "unknown";
}

}  // namespace weft::proxy::listener::sniff
