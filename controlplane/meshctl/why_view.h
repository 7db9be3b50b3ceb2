// `meshctl why`'s pure half: the arguments, and the answer
// (controlplane/explain) rendered for people.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "controlplane/explain/why.h"

namespace weft::meshctl {

struct ServiceRef {
  std::string ns, name;
  std::uint32_t port = 0;  // 0: not given
};

// NAME, NAME.NAMESPACE[.svc[.cluster.local]] or NAMESPACE/NAME, each with an
// optional :PORT. A NAME alone is in `default_ns`: the caller's namespace,
// as cluster DNS resolves it.
tl::expected<ServiceRef, std::string> parse_service_ref(std::string_view arg,
                                                        const std::string& default_ns);

// "name: value" (curl's -H) -> the pair; an error without a colon.
tl::expected<std::pair<std::string, std::string>, std::string> parse_header(std::string_view arg);

// The answer as text: the path, the routes in the order the sidecar tries
// them, the backends, the objects in force with their conditions, and the
// problems found.
std::string why_text(const boost::json::object& answer);

}  // namespace weft::meshctl
