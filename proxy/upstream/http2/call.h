// One request sent to a cluster over its pooled HTTP/2 connections, up to
// the answer's head: the part of an attempt that every downstream codec's
// HTTP/2 path shares (endpoint choice, stream slot, refused streams sent
// again, the head's deadline, the retry layer's look at the answer). The
// codec then relays the head and body its own way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "proxy/http/body_pipe.h"
#include "proxy/http/message.h"
#include "proxy/layers/retry.h"
#include "proxy/layers/timeout.h"
#include "proxy/upstream/clusters.h"
#include "proxy/upstream/http2/connection.h"
#include "proxy/upstream/http2/pool.h"

namespace weft::proxy::upstream::http2 {

// Where a request body comes from when nothing else moves it into the
// request pipe: an HTTP/1.1 client's body is read from its socket while
// the first send waits for the answer (a server may answer before the
// upload ends). An HTTP/2 stream's body arrives by itself.
class BodySource {
 public:
  virtual boost::asio::awaitable<void> pump(http::BodyPipe& body) = 0;

 protected:
  ~BodySource() = default;
};

struct Request {
  const http::RequestHead& head;
  const std::shared_ptr<http::BodyPipe>& body;  // null: none
  bool grpc = false;                            // a gRPC call (for the retry layer)
  BodySource* source = nullptr;                 // pumps `body` on the first send
  std::size_t response_pipe_bytes = 0;          // the response body pipe's bound
  std::string* upstream = nullptr;              // set to each try's "address:port"
  std::optional<std::uint64_t> hash;            // consistent hashing's key, when it has one
  // Set to each try's endpoint's workload (null: not meshed).
  const metrics::Workload** destination = nullptr;
};

// What the call came to.
struct Answer {
  // Set when the attempt is over without a head to relay: a failure, or an
  // answer the retry layer held back for another try.
  std::optional<layers::retry::AttemptEnd> ended;
  std::optional<Lease> lease;            // the stream's connection: cancel if the relay stops
  Response response;                     // head, end_stream, stream id
  std::shared_ptr<http::BodyPipe> body;  // the response body (unused when end_stream)
  layers::timeout::Limit limit;          // the attempt's deadline, for the rest of the response
  lb::Lease endpoint;                    // in flight on its endpoint until the relay ends
};

// Sends `request` to the endpoint the cluster's balancer picks and waits for
// the answer's head within the attempt's limit and the stream's idle
// timeout. A refused stream never reached the application: it is sent again
// at once (up to three sends), while the whole body is still in the pipe,
// whatever the retry policy. An answer another try may replace goes to
// `tries` (Tries::hold_answer); an answer that stands ends the body's replay.
boost::asio::awaitable<Answer> call(ClusterState& cluster, const Request& request,
                                    const layers::timeout::Deadlines& deadlines,
                                    layers::retry::Tries& tries);

}  // namespace weft::proxy::upstream::http2
