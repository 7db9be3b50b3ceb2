#include "controlplane/sources/kubernetes/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace weft::cp::kubernetes {
namespace {

using ::testing::HasSubstr;

TEST(ParseServerUrl, Table) {
  struct Case {
    std::string url;
    std::string host, port;
    bool tls;
  };
  const Case cases[] = {
      {"https://10.0.0.1:6443", "10.0.0.1", "6443", true},
      {"https://kubernetes.default.svc", "kubernetes.default.svc", "443", true},
      {"http://127.0.0.1:8080/", "127.0.0.1", "8080", false},
      {"https://[fd00::1]:6443", "fd00::1", "6443", true},
      {"https://[fd00::1]", "fd00::1", "443", true},
      {"https://api.example.com:443/some/prefix", "api.example.com", "443", true},
  };
  for (const auto& c : cases) {
    ClusterConfig out;
    ASSERT_TRUE(parse_server_url(c.url, out)) << c.url;
    EXPECT_EQ(out.host, c.host) << c.url;
    EXPECT_EQ(out.port, c.port) << c.url;
    EXPECT_EQ(out.tls, c.tls) << c.url;
  }
  ClusterConfig out;
  EXPECT_FALSE(parse_server_url("ftp://x", out));
  EXPECT_FALSE(parse_server_url("https://", out));
}

constexpr const char* kKubeconfig = R"(
apiVersion: v1
kind: Config
current-context: b
clusters:
  - {name: one, cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: Q0EtUEVN}}
  - {name: two, cluster: {server: "https://10.0.0.2:6443", certificate-authority: ca.crt}}
users:
  - {name: alice, user: {token: abc}}
  - {name: bob, user: {tokenFile: /var/token, client-certificate-data: Q0VSVA==, client-key-data: S0VZ}}
contexts:
  - {name: a, context: {cluster: one, user: alice}}
  - {name: b, context: {cluster: one, user: bob, namespace: mesh-system}}
  - {name: c, context: {cluster: two, user: alice}}
)";

TEST(ParseKubeconfig, UsesTheCurrentContextsClusterAndUser) {
  auto config = parse_kubeconfig(kKubeconfig, "/etc/kube");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "10.0.0.1");
  EXPECT_EQ(config->ca_pem, "CA-PEM") << "certificate-authority-data is base64";
  EXPECT_EQ(config->token_file, "/var/token");
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_EQ(config->ns, "mesh-system");
}

TEST(ParseKubeconfig, RelativeFilesAreRelativeToTheKubeconfig) {
  auto dir = std::filesystem::temp_directory_path() / "weft-kubeconfig-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.crt") << "FILE-CA";
  std::string text = kKubeconfig;
  text.replace(text.find("current-context: b"), 18, "current-context: c");
  auto config = parse_kubeconfig(text, dir.string());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->ca_pem, "FILE-CA");
  EXPECT_EQ(config->token, "abc");
  std::filesystem::remove_all(dir);
}

TEST(ParseKubeconfig, ClearErrors) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"current-context: nope\ncontexts: []\n", "no context 'nope'"},
      {"current-context: a\ncontexts: [{name: a, context: {cluster: x}}]\nclusters: []\n",
       "cluster 'x' has no server"},
      {"current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
       "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
       "users: [{name: u, user: {exec: {command: aws}}}]\n",
       "exec credential plugin"},
      {"current-context: [", "kubeconfig:"},
  };
  for (const auto& c : cases) {
    auto config = parse_kubeconfig(c.text, "/");
    ASSERT_FALSE(config) << c.text;
    EXPECT_THAT(config.error().message, HasSubstr(c.message)) << c.text;
  }
}

TEST(InClusterConfig, NeedsTheServiceEnvironment) {
  auto missing = in_cluster_config({}, "/nonexistent");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("KUBERNETES_SERVICE_HOST"));

  auto dir = std::filesystem::temp_directory_path() / "weft-serviceaccount-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.crt") << "CLUSTER-CA";
  std::ofstream(dir / "namespace") << "mesh-system";
  auto config = in_cluster_config(
      {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, dir.string());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "10.96.0.1");
  EXPECT_EQ(config->port, "443");
  EXPECT_EQ(config->ca_pem, "CLUSTER-CA");
  EXPECT_EQ(config->token_file, dir.string() + "/token") << "re-read per request: tokens rotate";
  EXPECT_EQ(config->ns, "mesh-system");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weft::cp::kubernetes
