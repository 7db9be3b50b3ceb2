#include "controlplane/sources/kubernetes/watch_stream.h"

#include <boost/json/parse.hpp>

#include "common/json_access.h"
#include "controlplane/sources/kubernetes/json_yaml.h"

namespace weft::cp::kubernetes {
namespace {

namespace json = boost::json;
// Read without at()/as_*(), which throw: a malformed answer is an error to
// count, not the end of the informer's coroutine.
using json_access::member;
using json_access::string_at;

// Observed state, written by controllers and by us, is not what users
// declared; the strict readers of our kinds and routes would take it for an
// unknown field. Pods keep theirs (the Pod IP is in it).
void drop_observed_state(json::object& object, const std::string& kind) {
  if (auto* meta = object.if_contains("metadata"); meta && meta->is_object()) {
    meta->as_object().erase("managedFields");
  }
  if (kind != "Pod" && kind != "Service") object.erase("status");
}

}  // namespace

std::optional<WatchEvent> parse_event(std::string_view line) {
  boost::system::error_code ec;
  auto event = json::parse(line, ec);
  if (ec) return std::nullopt;
  auto type = string_at(event, "type");
  if (type.empty() || !member(event, "object").is_object()) return std::nullopt;
  return WatchEvent{std::string(type), std::move(event.get_object()["object"])};
}

std::int64_t error_code(const WatchEvent& event) {
  const auto& code = member(event.object, "code");
  return code.is_int64() ? code.get_int64() : 0;
}

std::string_view resource_version(const WatchEvent& event) {
  return string_at(member(event.object, "metadata"), "resourceVersion");
}

CachedObject read_object(json::value object, const std::string& kind) {
  CachedObject out;
  if (!object.is_object()) {
    out.error = "not a JSON object";
    return out;
  }
  drop_observed_state(object.get_object(), kind);
  const auto& meta = member(object, "metadata");
  out.ns = std::string(string_at(meta, "namespace"));
  out.name = std::string(string_at(meta, "name"));
  auto parsed = model::parse_object(to_yaml(object), kind);
  if (!parsed) {
    out.error = parsed.error().message;
  } else if (auto* value = std::get_if<model::Object>(&*parsed)) {
    out.object = std::make_shared<const model::Object>(std::move(*value));
  } else {
    out.error = "not a kind the mesh reads";
  }
  return out;
}

}  // namespace weft::cp::kubernetes
