// mesh-injector: the admission webhook that adds the sidecar to new Pods in
// namespaces labelled mesh.weft.io/inject=enabled (deploy/webhook/).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/endpoint.h"
#include "common/log.h"
#include "injector/webhook/server.h"
#include "injector/webhook/sidecar_support.h"

int main(int argc, char** argv) {
  CLI::App app{"mesh-injector: the Weft sidecar injection webhook"};
  weft::injector::webhook::ServerOptions options;
  std::string address = "0.0.0.0:15017", native = "auto", kubeconfig, log_level, log_format;
  app.add_option("--cert,--tls-cert-file", options.cert_file,
                 "Serving certificate chain (PEM), re-read on change")
      ->required();
  app.add_option("--key,--tls-private-key-file", options.key_file, "Its private key (PEM)")
      ->required();
  std::uint16_t port = 0;
  app.add_option("--address", address, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--port", port, "Port to listen on (all addresses), instead of --address");
  app.add_option("--native-sidecars", native,
                 "auto (ask the API server: 1.29+), true, or false (a regular container)")
      ->check(CLI::IsMember({"auto", "true", "false"}))
      ->capture_default_str();
  app.add_option("--kubeconfig", kubeconfig, "For --native-sidecars=auto outside a cluster");
  app.add_option("--proxy-image", options.settings.proxy_image)->capture_default_str();
  app.add_option("--init-image", options.settings.init_image)->capture_default_str();
  app.add_option("--controlplane", options.settings.controlplane,
                 "Discovery address the injected proxies dial")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warning|error (env WEFT_LOG_LEVEL)");
  app.add_option("--log-format", log_format, "text|json (env WEFT_LOG_FORMAT)");
  CLI11_PARSE(app, argc, argv);

  auto log_options = weft::log::resolve_options(log_level, log_format);
  if (!log_options) {
    std::cerr << "mesh-injector: " << log_options.error().message << "\n";
    return 2;
  }
  weft::log::init(*log_options);
  if (port != 0) address = "0.0.0.0:" + std::to_string(port);
  auto endpoint = weft::parse_endpoint(address);
  if (!endpoint) {
    std::cerr << "mesh-injector: --address: " << endpoint.error().message << "\n";
    return 2;
  }
  options.address = *endpoint;
  options.settings.native_sidecars =
      native == "auto" ? weft::injector::webhook::cluster_has_native_sidecars(kubeconfig)
                       : native == "true";

  // The Secret holding the certificate is created by the control plane and
  // may not be there yet when this container starts: wait for it (not ready
  // meanwhile) rather than restart in a loop.
  bool said = false;
  while (!std::filesystem::exists(options.cert_file) ||
         !std::filesystem::exists(options.key_file)) {
    if (!said) spdlog::info("waiting for {} and {}", options.cert_file, options.key_file);
    said = true;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  boost::asio::io_context io;
  auto server = weft::injector::webhook::Server::create(io, options);
  if (!server) {
    std::cerr << "mesh-injector: " << server.error().message << "\n";
    return 1;
  }
  (*server)->start();
  auto bound = (*server)->local_endpoint();
  spdlog::info("mesh-injector on {}:{} ({} sidecars)", bound.address().to_string(), bound.port(),
               options.settings.native_sidecars ? "native" : "classic");
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  io.run();
  return 0;
}
