// mesh-init: the init container that programs the pod's traffic capture.
// It restores the nat table of the pod's network namespace (IPv4, and IPv6
// when the kernel has it) so that the application's TCP goes through the
// sidecar; `--dry-run` prints the iptables-restore input instead.
#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "injector/capture_rules.h"

namespace {

using weft::injector::CaptureRules;
using weft::injector::IpFamily;

// Feeds `input` to `command` (iptables-restore or ip6tables-restore) on its
// standard input; its own error messages go to our standard error.
bool restore(const char* command, const std::string& input) {
  FILE* pipe = popen(command, "w");  // NOLINT(cert-env33-c): a fixed command, no user input
  if (pipe == nullptr) {
    std::cerr << "mesh-init: cannot run " << command << "\n";
    return false;
  }
  bool written = std::fwrite(input.data(), 1, input.size(), pipe) == input.size();
  int status = pclose(pipe);
  if (!written || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "mesh-init: " << command << " failed (exit status "
              << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ")\n";
    return false;
  }
  return true;
}

template <class T>
bool parse_into(const std::string& text, const char* flag, T (*parse)(std::string_view),
                auto& out) {
  auto parsed = parse(text);
  if (!parsed) {
    std::cerr << "mesh-init: " << flag << ": " << parsed.error().message << "\n";
    return false;
  }
  out = *parsed;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mesh-init: program the pod's iptables so its TCP goes through the sidecar"};
  CaptureRules rules;
  std::string inbound_ports, outbound_ports, outbound_cidrs, ipv6 = "auto";
  bool dry_run = false, dry_run_ipv6 = false;
  app.add_option("--proxy-uid", rules.proxy_uid, "The sidecar's uid, exempt from capture")
      ->capture_default_str();
  app.add_option("--outbound-port", rules.outbound_port, "Outbound capture port")
      ->capture_default_str();
  app.add_option("--inbound-port", rules.inbound_port, "Inbound capture port")
      ->capture_default_str();
  app.add_option("--exclude-inbound-ports", inbound_ports, "Ports reaching the app directly");
  app.add_option("--exclude-outbound-ports", outbound_ports, "Destination ports not captured");
  app.add_option("--exclude-outbound-cidrs", outbound_cidrs, "Destinations not captured (CIDRs)");
  app.add_option("--ipv6", ipv6, "Also program ip6tables: auto (when the kernel has IPv6)|on|off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_flag("--dry-run", dry_run, "Print the iptables-restore input instead of applying it");
  app.add_flag("--dry-run-ipv6", dry_run_ipv6, "Print the ip6tables-restore input instead");
  CLI11_PARSE(app, argc, argv);

  if (!parse_into(inbound_ports, "--exclude-inbound-ports", weft::injector::parse_ports,
                  rules.exclude_inbound_ports) ||
      !parse_into(outbound_ports, "--exclude-outbound-ports", weft::injector::parse_ports,
                  rules.exclude_outbound_ports) ||
      !parse_into(outbound_cidrs, "--exclude-outbound-cidrs", weft::injector::parse_cidrs,
                  rules.exclude_outbound_cidrs)) {
    return 2;
  }
  auto ipv4_input = restore_input(rules, IpFamily::kIpv4);
  auto ipv6_input = restore_input(rules, IpFamily::kIpv6);
  if (dry_run || dry_run_ipv6) {
    if (dry_run) std::cout << ipv4_input;
    if (dry_run_ipv6) std::cout << ipv6_input;
    return 0;
  }
  if (!restore("iptables-restore", ipv4_input)) return 1;
  bool with_ipv6 =
      ipv6 == "on" || (ipv6 == "auto" && std::filesystem::exists("/proc/net/if_inet6"));
  if (with_ipv6 && !restore("ip6tables-restore", ipv6_input)) return 1;
  std::cout << "mesh-init: capture rules applied (IPv4" << (with_ipv6 ? " and IPv6" : "")
            << "): inbound TCP to " << rules.inbound_port << ", outbound TCP to "
            << rules.outbound_port << ", uid " << rules.proxy_uid << " exempt\n";
  return 0;
}
