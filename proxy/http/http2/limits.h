// The limits of one HTTP/2 connection, configurable per listener
// (mesh.v1.Http2Limits). Pure data: the configuration snapshot carries it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/http/http2/abuse_guard.h"

namespace weft::proxy::http::http2 {

struct SessionLimits {
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t max_header_list_bytes = 64 * 1024;
  // Advertised windows: what a peer may send before we consume it.
  std::uint32_t stream_window = 256 * 1024;
  std::uint32_t connection_window = 8 * 1024 * 1024;
  // Outbound PING/SETTINGS acknowledgements queued because the peer does
  // not read: beyond this nghttp2 ends the session.
  std::size_t max_queued_control_frames = 1000;
  AbuseLimits abuse;
};

}  // namespace weft::proxy::http::http2
