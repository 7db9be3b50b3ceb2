#include "controlplane/server/discovery.h"

#include <grpc/slice.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "controlplane/server/proxy_auth.h"

namespace weft::cp::server {
namespace {

using mesh::v1::DiscoveryRequest;

// A gRPC slice over the shared encoded payload, without a copy: the slice
// holds a reference that gRPC drops once the bytes are on the wire.
grpc::Slice shared_slice(const EncodedResponse& body) {
  auto* owner = new EncodedResponse(body);
  auto slice = grpc_slice_new_with_user_data(
      const_cast<char*>((*owner)->data()), (*owner)->size(),
      [](void* p) { delete static_cast<EncodedResponse*>(p); }, owner);
  return {slice, grpc::Slice::STEAL_REF};
}

bool parse(grpc::ByteBuffer& buffer, DiscoveryRequest& request) {
  request.Clear();
  grpc::ProtoBufferReader reader(&buffer);
  return request.ParseFromZeroCopyStream(&reader);
}

class Stream final : public grpc::ServerGenericBidiReactor, public Subscriber {
 public:
  Stream(Registry& registry, ProxyAuthenticator& authenticator, std::string peer, std::string token)
      : registry_(registry),
        authenticator_(authenticator),
        peer_(std::move(peer)),
        token_(std::move(token)),
        session_(SystemClock::now()) {
    StartRead(&incoming_);
  }

  void offer(const std::shared_ptr<ConfigCache>& cache, Clock::time_point seen) override {
    std::unique_lock lock(mutex_);
    session_.update(cache, seen);
    write_next(lock);
  }

  SessionStatus status() const override {
    std::lock_guard lock(mutex_);
    return session_.status();
  }

  ConfigPtr desired() const override {
    std::lock_guard lock(mutex_);
    return session_.desired();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the proxy closed its side
      Finish(grpc::Status::OK);
      return;
    }
    if (!parse(incoming_, request_)) {
      registry_.metrics().bad_replies.Increment();
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a mesh.v1.DiscoveryRequest"));
      return;
    }
    incoming_.Clear();
    std::unique_lock lock(mutex_);
    if (!session_.introduced()) {
      auto hello = session_.hello(request_);
      if (!hello) {
        registry_.metrics().bad_replies.Increment();
        lock.unlock();
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, hello.error().message));
        return;
      }
      auto claimed = session_.identity();
      lock.unlock();
      // Nothing more is read until the name is proven: the stream is served
      // (and registered) only then.
      authenticator_.verify(std::move(token_), peer_, std::move(claimed),
                            [this](const AuthDecision& decision) { admit(decision); });
      return;
    }
    handle_reply();
    StartRead(&incoming_);
    write_next(lock);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mutex_);
    writing_ = false;
    outgoing_.Clear();  // releases this stream's reference to the shared payload
    if (ok) write_next(lock);
  }

  void OnDone() override {
    if (registered_) registry_.remove(this);
    spdlog::info("proxy {}/{} disconnected", session_.status().ns, session_.status().name);
    delete this;
  }

 private:
  // The authenticator's answer to the stream's first request.
  void admit(const AuthDecision& decision) {
    registry_.metrics().proxy_auth(decision.verdict).Increment();
    const auto& status = session_.status();
    if (decision.verdict != Verdict::kAccepted) {
      spdlog::warn("proxy {}/{} from {} refused: {}", status.ns, status.name, peer_,
                   decision.message);
      Finish(grpc::Status(refusal_code(decision.verdict), decision.message));
      return;
    }
    spdlog::info("proxy {}/{} connected from {}", status.ns, status.name, peer_);
    registry_.add(this);  // offers the current mesh (registry lock first)
    registered_ = true;
    StartRead(&incoming_);
    std::unique_lock lock(mutex_);
    write_next(lock);
  }

  static grpc::StatusCode refusal_code(Verdict verdict) {
    switch (verdict) {
      case Verdict::kPermissionDenied:
        return grpc::StatusCode::PERMISSION_DENIED;
      case Verdict::kUnavailable:
        return grpc::StatusCode::UNAVAILABLE;
      default:
        return grpc::StatusCode::UNAUTHENTICATED;
    }
  }

  void handle_reply() {
    auto acked = session_.reply(request_, Clock::now());
    auto& metrics = registry_.metrics();
    if (!acked) {
      metrics.bad_replies.Increment();
      spdlog::warn("proxy {}/{}: {}", session_.status().ns, session_.status().name,
                   acked.error().message);
      return;
    }
    if (acked->nacked) {
      metrics.nacks.Increment();
      spdlog::warn("proxy {}/{} rejected version {}: {}", session_.status().ns,
                   session_.status().name, session_.status().last_nack_version,
                   session_.status().last_nack_error);
      return;
    }
    metrics.acks.Increment();
    if (acked->propagation) {
      metrics.propagation.Observe(std::chrono::duration<double>(*acked->propagation).count());
    }
  }

  // Starts the next write if none is in flight. Called with the lock held;
  // gRPC may run OnWriteDone on another thread at once, which waits.
  void write_next(std::unique_lock<std::mutex>& lock) {
    if (writing_) return;
    auto next = session_.next();
    if (!next) return;
    grpc::Slice parts[] = {shared_slice(next->body), grpc::Slice(next->nonce_field())};
    outgoing_ = grpc::ByteBuffer(parts, 2);
    writing_ = true;
    registry_.metrics().pushes.Increment();
    lock.unlock();
    StartWrite(&outgoing_);
    lock.lock();
  }

  Registry& registry_;
  ProxyAuthenticator& authenticator_;
  std::string peer_;
  std::string token_;  // from the authorization header; given up once checked
  mutable std::mutex mutex_;
  ProxySession session_;
  grpc::ByteBuffer incoming_;
  DiscoveryRequest request_;
  grpc::ByteBuffer outgoing_;
  bool writing_ = false;
  bool registered_ = false;
};

}  // namespace

grpc::ServerGenericBidiReactor* DiscoveryService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  if (context->method() != kStreamConfigMethod) {
    return grpc::CallbackGenericService::CreateReactor(context);
  }
  std::string token;
  const auto& metadata = context->client_metadata();
  if (auto found = metadata.find("authorization"); found != metadata.end()) {
    token = bearer_token({found->second.data(), found->second.size()});
  }
  return new Stream(registry_, authenticator_, context->peer(), std::move(token));
}

}  // namespace weft::cp::server
