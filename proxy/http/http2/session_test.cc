// A server Session and a client Session wired back to back in memory: what
// one outputs the other receives, no sockets.
#include "proxy/http/http2/session.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>

namespace weft::proxy::http::http2 {
namespace {

constexpr std::uint32_t kCancel = 8;

// Raw frames, for input nghttp2's own client would never produce.
std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  std::string out;
  auto length = payload.size();
  out += static_cast<char>(length >> 16);
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  out += static_cast<char>(stream >> 24);
  out += static_cast<char>(stream >> 16);
  out += static_cast<char>(stream >> 8);
  out += static_cast<char>(stream);
  out += payload;
  return out;
}

// An HPACK header block of literal fields without indexing (RFC 7541
// §6.2.2), names and values shorter than 127 bytes.
std::string header_block(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    out += '\0';
    out += static_cast<char>(name.size());
    out += name;
    out += static_cast<char>(value.size());
    out += value;
  }
  return out;
}

constexpr std::uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4;
constexpr std::uint8_t kEndStream = 1, kEndHeaders = 4;

std::string client_start() {
  return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(kSettings, 0, 0, "");
}

std::string raw_request(std::uint32_t stream,
                        std::vector<std::pair<std::string, std::string>> extra, bool end_stream) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", "POST"}, {":scheme", "http"}, {":authority", "svc"}, {":path", "/"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return frame(kHeaders, kEndHeaders | (end_stream ? kEndStream : 0), stream, header_block(fields));
}

// Records events; the server side gives every request body a pipe.
class Recorder final : public SessionEvents {
 public:
  explicit Recorder(boost::asio::io_context& io) : io_(io) {}

  void on_request(std::int32_t stream, RequestHead head, bool end_stream) override {
    requests[stream] = std::move(head);
    if (!end_stream) {
      bodies[stream] = std::make_shared<BodyPipe>(io_.get_executor(), 1 << 20);
      session->set_inbound(stream, bodies[stream]);
    }
  }
  void on_response(std::int32_t stream, ResponseHead head, bool) override {
    responses[stream] = std::move(head);
  }
  void on_closed(std::int32_t stream, std::uint32_t error_code) override {
    closed[stream] = error_code;
  }
  void on_stream_rejected(std::string_view reason) override { rejected.emplace_back(reason); }

  Session* session = nullptr;
  std::map<std::int32_t, RequestHead> requests;
  std::map<std::int32_t, ResponseHead> responses;
  std::map<std::int32_t, std::shared_ptr<BodyPipe>> bodies;
  std::map<std::int32_t, std::uint32_t> closed;
  std::vector<std::string> rejected;

 private:
  boost::asio::io_context& io_;
};

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : SessionTest(SessionLimits{}) {}
  explicit SessionTest(const SessionLimits& server_limits)
      : server_events_(io_),
        client_events_(io_),
        server_(Session::Role::kServer, server_limits, server_events_),
        client_(Session::Role::kClient, SessionLimits{}, client_events_) {
    server_events_.session = &server_;
    client_events_.session = &client_;
  }

  // Moves bytes both ways until neither side has anything to say. The
  // client's bytes go through `client_bytes` when set (raw frames).
  bool exchange() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (auto out = client_.output(); !out.empty(); out = client_.output()) {
        moved = true;
        if (!server_.receive(std::string(out))) return false;
      }
      for (auto out = server_.output(); !out.empty(); out = server_.output()) {
        moved = true;
        client_.receive(std::string(out));
      }
      if (!moved) return true;
    }
    return true;
  }

  std::shared_ptr<BodyPipe> pipe() {
    return std::make_shared<BodyPipe>(io_.get_executor(), 1 << 20);
  }

  static std::string drain(BodyPipe& body) {
    std::string out(body.available(), '\0');
    out.resize(body.read(out.data(), out.size()));
    return out;
  }

  boost::asio::io_context io_;
  Recorder server_events_, client_events_;
  Session server_, client_;
};

TEST_F(SessionTest, RequestAndResponseWithBodiesAndTrailers) {
  RequestHead head{"POST", "http", "svc", "/echo?x=1", {}};
  head.fields.add("content-type", "application/grpc");
  head.fields.add("te", "trailers");
  auto request_body = pipe();
  request_body->push("hello ");
  request_body->push("world");
  FieldList request_trailers;
  request_trailers.add("x-checksum", "42");
  request_body->finish(request_trailers);
  auto id = client_.submit_request(head, request_body);
  ASSERT_GT(id, 0);
  auto response_body = pipe();
  client_.set_inbound(id, response_body);
  ASSERT_TRUE(exchange());

  ASSERT_EQ(server_events_.requests.count(id), 1U);
  const auto& got = server_events_.requests[id];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.authority, "svc");
  EXPECT_EQ(got.path, "/echo?x=1");
  EXPECT_EQ(got.fields.get("content-type"), "application/grpc");
  auto& body = *server_events_.bodies[id];
  EXPECT_EQ(drain(body), "hello world");
  EXPECT_TRUE(body.at_end());
  EXPECT_EQ(body.trailers().get("x-checksum"), "42");

  ResponseHead response;
  response.fields.add("content-type", "application/grpc");
  auto out = pipe();
  out->push("reply");
  FieldList trailers;
  trailers.add("grpc-status", "0");
  out->finish(trailers);
  ASSERT_TRUE(server_.submit_response(id, response, out));
  ASSERT_TRUE(exchange());
  EXPECT_EQ(client_events_.responses[id].status, 200U);
  EXPECT_EQ(drain(*response_body), "reply");
  EXPECT_TRUE(response_body->at_end());
  EXPECT_EQ(response_body->trailers().get("grpc-status"), "0");
  EXPECT_EQ(client_events_.closed[id], 0U);
  EXPECT_EQ(server_events_.closed[id], 0U);
}

struct InvalidRequestCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;  // sent as one DATA frame ending the stream
  const char* reason;
};

class InvalidRequestTest : public SessionTest,
                           public ::testing::WithParamInterface<InvalidRequestCase> {};

TEST_P(InvalidRequestTest, IsAStreamErrorNeverARequest) {
  const auto& c = GetParam();
  auto input = client_start() + raw_request(1, c.fields, c.body.empty());
  if (!c.body.empty()) input += frame(kData, kEndStream, 1, c.body);
  ASSERT_TRUE(server_.receive(input));
  while (!server_.output().empty()) {
  }
  EXPECT_EQ(server_events_.rejected, std::vector<std::string>{c.reason});
  if (c.body.empty()) {
    EXPECT_EQ(server_events_.requests.count(1), 0U);
    return;
  }
  // A body error is found after the head was accepted: the body fails.
  ASSERT_EQ(server_events_.bodies.count(1), 1U);
  EXPECT_EQ(server_events_.bodies[1]->state(), BodyPipe::State::kFailed);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9113, InvalidRequestTest,
    ::testing::Values(
        InvalidRequestCase{"uppercase_name", {{"X-Upper", "1"}}, "", "invalid_header"},
        InvalidRequestCase{"connection", {{"connection", "keep-alive"}}, "", "invalid_header"},
        InvalidRequestCase{
            "transfer_encoding", {{"transfer-encoding", "chunked"}}, "", "invalid_header"},
        InvalidRequestCase{"upgrade", {{"upgrade", "websocket"}}, "", "invalid_header"},
        InvalidRequestCase{"te_not_trailers", {{"te", "gzip"}}, "", "invalid_header"},
        InvalidRequestCase{"newline_in_value", {{"x-a", "1\r\nx-b: 2"}}, "", "invalid_header"},
        InvalidRequestCase{"nul_in_value",
                           {{"x-a", std::string("1\0"
                                                "2",
                                                3)}},
                           "",
                           "invalid_header"},
        InvalidRequestCase{
            "pseudo_after_regular", {{"x-a", "1"}, {":path", "/b"}}, "", "invalid_header"},
        InvalidRequestCase{
            "content_length_short", {{"content-length", "3"}}, "too long", "invalid_message"}),
    [](const auto& test_case) { return std::string(test_case.param.name); });

TEST_F(SessionTest, WindowReopensOnlyAsTheConsumerReads) {
  RequestHead head{"POST", "http", "svc", "/", {}};
  auto body = pipe();
  body->push(std::string(std::size_t{600} * 1024, 'x'));
  body->finish();
  auto id = client_.submit_request(head, body);
  ASSERT_TRUE(exchange());
  auto& received = *server_events_.bodies[id];
  // The default stream window is 256 KiB: that much and no more.
  EXPECT_EQ(received.available(), SessionLimits{}.stream_window);
  std::string sink(received.available(), '\0');
  received.read(sink.data(), sink.size());
  ASSERT_TRUE(exchange());
  EXPECT_EQ(received.available(), SessionLimits{}.stream_window);
  received.read(sink.data(), sink.size());
  ASSERT_TRUE(exchange());
  EXPECT_EQ(received.available(),
            std::size_t{600} * 1024 - std::size_t{2} * SessionLimits{}.stream_window);
  EXPECT_TRUE(received.state() == BodyPipe::State::kFinished);
}

TEST_F(SessionTest, ClientResetFailsTheRequestBody) {
  RequestHead head{"POST", "http", "svc", "/", {}};
  auto body = pipe();
  body->push("partial");
  auto id = client_.submit_request(head, body);
  ASSERT_TRUE(exchange());
  client_.reset(id, kCancel);
  ASSERT_TRUE(exchange());
  EXPECT_EQ(server_events_.closed[id], kCancel);
  EXPECT_EQ(server_events_.bodies[id]->state(), BodyPipe::State::kFailed);
  EXPECT_EQ(server_events_.bodies[id]->error_code(), kCancel);
}

TEST_F(SessionTest, ResponsePipeFailureResetsTheStream) {
  RequestHead head{"GET", "http", "svc", "/", {}};
  auto id = client_.submit_request(head, nullptr);
  ASSERT_TRUE(exchange());
  auto out = pipe();
  out->push("half");
  ASSERT_TRUE(server_.submit_response(id, ResponseHead{}, out));
  ASSERT_TRUE(exchange());
  out->fail(kCancel);
  ASSERT_TRUE(exchange());
  EXPECT_EQ(client_events_.closed[id], kCancel);
}

TEST_F(SessionTest, RapidResetEndsTheConnection) {
  std::string input = client_start();
  for (std::uint32_t id = 1; id < 1000; id += 2) {
    input += raw_request(id, {}, true);
    input += frame(kRstStream, 0, id, std::string("\0\0\0\x08", 4));  // CANCEL
  }
  EXPECT_FALSE(server_.receive(input));
  EXPECT_EQ(server_.error(), SessionError::kRapidReset);
  while (!server_.output().empty()) {  // the GOAWAY
  }
  EXPECT_FALSE(server_.wants_read());
}

TEST_F(SessionTest, ResetsAfterTheResponseStartedAreNotRapidResets) {
  ASSERT_TRUE(server_.receive(client_start()));
  for (std::uint32_t id = 1; id < 1000; id += 2) {
    ASSERT_TRUE(server_.receive(raw_request(id, {}, true)));
    ASSERT_TRUE(server_.submit_response(static_cast<std::int32_t>(id), ResponseHead{}, pipe()));
    while (!server_.output().empty()) {
    }
    ASSERT_TRUE(server_.receive(frame(kRstStream, 0, id, std::string("\0\0\0\x08", 4))));
  }
  EXPECT_EQ(server_.error(), SessionError::kNone);
}

class SmallHeaderListTest : public SessionTest {
 protected:
  static SessionLimits limits() {
    SessionLimits l;
    l.max_header_list_bytes = 1024;
    return l;
  }
  SmallHeaderListTest() : SessionTest(limits()) {}
};

TEST_F(SmallHeaderListTest, OversizedHeaderListGets431) {
  RequestHead head{"GET", "http", "svc", "/", {}};
  head.fields.add("x-big", std::string(2000, 'a'));
  auto id = client_.submit_request(head, nullptr);
  ASSERT_TRUE(exchange());
  EXPECT_EQ(server_events_.requests.count(id), 0U);
  EXPECT_EQ(server_events_.rejected, std::vector<std::string>{"header_list_too_large"});
  EXPECT_EQ(client_events_.responses[id].status, 431U);
}

}  // namespace
}  // namespace weft::proxy::http::http2
