// mesh-proxy's command line. A small parser of its own: CLI11 kept about
// 140 KiB of its code resident in every sidecar for a dozen flags read once.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/pod_network.h"
#include "common/result.h"

namespace weft::proxy::cli {

// Twice the interval at which the control plane accepts a client's PINGs
// (mesh-controlplane's GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS
// is 1 s); more often and gRPC closes the connection ("too many pings").
inline constexpr unsigned kMinControlplaneKeepaliveSeconds = 2;

// Where the injector mounts the Pod's service-account token for audience
// mesh.weft.io.
inline constexpr std::string_view kDefaultTokenFile = "/var/run/secrets/mesh.weft.io/tokens/token";

struct Arguments {
  std::string config_path;   // --config FILE
  std::string controlplane;  // --controlplane HOST:PORT
  // --controlplane-keepalive: seconds of silence on the configuration stream
  // before a PING. At least the control plane's permitted ping interval.
  unsigned controlplane_keepalive_seconds = 15;
  std::string node_name;  // --node
  std::string node_namespace;
  // --token-file: the token proving the Pod to the control plane, read
  // again for every stream (projected tokens rotate). Empty: the injector's
  // mount (kDefaultTokenFile), when it exists.
  std::string token_file;
  // Workload identity (docs/tasks/mtls.md): --ca-address HOST:PORT turns it
  // on; the control plane's TLS port is verified by the roots in --ca-root
  // and the DNS name --ca-name.
  std::string ca_address;
  std::string ca_root;
  std::string ca_name = "mesh-controlplane.mesh-system.svc";
  unsigned cert_ttl_seconds = 0;                 // --cert-ttl; 0: the control plane's default
  unsigned identity_ready_timeout_seconds = 60;  // readiness waits this long for a certificate
  std::size_t concurrency = 0;                   // 0: the default (CPU limit, else cores)
  // --max-connections: downstream connections open at once; 0: the default
  // (half the open-file limit left after a reserve).
  std::uint64_t max_connections = 0;
  std::string log_level;
  std::string log_format;
  bool access_log = false;
  bool tap = false;  // /tap on the admin port
  // --app-metrics IP:PORT[/PATH]: the application's Prometheus endpoint,
  // served merged with the proxy's (server/app_metrics.h).
  std::string app_metrics;
  bool check_only = false;
  std::string compile_config_path;  // --compile-config FILE (the config reader child)
  bool wait_ready = false;
  std::uint16_t wait_ready_port = pod_network::kHealthPort;
  unsigned wait_ready_timeout_seconds = 120;
  bool help = false;
};

// Parses argv[1..] ("--flag value" or "--flag=value"). Errors name the flag.
Result<Arguments> parse_arguments(std::span<const char* const> args);

// What --help prints.
std::string usage();

}  // namespace weft::proxy::cli
