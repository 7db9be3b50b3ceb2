// weft-bench-proxies: N simulated proxies in one process, each one
// mesh.v1.Discovery stream that introduces itself and ACKs every response
// at once, as mesh-proxy does. It is the load generator of
// bench/controlplane/run.py, written on gRPC's C++ callback API so that the
// benchmark measures the control plane rather than its client: a Python
// grpc.aio client spends about 80 µs per message, which at 10,000 proxies
// is most of a second.
//
// Protocol on stdin/stdout, one line each:
//   (start)        -> "connected SECONDS" once every proxy ACKed its first
//                     response (or "failed N" after --connect-timeout)
//   "wait K SECS"  -> waits until every proxy ACKed K responses, or SECS;
//                     then one JSON object: {"updated": n, "errors": e,
//                     "acked_at": [...]}, the CLOCK_MONOTONIC seconds at
//                     which each proxy's K-th ACK was handed to gRPC.
//   "quit"
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mesh/v1/discovery.grpc.pb.h"

namespace {

namespace fs = std::filesystem;

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as Python's time.monotonic
using mesh::v1::DiscoveryRequest;
using mesh::v1::DiscoveryResponse;

// Counts ACKs across all streams so the main thread can wait on them.
class Progress {
 public:
  void acked(std::size_t count) {
    std::lock_guard lock(mutex_);
    if (count >= acks_at_.size()) acks_at_.resize(count + 1);
    ++acks_at_[count];
    changed_.notify_all();
  }
  void failed() {
    std::lock_guard lock(mutex_);
    ++errors_;
    changed_.notify_all();
  }
  // Waits until `proxies` streams have made their `count`-th ACK.
  bool wait(std::size_t count, std::size_t proxies, Clock::duration timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return reached(count) >= proxies; });
  }
  std::size_t reached(std::size_t count) const {
    return count < acks_at_.size() ? acks_at_[count] : 0;
  }
  std::size_t errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::size_t> acks_at_;  // [k]: streams that made their k-th ACK
  std::size_t errors_ = 0;
};

class SimulatedProxy final : public grpc::ClientBidiReactor<DiscoveryRequest, DiscoveryResponse> {
 public:
  // `token`: sent as the bearer token when not empty.
  SimulatedProxy(mesh::v1::Discovery::Stub& stub, std::string name, const std::string& token,
                 Progress& progress)
      : progress_(progress) {
    if (!token.empty()) context_.AddMetadata("authorization", "Bearer " + token);
    stub.async()->StreamConfig(&context_, this);
    request_.mutable_node()->set_name(std::move(name));
    request_.mutable_node()->set_namespace_("default");
    StartWrite(&request_);  // reading starts once this is written
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone reports how
    request_.Clear();
    request_.set_version(response_.version());
    request_.set_nonce(response_.nonce());
    StartWrite(&request_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;
    if (!request_.nonce().empty()) {  // an ACK, not the introduction
      // Recorded when gRPC has taken the ACK, as a proxy would have sent it.
      std::lock_guard lock(mutex_);
      acked_at_.push_back(Clock::now());
      progress_.acked(acked_at_.size());
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) progress_.failed();
    std::lock_guard lock(mutex_);
    done_ = true;
    done_changed_.notify_all();
  }

  // When the k-th ACK (from 1) was sent, if it was.
  std::optional<Clock::time_point> acked_at(std::size_t k) const {
    std::lock_guard lock(mutex_);
    if (k == 0 || k > acked_at_.size()) return std::nullopt;
    return acked_at_[k - 1];
  }

  void cancel_and_wait() {
    context_.TryCancel();
    std::unique_lock lock(mutex_);
    done_changed_.wait(lock, [this] { return done_; });
  }

 private:
  Progress& progress_;
  grpc::ClientContext context_;
  DiscoveryRequest request_;
  DiscoveryResponse response_;
  mutable std::mutex mutex_;
  std::condition_variable done_changed_;
  std::vector<Clock::time_point> acked_at_;
  bool done_ = false;
};

double seconds_since_boot(Clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void report(const std::vector<std::unique_ptr<SimulatedProxy>>& proxies, std::size_t k,
            const Progress& progress) {
  std::string times;
  std::size_t updated = 0;
  for (const auto& proxy : proxies) {
    auto at = proxy->acked_at(k);
    if (!at) continue;
    times += (updated++ == 0 ? "" : ",") + std::to_string(seconds_since_boot(*at));
  }
  std::cout << "{\"updated\": " << updated << ", \"errors\": " << progress.errors()
            << ", \"acked_at\": [" << times << "]}" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-bench-proxies: simulated proxies for the control-plane benchmark"};
  std::string target;
  std::size_t count = 1000, per_channel = 50;
  double connect_timeout = 300;
  app.add_option("--target", target, "Control plane discovery address HOST:PORT")->required();
  app.add_option("--proxies", count, "Streams to open, named pod-0 ... pod-N-1")
      ->capture_default_str();
  app.add_option("--streams-per-channel", per_channel, "Streams sharing one HTTP/2 connection")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout, "Seconds")->capture_default_str();
  std::string token_dir;
  app.add_option("--token-dir", token_dir,
                 "Directory of tokens, one file per Pod name (Kubernetes mode's TokenReview)");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::unique_ptr<mesh::v1::Discovery::Stub>> stubs;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, count / per_channel); ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per channel
    stubs.push_back(mesh::v1::Discovery::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args)));
  }
  Progress progress;
  std::vector<std::unique_ptr<SimulatedProxy>> proxies;
  auto started = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    auto name = "pod-" + std::to_string(i);
    std::string token;
    if (!token_dir.empty()) std::getline(std::ifstream(fs::path(token_dir) / name), token);
    proxies.push_back(
        std::make_unique<SimulatedProxy>(*stubs[i % stubs.size()], name, token, progress));
  }
  auto timeout = std::chrono::duration<double>(connect_timeout);
  if (!progress.wait(1, count, std::chrono::duration_cast<Clock::duration>(timeout))) {
    std::cout << "failed " << count - progress.reached(1) << std::endl;
  } else {
    std::cout << "connected " << std::chrono::duration<double>(Clock::now() - started).count()
              << std::endl;
  }

  std::string command;
  while (std::cin >> command && command == "wait") {
    std::size_t k = 0;
    double seconds = 0;
    std::cin >> k >> seconds;
    progress.wait(
        k, count,
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
    report(proxies, k, progress);
  }
  for (auto& proxy : proxies) proxy->cancel_and_wait();
  return 0;
}
