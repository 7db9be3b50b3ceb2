#include "controlplane/sources/kubernetes/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "common/base64.h"
#include "common/yaml_proto.h"

namespace weft::cp::kubernetes {
namespace {

std::string resolve(const std::string& path, const std::string& directory) {
  if (path.empty() || path.starts_with('/')) return path;
  return (std::filesystem::path(directory) / path).string();
}

// Inline `<key>-data` (base64) wins over the file `<key>`.
Result<std::string> pem(const YAML::Node& node, const std::string& key,
                        const std::string& directory) {
  if (auto data = node[key + "-data"]) return base64::decode(data.as<std::string>());
  if (auto file = node[key]) return yaml::read_file(resolve(file.as<std::string>(), directory));
  return std::string();
}

// The entry of `list` (clusters, users, contexts) called `name`.
YAML::Node named(const YAML::Node& list, const std::string& name, const char* field) {
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[field];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

Result<void> parse_server_url(const std::string& url, ClusterConfig& out) {
  std::string rest;
  if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    out.tls = false;
    rest = url.substr(7);
  } else {
    return fail(ErrorCode::kInvalidArgument, "server '{}' is not an http(s):// URL", url);
  }
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  bool bracketed = rest.starts_with('[');
  if (colon != std::string::npos && (!bracketed || rest[colon - 1] == ']')) {
    out.host = rest.substr(0, colon);
    out.port = rest.substr(colon + 1);
  } else {
    out.host = rest;
    out.port = out.tls ? "443" : "80";
  }
  if (out.host.starts_with('[') && out.host.ends_with(']')) {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty()) return fail(ErrorCode::kInvalidArgument, "server '{}' has no host", url);
  return {};
}

Result<ClusterConfig> parse_kubeconfig(const std::string& text, const std::string& directory) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
    auto current = root["current-context"] ? root["current-context"].as<std::string>() : "";
    auto context = named(root["contexts"], current, "context");
    if (!context) {
      return fail(ErrorCode::kInvalidArgument, "kubeconfig: no context '{}' (current-context)",
                  current);
    }
    auto cluster_name = context["cluster"].as<std::string>();
    auto cluster = named(root["clusters"], cluster_name, "cluster");
    if (!cluster || !cluster["server"]) {
      return fail(ErrorCode::kInvalidArgument, "kubeconfig: cluster '{}' has no server",
                  cluster_name);
    }
    ClusterConfig out;
    if (auto parsed = parse_server_url(cluster["server"].as<std::string>(), out); !parsed) {
      return tl::unexpected(parsed.error());
    }
    if (context["namespace"]) out.ns = context["namespace"].as<std::string>();
    out.insecure_skip_verify =
        cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    auto ca = pem(cluster, "certificate-authority", directory);
    if (!ca) return tl::unexpected(ca.error());
    out.ca_pem = *ca;
    if (context["user"]) {
      auto user = named(root["users"], context["user"].as<std::string>(), "user");
      if (user && user["token"]) out.token = user["token"].as<std::string>();
      if (user && user["tokenFile"]) {
        out.token_file = resolve(user["tokenFile"].as<std::string>(), directory);
      }
      auto cert = user ? pem(user, "client-certificate", directory) : std::string();
      auto key = user ? pem(user, "client-key", directory) : std::string();
      if (!cert) return tl::unexpected(cert.error());
      if (!key) return tl::unexpected(key.error());
      out.client_cert_pem = *cert;
      out.client_key_pem = *key;
      if (user && user["exec"]) {
        return fail(ErrorCode::kInvalidArgument,
                    "kubeconfig: user '{}' uses an exec credential plugin, which is not "
                    "supported; use a token, token file or client certificate",
                    context["user"].as<std::string>());
      }
    }
    return out;
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "kubeconfig: {}", e.what());
  }
}

Result<ClusterConfig> load_kubeconfig(const std::string& path) {
  auto text = yaml::read_file(path);
  if (!text) return tl::unexpected(text.error());
  auto config = parse_kubeconfig(*text, std::filesystem::path(path).parent_path().string());
  if (!config) return fail(ErrorCode::kInvalidArgument, "{}: {}", path, config.error().message);
  return config;
}

Result<ClusterConfig> in_cluster_config(const std::map<std::string, std::string>& env,
                                        const std::string& account_dir) {
  auto host = env.find("KUBERNETES_SERVICE_HOST");
  auto port = env.find("KUBERNETES_SERVICE_PORT");
  if (host == env.end() || port == env.end() || host->second.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and no --kubeconfig");
  }
  ClusterConfig out;
  out.host = host->second;
  out.port = port->second;
  out.token_file = account_dir + "/token";
  auto ca = yaml::read_file(account_dir + "/ca.crt");
  if (!ca) return tl::unexpected(ca.error());
  out.ca_pem = *ca;
  if (auto ns = yaml::read_file(account_dir + "/namespace")) out.ns = *ns;
  return out;
}

Result<ClusterConfig> cluster_config(const std::string& kubeconfig,
                                     const std::string& account_dir) {
  if (!kubeconfig.empty()) return load_kubeconfig(kubeconfig);
  std::map<std::string, std::string> env;
  for (const char* name : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  return in_cluster_config(env, account_dir);
}

}  // namespace weft::cp::kubernetes
