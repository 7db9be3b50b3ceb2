#include "proxy/http/http2/preface.h"

#include <cstdint>

namespace weft::proxy::http::http2 {
namespace {

constexpr std::uint8_t kSettings = 0x4;
constexpr std::uint8_t kGoaway = 0x7;
constexpr std::uint32_t kProtocolError = 0x1;

void put32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

// A frame header (RFC 9113 §4.1) on stream 0.
void frame_header(std::string& out, std::uint32_t length, std::uint8_t type) {
  for (int shift = 16; shift >= 0; shift -= 8) out.push_back(static_cast<char>(length >> shift));
  out.push_back(static_cast<char>(type));
  out.push_back(0);  // flags
  put32(out, 0);     // stream 0
}

}  // namespace

std::string bad_preface_reply(std::string_view debug) {
  std::string out;
  frame_header(out, 0, kSettings);
  frame_header(out, static_cast<std::uint32_t>(8 + debug.size()), kGoaway);
  put32(out, 0);  // last stream processed: none
  put32(out, kProtocolError);
  out.append(debug);
  return out;
}

}  // namespace weft::proxy::http::http2
