// The proxy's configuration as the data plane uses it: translated once from
// mesh.v1.ProxyConfig, validated, then shared read-only by every worker as
// std::shared_ptr<const Snapshot>. Nothing below this sees protobuf types.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_url.h"
#include "common/result.h"
#include "mesh/v1/config.pb.h"
#include "proxy/http/http2/limits.h"
#include "proxy/layers/access_log.h"
#include "proxy/layers/authorization.h"
#include "proxy/layers/hash_key.h"
#include "proxy/layers/trace.h"
#include "proxy/metrics/workload.h"
#include "proxy/router/route.h"
#include "proxy/tls/tls.h"
#include "proxy/upstream/health/policy.h"
#include "proxy/upstream/lb/hash_table.h"
#include "proxy/upstream/lb/locality.h"
#include "proxy/upstream/lb/policy.h"
#include "proxy/upstream/outlier/policy.h"

namespace mesh::v1 {
class ProxyConfig;
}

namespace weft::proxy::config {

using std::chrono::milliseconds;
using TcpEndpoint = boost::asio::ip::tcp::endpoint;

// "address:port": an endpoint's name in metrics, logs and hash tables.
inline std::string address_text(const TcpEndpoint& address) {
  return address.address().to_string() + ":" + std::to_string(address.port());
}

struct Endpoint {
  TcpEndpoint address;
  std::string text;  // address_text(address), made once: the access log names it per request
  std::uint32_t weight = 1;
  upstream::lb::Locality locality;
  // How near it is to this proxy (lb/locality.h): what a tiered cluster
  // groups it by.
  upstream::lb::Tier tier = upstream::lb::Tier::kOther;
  // The meshed Pod behind it: the destination labels of its requests.
  std::optional<metrics::Workload> workload;
  // The SPIFFE ID its sidecar presents; set: called over mutual TLS when
  // this proxy has an identity of its own. Empty: plaintext.
  std::string identity;
};

enum class UpstreamProtocol { kHttp1, kHttp2, kSameAsDownstream };

struct Cluster {
  std::string name;
  // The Kubernetes Service behind it (destination_service); empty: none.
  std::string service;
  // x-weft-peer on its requests (metrics/workload.h): set when the proxy
  // has a workload, the cluster a Service and a meshed endpoint; empty:
  // the field is removed from requests to it.
  std::string peer_field;
  std::vector<Endpoint> endpoints;
  // Endpoints Kubernetes reports not ready: never picked, only reported
  // (/endpoints).
  std::vector<Endpoint> not_ready;
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  milliseconds connect_timeout{1'000};
  std::size_t max_idle_per_endpoint = 64;
  milliseconds idle_timeout{60'000};
  std::shared_ptr<tls::Context> tls;  // set: originate TLS to the endpoints
  std::string sni;
  std::optional<boost::asio::ip::address> source_address;  // none: the kernel picks
  // Retries per worker within 10 s: this share of the requests plus this rate.
  double retry_budget_percent = 20;
  double retry_budget_min_per_second = 10;
  upstream::lb::Policy load_balancer;
  // RingHash and Maglev: what each request is hashed by, and the table from
  // hash to endpoint, built once here for every worker (null otherwise, or
  // without endpoints).
  layers::hash_key::Key hash_key;
  std::shared_ptr<const upstream::lb::HashTable> hash_table;
  // Locality-aware balancing: the spillover threshold (percent) when it is
  // on and the endpoints span more than one tier; none otherwise.
  std::optional<std::uint32_t> locality_spillover;
  // Tiered consistent hashing: each tier's table over its own endpoints (in
  // cluster order), indexed by Tier; null for a tier without endpoints.
  std::array<std::shared_ptr<const upstream::lb::HashTable>, upstream::lb::kTiers> tier_tables;
  // Circuit breaking over all workers; 0: no limit.
  std::uint32_t max_requests = 0;     // requests in flight
  std::uint32_t max_retries = 0;      // retries in flight
  std::uint32_t max_connections = 0;  // upstream connections open or opening
  std::uint32_t max_pending = 0;      // requests waiting for a connection
  upstream::outlier::Policy outlier;
  std::optional<upstream::health::Check> health_check;  // none: not checked
  // Where requests go, in order, while no endpoint is healthy.
  struct Failover {
    std::size_t cluster;  // index into Snapshot::clusters
    std::string name;     // the backup Service's name: the x-weft-failover value
  };
  std::vector<Failover> failover;
};

enum class Capture { kNone, kOutbound, kInbound };
enum class ListenerProtocol { kHttp, kTcp, kAuto };

// Where traffic to one original destination goes on a capture listener.
struct Destination {
  std::optional<boost::asio::ip::address> address;  // none: any address on `port`
  std::uint16_t port = 0;
  std::optional<std::size_t> route_table;  // HTTP traffic
  std::optional<std::size_t> tcp_cluster;  // other traffic; none: passthrough
};

// Which side of its workload a listener serves: the request metrics'
// reporter (none: no workload-labelled metrics).
enum class Direction { kUnspecified, kOutbound, kInbound };

// What an inbound connection from a peer must be (docs/tasks/mtls.md); in
// the order of mesh.v1.Listener.MtlsMode.
enum class MtlsMode { kPermissive, kStrict, kDisable };

struct Listener {
  std::string name;
  Direction direction = Direction::kUnspecified;
  MtlsMode mtls = MtlsMode::kPermissive;
  TcpEndpoint address;
  Capture capture = Capture::kNone;
  ListenerProtocol protocol = ListenerProtocol::kHttp;
  std::optional<std::size_t> route_table;  // index into Snapshot::route_tables
  std::optional<std::size_t> tcp_cluster;  // index into Snapshot::clusters
  milliseconds idle_timeout{300'000};
  milliseconds sniff_timeout{100};
  milliseconds request_headers_timeout{10'000};  // first byte of a head to its end
  std::uint32_t max_connections = 0;             // 0: no cap of the listener's own
  std::shared_ptr<tls::Context> tls;             // set: terminate TLS (explicit listeners)
  std::vector<Destination> destinations;         // capture listeners
  std::vector<std::uint16_t> opaque_ports;       // never sniffed
  http::http2::SessionLimits http2;              // downstream HTTP/2 connections
  // An explicit inbound listener: the workload's port it serves (the port
  // AuthorizationPolicies name); 0 otherwise.
  std::uint16_t application_port = 0;

  // The destination for an original destination address: exact address and
  // port first, then port only. Null: pass the connection through unchanged.
  const Destination* destination_for(const TcpEndpoint& original) const;
  bool is_opaque_port(std::uint16_t port) const;
};

// Where sampled requests' spans go (MeshConfig spec.tracing).
struct Tracing {
  enum class Format { kOtlp, kZipkin };
  layers::trace::Settings settings;
  Format format = Format::kOtlp;
  std::string endpoint;  // as configured: what logs name
  HttpUrl collector;
};

struct Snapshot {
  std::string version;
  std::vector<Listener> listeners;
  std::vector<router::RouteTable> route_tables;
  std::vector<Cluster> clusters;
  // The cluster weights of each traffic split (a forward to more than one
  // cluster), indexed by router::Forward::split.
  std::vector<std::vector<std::uint32_t>> split_weights;
  std::optional<TcpEndpoint> admin_address;
  std::optional<TcpEndpoint> metrics_address;
  std::optional<TcpEndpoint> health_address;
  milliseconds drain_timeout{5'000};
  upstream::lb::Locality locality;  // where this proxy runs
  // The workload this proxy serves; none: a standalone proxy or gateway.
  std::optional<metrics::Workload> workload;
  // The request metrics under Istio's names (istio_requests_total, ...).
  bool istio_metric_names = false;
  // None: requests are not traced, their context fields pass untouched.
  std::optional<Tracing> tracing;
  // None: no access log (unless the proxy was started with --access-log).
  std::optional<layers::access_log::Settings> access_log;
  // Who may call this workload (inbound listeners; none: anyone).
  std::vector<layers::authorization::Policy> authorization;
  // The control plane says the Pod's application has exited: drain, exit.
  bool exit = false;
  // The configuration this was compiled from, for /config_dump (rendered
  // only when asked for).
  mesh::v1::ProxyConfig source;
};

// Validates and compiles `config`. Errors name the offending object
// ("listeners[1] 'web': route_table 'missing' is not defined").
Result<std::shared_ptr<const Snapshot>> translate(const mesh::v1::ProxyConfig& config);

}  // namespace weft::proxy::config

namespace weft::proxy::config {

// Whether `next` can replace `current` in a running proxy: the same
// listeners (names, addresses, kinds, TLS or not) and the same admin and
// metrics addresses, since those are bound sockets. Routes, clusters,
// timeouts and TLS material may all change.
Result<void> check_replaceable(const Snapshot& current, const Snapshot& next);

}  // namespace weft::proxy::config
