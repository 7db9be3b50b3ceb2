// mesh-proxy: the Weft sidecar. Standalone: `mesh-proxy --config FILE.yaml`.
#include <spdlog/sinks/stdout_sinks.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/log.h"
#include "common/yaml_proto.h"
#include "mesh/v1/config.pb.h"
#include "proxy/config/snapshot.h"
#include "proxy/server/server.h"

namespace {

// The configuration file, parsed strictly and translated; errors name the file.
weft::Result<std::shared_ptr<const weft::proxy::config::Snapshot>> load_snapshot(
    const std::string& path) {
  mesh::v1::ProxyConfig config;
  if (auto loaded = weft::yaml::load_message(path, config); !loaded) {
    return tl::unexpected(loaded.error());
  }
  auto snapshot = weft::proxy::config::translate(config);
  if (!snapshot) return tl::unexpected(weft::with_context(snapshot.error(), path));
  return snapshot;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mesh-proxy: the Weft sidecar proxy"};
  std::string config_path, log_level, log_format;
  std::size_t concurrency = 0;
  bool access_log = false;
  bool check_only = false;
  app.add_option("--config", config_path, "Static configuration (mesh.v1.ProxyConfig as YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--concurrency", concurrency,
                 "Worker threads (default: the CPU limit, else the number of cores)");
  app.add_option("--log-level", log_level, "trace|debug|info|warning|error (env WEFT_LOG_LEVEL)");
  app.add_option("--log-format", log_format, "text|json (env WEFT_LOG_FORMAT)");
  app.add_flag("--access-log", access_log, "Write one JSON line per request to stdout");
  app.add_flag("--check", check_only, "Validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  auto log_options = weft::log::resolve_options(log_level, log_format);
  if (!log_options) {
    std::cerr << "mesh-proxy: " << log_options.error().message << "\n";
    return 2;
  }
  weft::log::init(*log_options);

  auto snapshot = load_snapshot(config_path);
  if (!snapshot) {
    std::cerr << "mesh-proxy: " << snapshot.error().message << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": ok\n";
    return 0;
  }

  weft::proxy::server::Options options;
  options.load = [config_path] { return load_snapshot(config_path); };
  options.concurrency = concurrency > 0 ? concurrency : weft::proxy::server::default_concurrency();
  std::shared_ptr<spdlog::logger> access_logger;
  if (access_log) {
    access_logger = spdlog::stdout_logger_mt("access");
    access_logger->set_pattern("%v");
    access_logger->set_level(spdlog::level::info);
    options.access_log = access_logger.get();
  }
  weft::proxy::server::Server server(options, *snapshot);
  if (auto started = server.start(); !started) {
    std::cerr << "mesh-proxy: " << started.error().message << "\n";
    return 1;
  }
  return server.run();
}
