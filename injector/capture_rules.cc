#include "injector/capture_rules.h"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <set>

namespace weft::injector {
namespace {

Result<unsigned> parse_number(std::string_view text, unsigned max, std::string_view what) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) {
    return fail(ErrorCode::kInvalidArgument, "'{}' is not a {}", text, what);
  }
  return value;
}

}  // namespace

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

Result<std::uint16_t> parse_port(std::string_view text) {
  auto port = parse_number(text, 65535, "port (1-65535)");
  if (!port) return tl::unexpected(port.error());
  if (*port == 0) return fail(ErrorCode::kInvalidArgument, "'0' is not a port (1-65535)");
  return static_cast<std::uint16_t>(*port);
}

Result<std::vector<std::uint16_t>> parse_ports(std::string_view text) {
  std::vector<std::uint16_t> ports;
  for (auto item : split_list(text)) {
    auto port = parse_port(item);
    if (!port) return tl::unexpected(port.error());
    ports.push_back(*port);
  }
  return ports;
}

Result<std::vector<Cidr>> parse_cidrs(std::string_view text) {
  std::vector<Cidr> cidrs;
  for (auto item : split_list(text)) {
    auto slash = item.find('/');
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(item.substr(0, slash)), ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "'{}' is not an IP address or CIDR", item);
    unsigned max_bits = address.is_v4() ? 32 : 128;
    unsigned bits = max_bits;
    if (slash != std::string_view::npos) {
      auto parsed = parse_number(item.substr(slash + 1), max_bits, "prefix length");
      if (!parsed) return fail(ErrorCode::kInvalidArgument, "'{}': bad prefix length", item);
      bits = *parsed;
    }
    cidrs.push_back({address.is_v4() ? IpFamily::kIpv4 : IpFamily::kIpv6,
                     fmt::format("{}/{}", address.to_string(), bits)});
  }
  return cidrs;
}

std::string restore_input(const CaptureRules& rules, IpFamily family) {
  std::string out = fmt::format(
      "# Weft capture rules, written by mesh-init: inbound TCP to {}, outbound TCP to {}.\n"
      "# They replace the pod network namespace's nat table.\n",
      rules.inbound_port, rules.outbound_port);
  out +=
      "*nat\n"
      ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      ":POSTROUTING ACCEPT [0:0]\n"
      ":WEFT_INBOUND - [0:0]\n:WEFT_IN_REDIRECT - [0:0]\n"
      ":WEFT_OUTPUT - [0:0]\n:WEFT_REDIRECT - [0:0]\n"
      "-A PREROUTING -p tcp -j WEFT_INBOUND\n"
      "-A OUTPUT -p tcp -j WEFT_OUTPUT\n";

  // Inbound: everything but the proxy's own ports and the excluded ones.
  std::set<std::uint16_t> inbound_exempt(rules.proxy_ports.begin(), rules.proxy_ports.end());
  inbound_exempt.insert(rules.exclude_inbound_ports.begin(), rules.exclude_inbound_ports.end());
  for (auto port : inbound_exempt) {
    out += fmt::format("-A WEFT_INBOUND -p tcp --dport {} -j RETURN\n", port);
  }
  out += "-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT\n";
  out += fmt::format("-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports {}\n", rules.inbound_port);

  // Outbound: the proxy's own connections (by uid, and its inbound dials to
  // the app from the inbound source address) and loopback stay as they are.
  if (family == IpFamily::kIpv4) {
    out +=
        fmt::format("-A WEFT_OUTPUT -s {}/32 -o lo -j RETURN\n", pod_network::kInboundSourceIpv4);
  }
  out += fmt::format("-A WEFT_OUTPUT -m owner --uid-owner {} -j RETURN\n", rules.proxy_uid);
  out += "-A WEFT_OUTPUT -o lo -j RETURN\n";
  std::set<std::uint16_t> outbound_exempt(rules.exclude_outbound_ports.begin(),
                                          rules.exclude_outbound_ports.end());
  for (auto port : outbound_exempt) {
    out += fmt::format("-A WEFT_OUTPUT -p tcp --dport {} -j RETURN\n", port);
  }
  for (const auto& cidr : rules.exclude_outbound_cidrs) {
    if (cidr.family == family) out += fmt::format("-A WEFT_OUTPUT -d {} -j RETURN\n", cidr.text);
  }
  out += "-A WEFT_OUTPUT -j WEFT_REDIRECT\n";
  out += fmt::format("-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports {}\n", rules.outbound_port);
  out += "COMMIT\n";
  return out;
}

}  // namespace weft::injector
