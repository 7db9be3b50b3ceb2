#include "proxy/cli/arguments.h"

#include <charconv>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/server/app_metrics.h"

namespace weft::proxy::cli {
namespace {

// One flag: whether it takes a value, and what to do with it.
struct Flag {
  std::string_view name;
  std::string_view help;
  bool takes_value;
  std::function<Result<void>(Arguments&, std::string_view)> apply;
};

template <class Number>
Result<void> parse_number(std::string_view flag, std::string_view text, Number& out) {
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return fail(ErrorCode::kInvalidArgument, "{}: '{}' is not a number in range", flag, text);
  }
  out = value;
  return {};
}

Result<void> set_string(std::string& field, std::string_view value) {
  field = value;
  return {};
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      {"--config", "FILE  static configuration (mesh.v1.ProxyConfig as YAML)", true,
       [](Arguments& a, std::string_view v) -> Result<void> {
         std::error_code ec;
         const std::filesystem::path path(v);
         if (!std::filesystem::exists(path, ec) || std::filesystem::is_directory(path, ec)) {
           return fail(ErrorCode::kInvalidArgument, "--config: no such file: {}", v);
         }
         return set_string(a.config_path, v);
       }},
      {"--controlplane", "HOST:PORT  stream configuration from mesh-controlplane", true,
       [](Arguments& a, std::string_view v) { return set_string(a.controlplane, v); }},
      {"--controlplane-keepalive",
       "SECONDS  PING the control plane after this much silence; no answer to two: reconnect "
       "(default 15, at least 2)",
       true,
       [](Arguments& a, std::string_view v) -> Result<void> {
         auto parsed =
             parse_number("--controlplane-keepalive", v, a.controlplane_keepalive_seconds);
         if (parsed && a.controlplane_keepalive_seconds < kMinControlplaneKeepaliveSeconds) {
           return fail(ErrorCode::kInvalidArgument,
                       "--controlplane-keepalive: at least {} seconds (the control plane closes "
                       "connections that PING more often)",
                       kMinControlplaneKeepaliveSeconds);
         }
         return parsed;
       }},
      {"--node", "NAME  this proxy's Pod name (env POD_NAME)", true,
       [](Arguments& a, std::string_view v) { return set_string(a.node_name, v); }},
      {"--namespace", "NS  this proxy's Pod namespace (env POD_NAMESPACE)", true,
       [](Arguments& a, std::string_view v) { return set_string(a.node_namespace, v); }},
      {"--token-file",
       "FILE  the token proving this Pod to the control plane (default: the injector's "
       "/var/run/secrets/mesh.weft.io/tokens/token when present)",
       true, [](Arguments& a, std::string_view v) { return set_string(a.token_file, v); }},
      {"--ca-address",
       "HOST:PORT  the control plane's TLS port (15012): ask it for this workload's certificate "
       "and keep it renewed (with --controlplane)",
       true, [](Arguments& a, std::string_view v) { return set_string(a.ca_address, v); }},
      {"--ca-root", "FILE  the roots the control plane's TLS certificate chains to (PEM)", true,
       [](Arguments& a, std::string_view v) -> Result<void> {
         std::error_code ec;
         if (!std::filesystem::is_regular_file(std::filesystem::path(v), ec)) {
           return fail(ErrorCode::kInvalidArgument, "--ca-root: no such file: {}", v);
         }
         return set_string(a.ca_root, v);
       }},
      {"--ca-name",
       "NAME  the DNS name the control plane's TLS certificate must carry (default "
       "mesh-controlplane.mesh-system.svc)",
       true, [](Arguments& a, std::string_view v) { return set_string(a.ca_name, v); }},
      {"--cert-ttl",
       "SECONDS  the validity to ask for each workload certificate (default: the control "
       "plane's, 24 h); renewed at half of it",
       true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--cert-ttl", v, a.cert_ttl_seconds);
       }},
      {"--identity-ready-timeout",
       "SECONDS  how long /ready waits for the first workload certificate (default 60)", true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--identity-ready-timeout", v, a.identity_ready_timeout_seconds);
       }},
      {"--concurrency", "N  worker threads (default: the CPU limit, else the number of cores)",
       true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--concurrency", v, a.concurrency);
       }},
      {"--max-connections",
       "N  downstream connections open at once over all listeners; more are closed as they are "
       "accepted (default: half the open-file limit left after a reserve of 64)",
       true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--max-connections", v, a.max_connections);
       }},
      {"--log-level", "LEVEL  trace|debug|info|warning|error (env WEFT_LOG_LEVEL)", true,
       [](Arguments& a, std::string_view v) { return set_string(a.log_level, v); }},
      {"--log-format", "FORMAT  text|json (env WEFT_LOG_FORMAT)", true,
       [](Arguments& a, std::string_view v) { return set_string(a.log_format, v); }},
      {"--access-log", "write one JSON line per request to stdout", false,
       [](Arguments& a, std::string_view) -> Result<void> {
         a.access_log = true;
         return {};
       }},
      {"--tap",
       "serve /tap on the admin port: the requests this proxy handles, live, for meshctl tap "
       "(off by default: request paths and addresses are sensitive)",
       false,
       [](Arguments& a, std::string_view) -> Result<void> {
         a.tap = true;
         return {};
       }},
      {"--app-metrics",
       "IP:PORT[/PATH]  the application's Prometheus endpoint (path default /metrics), served "
       "merged with the proxy's on /stats/prometheus",
       true,
       [](Arguments& a, std::string_view v) -> Result<void> {
         auto target = server::parse_app_metrics_target(v);
         if (!target) return tl::unexpected(target.error());
         return set_string(a.app_metrics, v);
       }},
      {"--check", "validate the configuration and exit", false,
       [](Arguments& a, std::string_view) -> Result<void> {
         a.check_only = true;
         return {};
       }},
      {"--compile-config",
       "FILE  write FILE to stdout as a binary mesh.v1.ProxyConfig and exit (mesh-proxy reads "
       "--config by running itself so)",
       true, [](Arguments& a, std::string_view v) { return set_string(a.compile_config_path, v); }},
      {"--wait-ready",
       "wait until the proxy on this host answers /ready (a postStart hook), then exit", false,
       [](Arguments& a, std::string_view) -> Result<void> {
         a.wait_ready = true;
         return {};
       }},
      {"--wait-ready-port", "PORT  readiness port to poll (default 15021)", true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--wait-ready-port", v, a.wait_ready_port);
       }},
      {"--wait-ready-timeout", "SECONDS  how long --wait-ready waits (default 120)", true,
       [](Arguments& a, std::string_view v) {
         return parse_number("--wait-ready-timeout", v, a.wait_ready_timeout_seconds);
       }},
      {"--help", "print this help and exit", false,
       [](Arguments& a, std::string_view) -> Result<void> {
         a.help = true;
         return {};
       }},
  };
  return kFlags;
}

const Flag* find_flag(std::string_view name) {
  for (const auto& flag : flags()) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

}  // namespace

Result<Arguments> parse_arguments(std::span<const char* const> args) {
  Arguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (auto equals = arg.find('='); arg.starts_with("--") && equals != std::string_view::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    }
    if (name == "-h") name = "--help";
    const Flag* flag = find_flag(name);
    if (flag == nullptr) {
      return fail(ErrorCode::kInvalidArgument, "unknown argument '{}' (see --help)", arg);
    }
    if (!flag->takes_value && value) {
      return fail(ErrorCode::kInvalidArgument, "{} takes no value", name);
    }
    if (flag->takes_value && !value) {
      if (i + 1 == args.size()) return fail(ErrorCode::kInvalidArgument, "{} needs a value", name);
      value = args[++i];
    }
    if (auto applied = flag->apply(parsed, value.value_or("")); !applied) {
      return tl::unexpected(applied.error());
    }
  }
  if (!parsed.config_path.empty() && !parsed.controlplane.empty()) {
    return fail(ErrorCode::kInvalidArgument, "--config and --controlplane exclude each other");
  }
  if (!parsed.ca_address.empty() && (parsed.controlplane.empty() || parsed.ca_root.empty())) {
    return fail(ErrorCode::kInvalidArgument, "--ca-address needs --controlplane and --ca-root");
  }
  return parsed;
}

std::string usage() {
  std::string text =
      "mesh-proxy: the Weft sidecar proxy\n"
      "usage: mesh-proxy --config FILE | --controlplane HOST:PORT --node NAME [options]\n\n";
  for (const auto& flag : flags()) {
    text += "  ";
    text += flag.name;
    text += ' ';
    text += flag.help;
    text += '\n';
  }
  return text;
}

}  // namespace weft::proxy::cli
