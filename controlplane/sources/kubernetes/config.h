// Where the Kubernetes API server is and how to authenticate to it: from a
// kubeconfig file (its current context: server, CA, bearer token or token
// file, or client certificate) or, in a Pod, from the in-cluster
// environment (KUBERNETES_SERVICE_HOST/PORT, the service account's token
// and CA under /var/run/secrets/kubernetes.io/serviceaccount).
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace weft::cp::kubernetes {

struct ClusterConfig {
  std::string host;  // name or IP, without brackets
  std::string port;
  bool tls = true;
  std::string ca_pem;  // trust these instead of the system roots
  bool insecure_skip_verify = false;
  // Bearer token, given inline, or a file re-read before each request
  // because bound service-account tokens rotate.
  std::string token;
  std::string token_file;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string ns;  // the context's namespace (informational)
};

// Parses a kubeconfig's text. Relative file paths in it are relative to
// `directory` (the kubeconfig's own), as kubectl resolves them.
Result<ClusterConfig> parse_kubeconfig(const std::string& text, const std::string& directory);
Result<ClusterConfig> load_kubeconfig(const std::string& path);

// In-cluster configuration from `env` and the service-account directory.
Result<ClusterConfig> in_cluster_config(const std::map<std::string, std::string>& env,
                                        const std::string& account_dir);

// The kubeconfig at `kubeconfig` if given, else in-cluster configuration
// from this process's environment and `account_dir`.
Result<ClusterConfig> cluster_config(const std::string& kubeconfig, const std::string& account_dir);

// The service account's files in a Pod.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// "https://host:port" -> host, port, tls. Errors on anything else.
Result<void> parse_server_url(const std::string& url, ClusterConfig& out);

}  // namespace weft::cp::kubernetes
