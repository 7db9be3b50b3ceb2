// One HTTP/2 session fed arbitrary frames from its peer, as a server (the
// first input byte's bit 0 clear: a downstream client's bytes, after the
// connection preface) or as a client (bit 0 set: an upstream server's
// answer to two requests the session sent). The second byte sets how many
// bytes each receive() gets, so frames split anywhere. Every request is
// answered and every body read, as a connection would, so the window and
// output paths run too. Properties: the session never holds more streams
// than it allows, and output always drains.
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <vector>

#include "fuzz/harness/fuzz.h"
#include "proxy/http/http2/session.h"

namespace http = weft::proxy::http;
namespace http2 = weft::proxy::http::http2;

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kPipeBytes = std::size_t{64} * 1024;

class Peer final : public http2::SessionEvents {
 public:
  explicit Peer(boost::asio::io_context& io) : io_(io) {}

  void on_request(std::int32_t stream, http::RequestHead /*head*/, bool end_stream) override {
    to_answer.push_back(stream);
    if (!end_stream) inbound(stream);
  }
  void on_response(std::int32_t stream, http::ResponseHead head, bool /*end_stream*/) override {
    FUZZ_EXPECT(head.status >= 200 && head.status <= 999);
    inbound(stream);
  }
  void on_closed(std::int32_t stream, std::uint32_t /*error_code*/) override {
    bodies.erase(stream);
  }
  void on_stream_rejected(std::string_view reason) override { FUZZ_EXPECT(!reason.empty()); }

  // What the connection does between reads: answer, consume bodies.
  void serve() {
    for (auto stream : to_answer) {
      auto body = pipe();
      body->push("ok");
      body->finish();
      session->submit_response(stream, http::ResponseHead{200, {}}, body);
    }
    to_answer.clear();
    char sink[4096];
    for (auto& [stream, body] : bodies) {
      while (body->read(sink, sizeof(sink)) > 0) {
      }
    }
  }

  std::shared_ptr<http::BodyPipe> pipe() {
    return std::make_shared<http::BodyPipe>(io_.get_executor(), kPipeBytes);
  }

  http2::Session* session = nullptr;
  std::vector<std::int32_t> to_answer;
  std::map<std::int32_t, std::shared_ptr<http::BodyPipe>> bodies;

 private:
  void inbound(std::int32_t stream) {
    bodies[stream] = pipe();
    session->set_inbound(stream, bodies[stream]);
  }

  boost::asio::io_context& io_;
};

void drain(http2::Session& session) {
  for (int i = 0; i < 10'000; ++i) {
    if (session.output().empty()) return;
  }
  FUZZ_EXPECT(!"output that never drains");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool client = (data[0] & 1) != 0;
  const std::size_t piece = data[1] == 0 ? size : data[1];
  auto input = weft::fuzz::bytes_of(data + 2, size - 2);

  boost::asio::io_context io;
  Peer peer(io);
  const http2::SessionLimits limits;
  http2::Session session(client ? http2::Session::Role::kClient : http2::Session::Role::kServer,
                         limits, peer);
  peer.session = &session;
  if (client) {
    http::RequestHead get{"GET", "http", "svc", "/", {}};
    FUZZ_EXPECT(session.submit_request(get, nullptr) > 0);
    auto body = peer.pipe();
    body->push("request body");
    body->finish();
    http::RequestHead post{"POST", "http", "svc", "/upload", {}};
    post.fields.add("content-type", "text/plain");
    FUZZ_EXPECT(session.submit_request(post, body) > 0);
  } else {
    FUZZ_EXPECT(session.receive(kPreface));
  }
  drain(session);
  while (!input.empty()) {
    auto bytes = input.substr(0, piece);
    input.remove_prefix(bytes.size());
    const bool more = session.receive(bytes);
    if (!more) FUZZ_EXPECT(session.error() != http2::SessionError::kNone || !session.wants_read());
    drain(session);
    if (!more) break;
    FUZZ_EXPECT(session.open_streams() <= limits.max_concurrent_streams + 2);
    peer.serve();
    drain(session);
    io.poll();
  }
  session.abandon();
  return 0;
}
