// meshctl's subcommands. Each returns the process exit code: 0 success,
// 1 the check failed or the mesh is not healthy, 2 bad usage.
#pragma once

#include <string>
#include <vector>

#include "controlplane/meshctl/output.h"
#include "injector/inject.h"

namespace weft::meshctl {

// Where the control plane's status endpoint is (HTTP on 15014).
struct Target {
  std::string status = "127.0.0.1:15014";
};

int status(const Target& target, Format format);
struct ProxyConfigArgs {
  std::string proxy;    // NAME, NAME.NAMESPACE or NAMESPACE/NAME
  std::string ns;       // -n; empty: from `proxy`, else default
  std::string section;  // listeners, routes, clusters, endpoints; empty: all
};
int proxy_config(const Target& target, const ProxyConfigArgs& args, Format format);
int check(const Target& target);

struct StatArgs {
  std::string kind;        // deploy (a workload's own sidecars) or svc (its callers')
  std::string name;        // empty: all
  std::string ns;          // empty: every namespace
  std::string prometheus;  // a Prometheus URL; empty: the sidecars' own metrics
  std::string window;      // empty: 2s from the sidecars, 1m from Prometheus; 0s: since start
};
int stat(const Target& target, const StatArgs& args, Format format);

struct TapArgs {
  std::string proxy;  // NAME, NAME.NAMESPACE or NAMESPACE/NAME
  std::string ns;
  std::size_t max = 0;   // stop after this many requests; 0: no limit
  std::string duration;  // stop after this long; empty: no limit
};
// Prints the requests a proxy handles as they finish, from its admin /tap.
int tap(const Target& target, const TapArgs& args, Format format);

struct IdentityArgs {
  std::string proxy;  // NAME, NAME.NAMESPACE or NAMESPACE/NAME
  std::string ns;
};
// Prints a proxy's workload identity (its admin /identity): the SPIFFE ID,
// the certificate chain, expiry and renewal.
int identity(const Target& target, const IdentityArgs& args, Format format);

struct WhyArgs {
  std::string source;       // a Pod or workload: NAME, NAME.NAMESPACE or NAMESPACE/NAME
  std::string ns;           // -n: the source's namespace
  std::string destination;  // a Service: NAME[.NAMESPACE][:PORT]; NAME is in the source's namespace
  std::string method = "GET";
  std::string target = "/";            // path and query
  std::vector<std::string> headers;    // "name: value"
  std::vector<std::string> manifests;  // set: read these instead of asking the control plane
};
// Prints every object that shapes the path from a workload to a Service.
int why(const Target& target, const WhyArgs& args, Format format);
int validate(const std::vector<std::string>& paths);

struct UpOptions {
  std::string manifests;
  std::string state_dir;  // empty: a new temporary directory
  std::string status_address = "127.0.0.1:15014";
  std::string binaries;  // where mesh-controlplane and mesh-proxy are; empty: next to meshctl
  // Time a stopping process has to drain and exit: above the sidecar's
  // drain timeout (5 s by default), as a Pod's terminationGracePeriodSeconds.
  int grace_seconds = 10;
  // The validity of workload certificates (the control plane's
  // --cert-default-ttl); short ones show renewal at work.
  std::string cert_ttl = "24h";
};
int up(const UpOptions& options);

// Injects the Pods of the manifests in `file` ("-": standard input) and
// prints them; notes on workloads left alone go to standard error.
int inject(const std::string& file, const injector::Settings& settings);

}  // namespace weft::meshctl
