// meshctl tap: the requests a proxy handles, live, as they finish. Polls
// the proxy's admin /tap (mesh-proxy --tap; meshctl up turns it on), which
// answers the requests after the last one seen, waiting up to a second for
// the next.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>

#include "common/duration.h"
#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/proxy_config_view.h"

namespace weft::meshctl {
namespace {

namespace json = boost::json;

// 2026-12-07T14:03:07.042Z GET reviews-v1:9080/echo 200 3.1ms flags=- attempts=1
// default/client -> default/reviews-v1 upstream=127.0.0.1:31003
std::string line_of(const json::object& r) {
  const auto flag = text_of(r, "error");
  const auto who = [&](std::string_view end) {
    const auto name = text_of(r, fmt::format("{}_workload", end));
    return name.empty() ? std::string("-")
                        : fmt::format("{}/{}", text_of(r, fmt::format("{}_namespace", end)), name);
  };
  const auto* duration = r.if_contains("duration_ms");
  return fmt::format(
      "{} {} {}{} {} {:.1f}ms flags={} attempts={} {} -> {} upstream={}", text_of(r, "start_time"),
      text_of(r, "method"), text_of(r, "authority"), text_of(r, "path"), text_of(r, "status"),
      duration != nullptr ? duration->to_number<double>() : 0.0, flag.empty() ? "-" : flag,
      text_of(r, "attempts"), who("source"), who("destination"),
      text_of(r, "upstream").empty() ? "-" : text_of(r, "upstream"));
}

}  // namespace

int tap(const Target& target, const TapArgs& args, Format format) {
  auto ref = parse_proxy_ref(args.proxy, args.ns);
  if (!ref) {
    std::cerr << "meshctl: " << ref.error() << "\n";
    return 2;
  }
  std::optional<std::chrono::nanoseconds> duration;
  if (!args.duration.empty()) {
    duration = parse_duration(args.duration);
    if (!duration) {
      std::cerr << "meshctl: --duration '" << args.duration << "' is not a duration\n";
      return 2;
    }
  }
  const auto config = get_json(target.status, "/config?proxy=" + ref->ns + "/" + ref->name);
  if (!config) {
    // The control plane's answer ("no connected proxy NS/NAME"), or why it
    // could not be asked.
    std::cerr << "meshctl: " << config.error().message << "\n";
    return 1;
  }
  const auto admin = admin_address(*config);
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::uint64_t> since;
  std::size_t shown = 0;
  for (;;) {
    if (duration && std::chrono::steady_clock::now() - started >= *duration) return 0;
    const auto answer = get_json(admin, since ? fmt::format("/tap?wait_ms=1000&since={}", *since)
                                              : std::string("/tap?wait_ms=1000"));
    if (!answer || !answer->is_object()) {
      std::cerr << "meshctl: proxy admin " << admin << ": "
                << (answer ? "not a tap answer" : answer.error().message) << "\n";
      return 1;
    }
    const auto& o = answer->as_object();
    since = o.at("next").to_number<std::uint64_t>();
    if (const auto missed = o.at("missed").to_number<std::uint64_t>(); missed > 0) {
      std::cerr << "meshctl: " << missed << " requests missed (more than the proxy keeps)\n";
    }
    for (const auto& r : o.at("requests").as_array()) {
      if (format == Format::kTable) {
        std::cout << line_of(r.as_object()) << "\n";
      } else {
        std::cout << json::serialize(r) << "\n";
      }
      std::cout.flush();
      if (args.max > 0 && ++shown >= args.max) return 0;
    }
  }
}

}  // namespace weft::meshctl
