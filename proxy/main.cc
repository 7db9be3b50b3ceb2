// mesh-proxy: the Weft sidecar. Standalone: `mesh-proxy --config FILE.yaml`;
// in a mesh: `mesh-proxy --controlplane HOST:PORT --node POD [--namespace NS]`.
#include <spdlog/sinks/stdout_sinks.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/log.h"
#include "common/pod_network.h"
#include "mesh/v1/config.pb.h"
#include "proxy/cli/arguments.h"
#include "proxy/config/config_file.h"
#include "proxy/config/snapshot.h"
#include "proxy/discovery/client.h"
#include "proxy/server/server.h"

namespace {

// The configuration file, parsed strictly (in a child process, see
// config_file.h) and translated; errors name the file.
weft::Result<std::shared_ptr<const weft::proxy::config::Snapshot>> load_snapshot(
    const std::string& path) {
  auto config = weft::proxy::config::read_config_file(path);
  if (!config) return tl::unexpected(config.error());
  auto snapshot = weft::proxy::config::translate(*config);
  if (!snapshot) return tl::unexpected(weft::with_context(snapshot.error(), path));
  return snapshot;
}

// `--wait-ready`: the postStart hook of a classic sidecar. The kubelet starts
// the pod's next container only when this returns, so the application
// starts once the proxy has its configuration. Exit 0 when ready, 1 on time out.
int wait_ready(std::uint16_t port, std::chrono::seconds timeout) {
  namespace asio = boost::asio;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string request = "GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  while (std::chrono::steady_clock::now() < deadline) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({asio::ip::make_address_v4("127.0.0.1"), port}, ec);
    std::string answer(32, '\0');
    if (!ec) asio::write(socket, asio::buffer(request), ec);
    std::size_t read = 0;
    if (!ec) read = asio::read(socket, asio::buffer(answer), asio::transfer_at_least(12), ec);
    if (read >= 12 && answer.compare(9, 3, "200") == 0) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cerr << "mesh-proxy: not ready on 127.0.0.1:" << port << " after " << timeout.count()
            << " s\n";
  return 1;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// Streams configuration from the control plane: the first valid one starts
// the server, later ones replace it; an invalid one is NACKed.
int run_with_controlplane(weft::proxy::server::Server& server, const std::string& address,
                          mesh::v1::Node node, const weft::proxy::cli::Arguments& args) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "mesh-proxy: --controlplane wants HOST:PORT, got '" << address << "'\n";
    return 2;
  }
  weft::proxy::discovery::ClientOptions options;
  options.host = address.substr(0, colon);
  options.port = address.substr(colon + 1);
  options.node = std::move(node);
  options.idle_ping = std::chrono::seconds(args.controlplane_keepalive_seconds);
  options.token_optional = args.token_file.empty();
  options.token_file =
      options.token_optional ? std::string(weft::proxy::cli::kDefaultTokenFile) : args.token_file;
  auto apply = [&server](const mesh::v1::ProxyConfig& config) -> weft::Result<void> {
    auto snapshot = weft::proxy::config::translate(config);
    if (!snapshot) return tl::unexpected(snapshot.error());
    if (!server.started()) return server.start(*snapshot);
    return server.apply(*snapshot);
  };
  weft::proxy::discovery::Client client(server.io(), options, apply, server.metrics());
  std::unique_ptr<weft::proxy::identity::Identity> identity;
  if (!args.ca_address.empty()) {
    auto ca_colon = args.ca_address.rfind(':');
    if (ca_colon == std::string::npos) {
      std::cerr << "mesh-proxy: --ca-address wants HOST:PORT, got '" << args.ca_address << "'\n";
      return 2;
    }
    weft::proxy::identity::SignerOptions signer;
    signer.host = args.ca_address.substr(0, ca_colon);
    signer.port = args.ca_address.substr(ca_colon + 1);
    signer.server_name = args.ca_name;
    signer.root_file = args.ca_root;
    signer.pod = options.node.name();
    signer.ns = options.node.namespace_();
    signer.token_file = options.token_file;
    signer.token_optional = options.token_optional;
    signer.ttl = std::chrono::seconds(args.cert_ttl_seconds);
    identity = std::make_unique<weft::proxy::identity::Identity>(
        server.io(), std::move(signer), std::chrono::seconds(args.identity_ready_timeout_seconds),
        server.metrics().registry());
    server.set_identity(identity.get());
    identity->start();
  }
  client.start();
  return server.run();
}

}  // namespace

#if defined(WEFT_MIMALLOC)
#include <mimalloc.h>
#endif

int main(int argc, char** argv) {
#if defined(WEFT_MIMALLOC)
  // Memory freed is returned to the kernel at once rather than 25 ms later,
  // so a stream's buffers do not stay resident after it (about one madvise
  // per 150 requests under load; see docs/benchmarks.md). A user's
  // MIMALLOC_DECOMMIT_DELAY still wins.
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr) mi_option_set(mi_option_decommit_delay, 0);
#endif
  const std::size_t flag_count = argc > 1 ? static_cast<std::size_t>(argc - 1) : 0;
  auto parsed = weft::proxy::cli::parse_arguments({argv + 1, flag_count});
  if (!parsed) {
    std::cerr << "mesh-proxy: " << parsed.error().message << "\n";
    return 2;
  }
  const auto& args = *parsed;
  if (args.help) {
    std::cout << weft::proxy::cli::usage();
    return 0;
  }
  if (!args.compile_config_path.empty()) {
    return weft::proxy::config::compile_config_main(args.compile_config_path);
  }
  if (args.wait_ready) {
    return wait_ready(args.wait_ready_port, std::chrono::seconds(args.wait_ready_timeout_seconds));
  }
  const auto& config_path = args.config_path;
  const auto& controlplane = args.controlplane;

  auto log_options = weft::log::resolve_options(args.log_level, args.log_format);
  if (!log_options) {
    std::cerr << "mesh-proxy: " << log_options.error().message << "\n";
    return 2;
  }
  weft::log::init(*log_options);
  if (config_path.empty() == controlplane.empty()) {
    std::cerr << "mesh-proxy: give --config FILE or --controlplane HOST:PORT\n";
    return 2;
  }

  weft::proxy::server::Options options;
  options.concurrency =
      args.concurrency > 0 ? args.concurrency : weft::proxy::server::default_concurrency();
  options.max_connections = args.max_connections;
  // JSON lines on stdout for every request, unless the configuration
  // (MeshConfig spec.accessLog) says otherwise.
  if (args.access_log) options.access_log = weft::proxy::layers::access_log::Settings{};
  options.tap = args.tap;
  if (!args.app_metrics.empty()) {
    options.app_metrics = *weft::proxy::server::parse_app_metrics_target(args.app_metrics);
  }

  if (!controlplane.empty()) {
    mesh::v1::Node node;
    node.set_name(args.node_name.empty() ? env_or("POD_NAME", env_or("HOSTNAME", ""))
                                         : args.node_name);
    node.set_namespace_(args.node_namespace.empty() ? env_or("POD_NAMESPACE", "default")
                                                    : args.node_namespace);
    node.set_proxy_version(WEFT_VERSION);
    if (node.name().empty()) {
      std::cerr << "mesh-proxy: --node (or POD_NAME) is required with --controlplane\n";
      return 2;
    }
    options.proxy_name = node.namespace_() + "/" + node.name();
    weft::proxy::server::Server server(options);
    return run_with_controlplane(server, controlplane, std::move(node), args);
  }

  auto snapshot = load_snapshot(config_path);
  if (!snapshot) {
    std::cerr << "mesh-proxy: " << snapshot.error().message << "\n";
    return 1;
  }
  if (args.check_only) {
    std::cout << config_path << ": ok\n";
    return 0;
  }

  options.load = [config_path] { return load_snapshot(config_path); };
  weft::proxy::server::Server server(options);
  if (auto started = server.start(*snapshot); !started) {
    std::cerr << "mesh-proxy: " << started.error().message << "\n";
    return 1;
  }
  return server.run();
}
