// meshctl: the Weft command line.
#include <CLI/CLI.hpp>
#include <iostream>

#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/install.h"

int main(int argc, char** argv) {
  using namespace weft::meshctl;  // NOLINT(google-build-using-namespace): the CLI's wiring
  CLI::App app{"meshctl: inspect and run the Weft service mesh"};
  app.require_subcommand(1);
  Target target;
  app.add_option("--status", target.status,
                 "Control plane status endpoint HOST:PORT (env MESHCTL_STATUS)")
      ->envname("MESHCTL_STATUS")
      ->capture_default_str();
  std::string output = "table";
  auto format = [&output]() {
    Format f = Format::kTable;
    parse_format(output, f);
    return f;
  };
  auto output_option = [&output](CLI::App* command) {
    command->add_option("-o,--output", output, "table|json|yaml")
        ->check(CLI::IsMember({"table", "json", "yaml"}));
  };

  auto* status_cmd = app.add_subcommand("status", "Every proxy and whether it is in sync");
  output_option(status_cmd);

  auto* config_cmd = app.add_subcommand(
      "proxy-config", "The configuration a proxy has: listeners, routes, clusters, endpoints");
  ProxyConfigArgs config_args;
  config_cmd
      ->add_option("proxy", config_args.proxy,
                   "NAME, NAME.NAMESPACE or NAMESPACE/NAME (namespace default)")
      ->required();
  config_cmd
      ->add_option("section", config_args.section,
                   "listeners|routes|clusters|endpoints (all if omitted)")
      ->check(CLI::IsMember({"listeners", "routes", "clusters", "endpoints"}));
  config_cmd->add_option("-n,--namespace", config_args.ns, "The proxy's namespace");
  output_option(config_cmd);

  auto* stat_cmd = app.add_subcommand(
      "stat", "Success rate, requests per second and latency percentiles per workload or Service");
  StatArgs stat_args;
  stat_cmd
      ->add_option("kind", stat_args.kind,
                   "deploy: what each workload served (its own sidecars); svc: what each Service "
                   "was asked (its callers' sidecars)")
      ->required()
      ->check(CLI::IsMember({"deploy", "deployment", "deployments", "svc", "service", "services"}));
  stat_cmd->add_option("name", stat_args.name, "One workload or Service (all if omitted)");
  stat_cmd->add_option("-n,--namespace", stat_args.ns, "Only this namespace");
  stat_cmd->add_option("--prometheus", stat_args.prometheus,
                       "Prometheus URL (http://HOST:PORT) to query instead of the sidecars");
  stat_cmd->add_option("--window", stat_args.window,
                       "Over how long: default 2s from the sidecars (0s: since they started), 1m "
                       "from Prometheus");
  output_option(stat_cmd);

  auto* tap_cmd = app.add_subcommand(
      "tap", "The requests a proxy handles, live: method, path, status, latency, flags");
  TapArgs tap_args;
  tap_cmd
      ->add_option("proxy", tap_args.proxy,
                   "NAME, NAME.NAMESPACE or NAMESPACE/NAME (namespace default)")
      ->required();
  tap_cmd->add_option("-n,--namespace", tap_args.ns, "The proxy's namespace");
  tap_cmd->add_option("--max", tap_args.max, "Stop after this many requests");
  tap_cmd->add_option("--duration", tap_args.duration, "Stop after this long (10s, 1m)");
  tap_cmd
      ->add_option("-o,--output", output,
                   "table (one line per request) or json (one object "
                   "per line)")
      ->check(CLI::IsMember({"table", "json"}));

  auto* identity_cmd = app.add_subcommand(
      "identity", "A proxy's workload identity: SPIFFE ID, certificate chain, expiry, renewal");
  IdentityArgs identity_args;
  identity_cmd
      ->add_option("proxy", identity_args.proxy,
                   "NAME, NAME.NAMESPACE or NAMESPACE/NAME (namespace default)")
      ->required();
  identity_cmd->add_option("-n,--namespace", identity_args.ns, "The proxy's namespace");
  output_option(identity_cmd);

  auto* why_cmd = app.add_subcommand(
      "why",
      "Every object that shapes the path from a workload to a Service: the route rule "
      "picked, policies, mesh settings, their status conditions and what is wrong");
  WhyArgs why_args;
  why_cmd
      ->add_option("source", why_args.source,
                   "A Pod or workload: NAME, NAME.NAMESPACE or NAMESPACE/NAME (namespace default)")
      ->required();
  why_cmd
      ->add_option("destination", why_args.destination,
                   "A Service: NAME[.NAMESPACE][:PORT] (a NAME alone is in the source's namespace)")
      ->required();
  why_cmd->add_option("-n,--namespace", why_args.ns, "The source's namespace");
  why_cmd->add_option("-X,--method", why_args.method, "The request's method")
      ->capture_default_str();
  why_cmd->add_option("--path", why_args.target, "The request's path and query")
      ->capture_default_str();
  why_cmd->add_option("-H,--header", why_args.headers, "A request header 'name: value' (repeat)");
  why_cmd->add_option("--manifests", why_args.manifests,
                      "Read these manifest files or directories instead of asking the control "
                      "plane");
  output_option(why_cmd);

  auto* check_cmd = app.add_subcommand(
      "check", "Control plane reachable, manifests valid, every route accepted, proxies in sync");

  auto* validate_cmd =
      app.add_subcommand("validate", "Check manifests offline, as the control plane reads them");
  std::vector<std::string> paths;
  validate_cmd
      ->add_option("-f,--filename", paths, "File or directory, or - for standard input; repeatable")
      ->required()
      ->check(CLI::ExistingPath | CLI::IsMember({"-"}));

  auto* up_cmd = app.add_subcommand(
      "up", "Run a local mesh on 127.0.0.1: control plane, workloads and their sidecars");
  UpOptions up_options;
  up_cmd->add_option("dir", up_options.manifests, "Manifest directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  up_cmd->add_option("--state-dir", up_options.state_dir,
                     "Where generated manifests, logs and mesh.json go (default: a new temp dir)");
  up_cmd
      ->add_option("--status-address", up_options.status_address,
                   "Control plane status endpoint to serve")
      ->capture_default_str();
  up_cmd->add_option("--bin-dir", up_options.binaries,
                     "Where mesh-controlplane and mesh-proxy are (default: next to meshctl)");
  up_cmd
      ->add_option("--grace-period", up_options.grace_seconds,
                   "Seconds a stopping process has to drain and exit before it is killed")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();

  up_cmd
      ->add_option("--cert-ttl", up_options.cert_ttl,
                   "Validity of workload certificates; each is renewed at half of it")
      ->capture_default_str();

  InstallOptions install_options;
  auto* install_cmd = app.add_subcommand(
      "install", "Install the CRDs and the control plane with kubectl (deploy/weft.yaml)");
  auto* uninstall_cmd =
      app.add_subcommand("uninstall", "Remove what install applied (CRDs and their objects too)");
  for (auto* command : {install_cmd, uninstall_cmd}) {
    command->add_flag("--dry-run", install_options.dry_run, "Print the YAML instead");
    command->add_option("--kubeconfig", install_options.kubeconfig, "Passed to kubectl");
    command->add_option("--namespace", install_options.settings.ns, "The control plane's namespace")
        ->capture_default_str();
    command->add_option("--hub", install_options.settings.hub, "Image registry and path")
        ->capture_default_str();
    command->add_option("--tag", install_options.settings.version, "Image tag")
        ->capture_default_str();
    command
        ->add_option("--replicas", install_options.settings.replicas,
                     "Control plane replicas (1-10)")
        ->capture_default_str();
  }

  auto* inject_cmd = app.add_subcommand(
      "inject", "Print manifests with the sidecar injected, as the admission webhook would");
  std::string inject_file;
  weft::injector::Settings inject_settings;
  inject_cmd->add_option("-f,--filename", inject_file, "Manifest file, or - for standard input")
      ->required();
  inject_cmd
      ->add_option("--native-sidecars", inject_settings.native_sidecars,
                   "Proxy as a native sidecar (Kubernetes 1.29+); false: a regular container")
      ->capture_default_str();
  inject_cmd->add_option("--proxy-image", inject_settings.proxy_image)->capture_default_str();
  inject_cmd->add_option("--init-image", inject_settings.init_image)->capture_default_str();
  inject_cmd->add_option("--controlplane", inject_settings.controlplane, "Discovery address")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (status_cmd->parsed()) return status(target, format());
  if (config_cmd->parsed()) return proxy_config(target, config_args, format());
  if (stat_cmd->parsed()) return stat(target, stat_args, format());
  if (tap_cmd->parsed()) return tap(target, tap_args, format());
  if (why_cmd->parsed()) return why(target, why_args, format());
  if (identity_cmd->parsed()) return identity(target, identity_args, format());
  if (check_cmd->parsed()) return check(target);
  if (validate_cmd->parsed()) return validate(paths);
  if (up_cmd->parsed()) return up(up_options);
  if (install_cmd->parsed()) return install(install_options);
  if (uninstall_cmd->parsed()) return uninstall(install_options);
  if (inject_cmd->parsed()) return inject(inject_file, inject_settings);
  return 2;
}
