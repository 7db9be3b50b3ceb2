#include "controlplane/translate/timeouts.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "common/duration.h"

namespace weft::cp::translate {

void TimeoutDefaults::fill(mesh::v1::Route& route) const {
  if (request && !route.has_timeout()) {
    *route.mutable_timeout() = to_proto(*request);
    route.mutable_timeout_origins()->set_request(origin);
  }
  if (per_try && !route.has_per_try_timeout()) {
    *route.mutable_per_try_timeout() = to_proto(*per_try);
    route.mutable_timeout_origins()->set_per_try(origin);
  }
  if (idle && !route.has_idle_timeout()) {
    *route.mutable_idle_timeout() = to_proto(*idle);
    route.mutable_timeout_origins()->set_idle(origin);
  }
}

tl::expected<TimeoutDefaults, Rejected> parse_timeouts(const mesh::v1alpha1::TimeoutPolicy& policy,
                                                       std::string origin) {
  TimeoutDefaults out;
  out.origin = std::move(origin);
  const std::array fields{std::tuple{"request", &policy.request(), &out.request},
                          std::tuple{"perTry", &policy.per_try(), &out.per_try},
                          std::tuple{"idle", &policy.idle(), &out.idle}};
  for (auto [name, text, parsed] : fields) {
    if (text->empty()) continue;
    *parsed = parse_duration(*text);
    if (!*parsed) {
      return tl::unexpected(
          Rejected{"Accepted", "InvalidValue",
                   fmt::format("timeouts.{} '{}' is not a duration", name, *text)});
    }
  }
  return out;
}

}  // namespace weft::cp::translate
