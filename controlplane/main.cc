// mesh-controlplane: sources -> store -> translate -> one gRPC stream per
// proxy. `mesh-controlplane --manifests DIR` is the directory mode behind
// `meshctl up`, `make demo` and most tests.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "common/duration.h"
#include "common/log.h"
#include "controlplane/server/discovery.h"
#include "controlplane/sources/watch.h"
#include "controlplane/status/status.h"

namespace {

using namespace weft::cp;  // NOLINT(google-build-using-namespace): one file's wiring

weft::Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  boost::system::error_code ec;
  auto host = colon == std::string::npos ? std::string() : text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  auto address = boost::asio::ip::make_address(host, ec);
  unsigned long port = 0;
  try {
    port = colon == std::string::npos ? 0 : std::stoul(text.substr(colon + 1));
  } catch (const std::exception&) {
    ec = boost::asio::error::invalid_argument;
  }
  if (ec || port > 65535) {
    return weft::fail(weft::ErrorCode::kInvalidArgument, "'{}' is not IP:PORT", text);
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

long millis(server::Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Reloads the sources, recompiles the mesh and offers it to every proxy.
class Pipeline {
 public:
  Pipeline(sources::DirectorySource& source, server::Registry& registry,
           status::StatusService& status)
      : source_(source), registry_(registry), status_(status) {}

  void reload(server::Clock::time_point seen) {
    std::lock_guard lock(mutex_);
    auto started = server::Clock::now();
    auto snapshot = source_.load();
    auto loaded = server::Clock::now();
    for (const auto& e : snapshot.errors) {
      spdlog::warn("manifest {}{}: {}", e.file, e.object.empty() ? "" : " (" + e.object + ")",
                   e.message);
    }
    auto mesh = translate::compile(*snapshot.store);
    auto compiled = server::Clock::now();
    for (const auto& c : mesh->conditions) {
      if (!c.ok) spdlog::warn("{} {}=False {}: {}", c.object, c.type, c.reason, c.message);
    }
    status::SourceState state{snapshot.store->size(), snapshot.errors, snapshot.ignored,
                              mesh->conditions,       ++generation_,   snapshot.store};
    registry_.set_mesh(std::move(mesh), seen);
    status_.set_source(std::move(state));
    auto offered = server::Clock::now();
    spdlog::info(
        "manifests loaded: {} objects, {} errors (load {}: read {} ms, compile {} ms, offer {} ms)",
        snapshot.store->size(), snapshot.errors.size(), generation_, millis(loaded - started),
        millis(compiled - loaded), millis(offered - compiled));
  }

 private:
  std::mutex mutex_;
  sources::DirectorySource& source_;
  server::Registry& registry_;
  status::StatusService& status_;
  std::uint64_t generation_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mesh-controlplane: serves each mesh-proxy its configuration"};
  std::vector<std::string> manifests;
  std::string grpc_address = "0.0.0.0:15010", status_address = "0.0.0.0:15014";
  std::string debounce_text = "100ms", log_level, log_format;
  app.add_option("--manifests", manifests,
                 "Directory (or file) of Kubernetes-style YAML manifests; repeatable")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("--grpc-address", grpc_address, "Discovery gRPC listen address")
      ->capture_default_str();
  app.add_option("--status-address", status_address, "Status HTTP listen address")
      ->capture_default_str();
  app.add_option("--debounce", debounce_text, "Quiet time before a change is pushed")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warning|error (env WEFT_LOG_LEVEL)");
  app.add_option("--log-format", log_format, "text|json (env WEFT_LOG_FORMAT)");
  CLI11_PARSE(app, argc, argv);

  auto log_options = weft::log::resolve_options(log_level, log_format);
  auto debounce = weft::parse_duration(debounce_text);
  auto status_endpoint = parse_endpoint(status_address);
  if (!log_options || !debounce || !status_endpoint) {
    std::cerr << "mesh-controlplane: "
              << (!log_options       ? log_options.error().message
                  : !status_endpoint ? status_endpoint.error().message
                                     : "--debounce: not a duration")
              << "\n";
    return 2;
  }
  weft::log::init(*log_options);

  prometheus::Registry metrics_registry;
  server::Metrics metrics(metrics_registry);
  server::Registry registry(metrics);
  status::StatusService status(registry, metrics_registry);
  sources::DirectorySource source({manifests.begin(), manifests.end()});
  Pipeline pipeline(source, registry, status);
  pipeline.reload(server::Clock::now());

  auto watch = sources::DirectoryWatch::start(
      {manifests.begin(), manifests.end()},
      std::chrono::duration_cast<std::chrono::milliseconds>(*debounce),
      [&pipeline] { pipeline.reload(server::Clock::now()); });
  if (!watch) {
    std::cerr << "mesh-controlplane: " << watch.error().message << "\n";
    return 1;
  }

  server::DiscoveryService discovery(registry);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(grpc_address, grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterCallbackGenericService(&discovery);
  auto grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0) {
    std::cerr << "mesh-controlplane: cannot listen on " << grpc_address << "\n";
    return 1;
  }

  boost::asio::io_context io;
  auto bound = weft::admin::serve(
      io, *status_endpoint, [&status](const weft::admin::Request& r) { return status.handle(r); });
  if (!bound) {
    std::cerr << "mesh-controlplane: " << bound.error().message << "\n";
    return 1;
  }
  spdlog::info("discovery gRPC on port {}, status on {}", grpc_port, bound->port());

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down", signal);
    io.stop();
  });
  io.run();
  // Streams end with CANCELLED; proxies keep their configuration and
  // reconnect to whichever control plane comes back.
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  watch->reset();
  return 0;
}
