// mesh-controlplane: sources -> store -> translate -> one gRPC stream per
// proxy. `mesh-controlplane --manifests DIR` is the directory mode behind
// `meshctl up`, `make demo` and most tests.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "common/duration.h"
#include "common/endpoint.h"
#include "common/log.h"
#include "controlplane/ca/authority.h"
#include "controlplane/server/certificate_service.h"
#include "controlplane/server/discovery.h"
#include "controlplane/sources/kubernetes/source.h"
#include "controlplane/sources/kubernetes/status_writer.h"
#include "controlplane/sources/kubernetes/token_review.h"
#include "controlplane/sources/kubernetes/webhook_tls.h"
#include "controlplane/sources/watch.h"
#include "controlplane/status/status.h"

namespace {

using namespace weft::cp;  // NOLINT(google-build-using-namespace): one file's wiring

long millis(server::Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Reloads the sources, recompiles the mesh and offers it to every proxy.
class Pipeline {
 public:
  using Compiled = std::function<void(std::shared_ptr<const translate::Mesh>,
                                      std::shared_ptr<const model::Store>)>;

  Pipeline(std::function<sources::Snapshot()> load, server::Registry& registry,
           status::StatusService& status)
      : load_(std::move(load)), registry_(registry), status_(status) {}

  // Also hands every compiled mesh to `compiled` (the Kubernetes status writer).
  void on_compiled(Compiled compiled) { compiled_ = std::move(compiled); }

  void reload(server::Clock::time_point seen) {
    std::lock_guard lock(mutex_);
    auto started = server::Clock::now();
    auto snapshot = load_();
    auto loaded = server::Clock::now();
    for (const auto& e : snapshot.errors) {
      spdlog::warn("manifest {}{}: {}", e.file, e.object.empty() ? "" : " (" + e.object + ")",
                   e.message);
    }
    auto mesh = translate::compile(*snapshot.store, previous_.get());
    previous_ = mesh;
    auto compiled = server::Clock::now();
    for (const auto& c : mesh->conditions) {
      if (c.ok) continue;
      auto at = snapshot.locations.find(c.object);
      spdlog::warn("{}{} {}=False {}: {}", at == snapshot.locations.end() ? "" : at->second + ": ",
                   c.object, c.type, c.reason, c.message);
    }
    status::SourceState state{
        snapshot.store->size(), snapshot.errors, snapshot.ignored,   mesh->conditions,
        ++generation_,          snapshot.store,  snapshot.locations, mesh};
    if (compiled_) compiled_(mesh, snapshot.store);
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
  std::function<sources::Snapshot()> load_;
  Compiled compiled_;
  server::Registry& registry_;
  status::StatusService& status_;
  std::uint64_t generation_ = 0;
  // The last compiled mesh: what a rejected object falls back to.
  std::shared_ptr<const translate::Mesh> previous_;
};

// Calls `reload` once per burst of Kubernetes events, `quiet` after the
// first one, and only once every kind has been listed.
class KubernetesDebounce {
 public:
  KubernetesDebounce(boost::asio::io_context& io, std::chrono::milliseconds quiet,
                     kubernetes::KubernetesSource& source, Pipeline& pipeline)
      : timer_(io), quiet_(quiet), source_(source), pipeline_(pipeline) {}

  void changed() {
    if (pending_ || !source_.synced()) return;
    pending_ = true;
    auto seen = server::Clock::now();
    timer_.expires_after(quiet_);
    timer_.async_wait([this, seen](const boost::system::error_code& ec) {
      pending_ = false;
      if (!ec) pipeline_.reload(seen);
    });
  }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds quiet_;
  kubernetes::KubernetesSource& source_;
  Pipeline& pipeline_;
  bool pending_ = false;
};

// The configuration streams are long and mostly quiet. Each proxy PINGs
// after --controlplane-keepalive of silence (15 s by default, 2 s at the
// least); gRPC's default server policy allows one PING per 5 minutes
// without data and answers the third early one with GOAWAY "too_many_pings",
// so every proxy reconnected and took a full push every minute or so. Here
// PINGs every second or slower are welcome (a PING costs next to nothing),
// and the server PINGs a stream silent for a minute itself, so a proxy that
// vanished is dropped within 80 s instead of at the next push.
void set_keepalive_policy(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
}

}  // namespace

// This replica's Lease: its Pod (POD_NAME, POD_NAMESPACE from the
// Deployment's downward API), or host and process outside a Pod.
kubernetes::LeaseOptions lease_options() {
  kubernetes::LeaseOptions lease;
  if (const char* ns = std::getenv("POD_NAMESPACE")) lease.ns = ns;
  if (const char* pod = std::getenv("POD_NAME")) {
    lease.identity = pod;
  } else {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    lease.identity = fmt::format("{}-{}", host, getpid());
  }
  return lease;
}

// The key of directory mode's bootstrap tokens: the file's content, less
// a final newline; short keys are refused (a guessable key proves nothing).
weft::Result<std::string> read_bootstrap_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return weft::fail(weft::ErrorCode::kIo, "--bootstrap-key {}: cannot read it", path);
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 16) {
    return weft::fail(weft::ErrorCode::kInvalidArgument,
                      "--bootstrap-key {}: a key has at least 16 bytes, this one {}", path,
                      key.size());
  }
  return key;
}

// The configured source, started and feeding `pipeline`: a manifest
// directory (with its inotify watch), or Kubernetes.
struct RunningSource {
  std::unique_ptr<sources::DirectorySource> directory;
  std::unique_ptr<sources::DirectoryWatch> watch;
  std::unique_ptr<kubernetes::KubernetesSource> kubernetes;
  std::unique_ptr<KubernetesDebounce> debounce;
  std::unique_ptr<kubernetes::StatusWriter> status_writer;
  std::unique_ptr<kubernetes::WebhookTls> webhook_tls;
  std::unique_ptr<Pipeline> pipeline;
  // Who may stream which Pod's configuration (server/proxy_auth.h).
  std::unique_ptr<server::ProxyAuthenticator> authenticator;
};

struct SourceOptions {
  std::vector<std::string> manifests;
  std::string kubeconfig;
  std::string account_dir = kubernetes::kServiceAccountDir;
  std::string bootstrap_key;  // directory mode: the file of the key bootstrap tokens prove
  std::chrono::milliseconds debounce{100};
  kubernetes::WebhookTlsOptions webhook;
};

weft::Result<RunningSource> start_source(const SourceOptions& options, boost::asio::io_context& io,
                                         server::Registry& registry, status::StatusService& status,
                                         prometheus::Registry& metrics) {
  const auto& manifests = options.manifests;
  auto debounce = options.debounce;
  RunningSource out;
  if (!manifests.empty()) {
    out.directory = std::make_unique<sources::DirectorySource>(
        std::vector<std::filesystem::path>(manifests.begin(), manifests.end()));
    out.pipeline = std::make_unique<Pipeline>([d = out.directory.get()] { return d->load(); },
                                              registry, status);
    out.pipeline->reload(server::Clock::now());
    auto watch = sources::DirectoryWatch::start(
        {manifests.begin(), manifests.end()}, debounce,
        [p = out.pipeline.get()] { p->reload(server::Clock::now()); });
    if (!watch) return tl::unexpected(watch.error());
    out.watch = std::move(*watch);
    if (options.bootstrap_key.empty()) {
      out.authenticator = server::local_only_authenticator();
    } else {
      auto key = read_bootstrap_key(options.bootstrap_key);
      if (!key) return tl::unexpected(key.error());
      out.authenticator = server::bootstrap_authenticator(std::move(*key));
    }
    return out;
  }
  auto config = kubernetes::cluster_config(options.kubeconfig, options.account_dir);
  if (!config) return tl::unexpected(config.error());
  auto client = kubernetes::ApiClient::create(std::move(*config));
  if (!client) return tl::unexpected(client.error());
  spdlog::info("watching Kubernetes at {}:{}", (*client)->config().host, (*client)->config().port);
  out.kubernetes = std::make_unique<kubernetes::KubernetesSource>(std::move(*client), metrics);
  out.pipeline = std::make_unique<Pipeline>([k = out.kubernetes.get()] { return k->load(); },
                                            registry, status);
  out.debounce = std::make_unique<KubernetesDebounce>(io, debounce, *out.kubernetes, *out.pipeline);
  out.status_writer = std::make_unique<kubernetes::StatusWriter>(io, out.kubernetes->client(),
                                                                 lease_options(), metrics);
  out.pipeline->on_compiled([w = out.status_writer.get()](auto mesh, auto store) {
    w->publish(std::move(mesh), std::move(store));
  });
  out.status_writer->start();
  out.webhook_tls = std::make_unique<kubernetes::WebhookTls>(
      io, out.kubernetes->client(), *out.status_writer, options.webhook, metrics);
  out.webhook_tls->start();
  out.kubernetes->start(io, [d = out.debounce.get()] { d->changed(); });
  out.authenticator = std::make_unique<kubernetes::TokenReviewer>(io, out.kubernetes->client());
  return out;
}

// The mesh's certificate authority (ca/authority.h), if one is configured.
struct AuthorityOptions {
  std::string dir;                         // --ca-dir
  std::string cert, key, root;             // --ca-cert, --ca-key, --ca-root
  std::string address = "0.0.0.0:15012";   // --ca-address: Sign and discovery over TLS
  std::vector<std::string> serving_names;  // --ca-serving-name: DNS names of 15012's certificate
  std::string default_ttl = "24h", max_ttl = "168h";
};

weft::Result<std::shared_ptr<const ca::SigningAuthority>> load_authority(
    const AuthorityOptions& options) {
  auto loaded = options.dir.empty() ? ca::load_intermediate(options.cert, options.key, options.root)
                                    : ca::load_or_create_root(options.dir);
  if (!loaded) return tl::unexpected(loaded.error());
  return std::make_shared<const ca::SigningAuthority>(std::move(*loaded));
}

// The names 15012's certificate carries by default: the Service in this
// namespace (proxies verify mesh-controlplane.<namespace>.svc) and localhost.
std::vector<std::string> default_serving_names() {
  const char* ns = std::getenv("POD_NAMESPACE");
  const std::string service =
      fmt::format("mesh-controlplane.{}", ns != nullptr ? ns : "mesh-system");
  return {service + ".svc", service + ".svc.cluster.local", service, "localhost"};
}

// 15012's credentials: a serving certificate the mesh's authority signs at
// each start, so a proxy verifies the control plane with the root it
// already trusts for its peers.
weft::Result<std::shared_ptr<grpc::ServerCredentials>> authority_credentials(
    const ca::SigningAuthority& authority, const std::vector<std::string>& names) {
  auto serving = ca::issue_server(authority.signer, names, std::chrono::hours(24 * 365));
  if (!serving) return tl::unexpected(serving.error());
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({serving->key_pem, serving->cert_pem + authority.chain_pem});
  return grpc::SslServerCredentials(tls);
}

int main(int argc, char** argv) {
  CLI::App app{"mesh-controlplane: serves each mesh-proxy its configuration"};
  SourceOptions source_options;
  auto& manifests = source_options.manifests;
  auto& kubeconfig = source_options.kubeconfig;
  auto& account_dir = source_options.account_dir;
  std::string grpc_address = "0.0.0.0:15010", status_address = "0.0.0.0:15014";
  bool debug_remote = false;
  std::string debounce_text = "100ms", webhook_period_text = "30s", log_level, log_format;
  auto* manifests_option =
      app.add_option("--manifests", manifests,
                     "Directory (or file) of Kubernetes-style YAML manifests; repeatable")
          ->check(CLI::ExistingPath);
  app.add_option("--kubeconfig", kubeconfig,
                 "Watch the cluster of this kubeconfig's current context (default without "
                 "--manifests: the in-cluster service account)")
      ->check(CLI::ExistingFile)
      ->excludes(manifests_option);
  app.add_option("--bootstrap-key", source_options.bootstrap_key,
                 "Directory mode: a proxy must send the bootstrap token this key makes for the "
                 "Pod it names (meshctl up hands them out); without it only proxies on this host "
                 "are served")
      ->check(CLI::ExistingFile)
      ->needs(manifests_option);
  app.add_option("--service-account-dir", account_dir,
                 "In-cluster: where the service account's token, ca.crt and namespace are")
      ->capture_default_str();
  app.add_option("--grpc-address", grpc_address, "Discovery gRPC listen address")
      ->capture_default_str();
  app.add_option("--status-address", status_address, "Status HTTP listen address")
      ->capture_default_str();
  app.add_flag("--debug-remote", debug_remote,
               "Serve /config and /debug/* on the status port to callers off this host (by "
               "default only loopback: kubectl port-forward)");
  app.add_option("--debounce", debounce_text, "Quiet time before a change is pushed")
      ->capture_default_str();
  auto& webhook = source_options.webhook;
  app.add_option("--webhook-configuration", webhook.configuration,
                 "Kubernetes: the MutatingWebhookConfiguration whose caBundle is kept current")
      ->capture_default_str();
  app.add_option("--webhook-secret", webhook.secret,
                 "Kubernetes: the Secret (in POD_NAMESPACE) holding the webhook's certificate")
      ->capture_default_str();
  app.add_option("--webhook-service", webhook.service, "Kubernetes: the webhook's Service")
      ->capture_default_str();
  app.add_option("--webhook-tls-period", webhook_period_text,
                 "Kubernetes: how often the webhook's certificate and caBundle are checked")
      ->capture_default_str();
  AuthorityOptions authority_options;
  auto* ca_dir = app.add_option("--ca-dir", authority_options.dir,
                                "The mesh's certificate authority: a root kept in this directory, "
                                "created on first start");
  auto* ca_cert = app.add_option("--ca-cert", authority_options.cert,
                                 "The mesh's certificate authority: an intermediate (PEM) under "
                                 "a root of your own (with --ca-key and --ca-root)")
                      ->check(CLI::ExistingFile)
                      ->excludes(ca_dir);
  app.add_option("--ca-key", authority_options.key, "--ca-cert's private key (PEM)")
      ->check(CLI::ExistingFile)
      ->needs(ca_cert);
  app.add_option("--ca-root", authority_options.root, "The roots --ca-cert chains to (PEM)")
      ->check(CLI::ExistingFile)
      ->needs(ca_cert);
  app.add_option("--ca-address", authority_options.address,
                 "With a certificate authority: listen address of gRPC over TLS (Sign and "
                 "discovery)")
      ->capture_default_str();
  app.add_option("--ca-serving-name", authority_options.serving_names,
                 "DNS names of the TLS port's certificate (default: mesh-controlplane.NS.svc and "
                 "kin, and localhost); repeatable");
  app.add_option("--cert-default-ttl", authority_options.default_ttl,
                 "Validity of a workload certificate whose request asks for none")
      ->capture_default_str();
  app.add_option("--cert-max-ttl", authority_options.max_ttl,
                 "The longest validity a workload certificate is given")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warning|error (env WEFT_LOG_LEVEL)");
  app.add_option("--log-format", log_format, "text|json (env WEFT_LOG_FORMAT)");
  CLI11_PARSE(app, argc, argv);
  if (const char* ns = std::getenv("POD_NAMESPACE")) webhook.ns = ns;

  auto log_options = weft::log::resolve_options(log_level, log_format);
  auto debounce = weft::parse_duration(debounce_text);
  auto webhook_period = weft::parse_duration(webhook_period_text);
  auto status_endpoint = weft::parse_endpoint(status_address);
  if (!log_options || !debounce || !webhook_period || !status_endpoint) {
    std::cerr << "mesh-controlplane: "
              << (!log_options       ? log_options.error().message
                  : !status_endpoint ? status_endpoint.error().message
                  : !debounce        ? "--debounce: not a duration"
                                     : "--webhook-tls-period: not a duration")
              << "\n";
    return 2;
  }
  source_options.debounce = std::chrono::duration_cast<std::chrono::milliseconds>(*debounce);
  webhook.period = std::max(std::chrono::milliseconds(100),
                            std::chrono::duration_cast<std::chrono::milliseconds>(*webhook_period));
  weft::log::init(*log_options);
  auto default_ttl = weft::parse_duration(authority_options.default_ttl);
  auto max_ttl = weft::parse_duration(authority_options.max_ttl);
  if (!default_ttl || !max_ttl || *default_ttl < std::chrono::seconds(10) ||
      *max_ttl < *default_ttl) {
    std::cerr << "mesh-controlplane: --cert-default-ttl and --cert-max-ttl are durations of "
                 "10 s or more, the maximum not below the default\n";
    return 2;
  }
  if (!authority_options.cert.empty() &&
      (authority_options.key.empty() || authority_options.root.empty())) {
    std::cerr << "mesh-controlplane: --ca-cert needs --ca-key and --ca-root\n";
    return 2;
  }
  std::shared_ptr<const ca::SigningAuthority> authority;
  if (!authority_options.dir.empty() || !authority_options.cert.empty()) {
    auto loaded = load_authority(authority_options);
    if (!loaded) {
      std::cerr << "mesh-controlplane: " << loaded.error().message << "\n";
      return 1;
    }
    authority = std::move(*loaded);
  }

  prometheus::Registry metrics_registry;
  server::Metrics metrics(metrics_registry);
  server::Registry registry(metrics);
  status::StatusService status(registry, metrics_registry, debug_remote);
  boost::asio::io_context io;
  auto source = start_source(source_options, io, registry, status, metrics_registry);
  if (!source) {
    std::cerr << "mesh-controlplane: " << source.error().message << "\n";
    return 1;
  }

  spdlog::info("discovery streams are authenticated by {}", source->authenticator->describe());
  server::DiscoveryService discovery(registry, *source->authenticator);
  grpc::ServerBuilder builder;
  set_keepalive_policy(builder);
  int grpc_port = 0;
  builder.AddListeningPort(grpc_address, grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterCallbackGenericService(&discovery);
  std::unique_ptr<server::CertificateService> certificates;
  int tls_port = 0;
  if (authority) {
    auto names = authority_options.serving_names.empty() ? default_serving_names()
                                                         : authority_options.serving_names;
    auto credentials = authority_credentials(*authority, names);
    if (!credentials) {
      std::cerr << "mesh-controlplane: 15012's certificate: " << credentials.error().message
                << "\n";
      return 1;
    }
    certificates = std::make_unique<server::CertificateService>(
        authority,
        ca::TtlPolicy{std::chrono::duration_cast<std::chrono::seconds>(*default_ttl),
                      std::chrono::duration_cast<std::chrono::seconds>(*max_ttl)},
        registry, *source->authenticator, metrics_registry);
    builder.AddListeningPort(authority_options.address, *credentials, &tls_port);
    builder.RegisterService(certificates.get());
  } else {
    spdlog::warn(
        "no certificate authority (--ca-dir or --ca-cert): workload identities and "
        "mutual TLS are off");
  }
  auto grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0 || (authority && tls_port == 0)) {
    std::cerr << "mesh-controlplane: cannot listen on " << grpc_address
              << (authority ? " and " + authority_options.address : "") << "\n";
    return 1;
  }
  if (authority) {
    spdlog::info("certificate authority {}: Sign and discovery over TLS on port {}",
                 authority_options.dir.empty() ? authority_options.cert : authority_options.dir,
                 tls_port);
  }

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
  source->watch.reset();
  return 0;
}
