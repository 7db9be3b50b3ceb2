#include "proxy/http/http2/preface.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <vector>

namespace weft::proxy::http::http2 {
namespace {

// A client session of nghttp2's own reads the reply as a server preface
// and a GOAWAY: PROTOCOL_ERROR, no stream processed, the reason as debug
// data.
TEST(BadPreface, ReplyIsSettingsThenGoawayProtocolError) {
  struct Seen {
    std::vector<std::uint8_t> types;
    std::uint32_t error = 0;
    std::int32_t last_stream = -1;
    std::string debug;
  } seen;
  nghttp2_session_callbacks* callbacks = nullptr;
  ASSERT_EQ(nghttp2_session_callbacks_new(&callbacks), 0);
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* data) {
        auto& s = *static_cast<Seen*>(data);
        s.types.push_back(frame->hd.type);
        if (frame->hd.type == NGHTTP2_GOAWAY) {
          s.error = frame->goaway.error_code;
          s.last_stream = frame->goaway.last_stream_id;
          s.debug.assign(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                         frame->goaway.opaque_data_len);
        }
        return 0;
      });
  nghttp2_session* client = nullptr;
  ASSERT_EQ(nghttp2_session_client_new(&client, callbacks, &seen), 0);
  const auto reply = bad_preface_reply();
  const auto read = nghttp2_session_mem_recv(
      client, reinterpret_cast<const std::uint8_t*>(reply.data()), reply.size());
  EXPECT_EQ(read, static_cast<ssize_t>(reply.size()));
  EXPECT_EQ(seen.types, (std::vector<std::uint8_t>{NGHTTP2_SETTINGS, NGHTTP2_GOAWAY}));
  EXPECT_EQ(seen.error, static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(seen.last_stream, 0);
  EXPECT_EQ(seen.debug, "invalid connection preface");
  nghttp2_session_del(client);
  nghttp2_session_callbacks_del(callbacks);
}

}  // namespace
}  // namespace weft::proxy::http::http2
