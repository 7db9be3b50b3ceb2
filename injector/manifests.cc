#include "injector/manifests.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include "common/json_access.h"
#include "common/json_yaml.h"
#include "common/yaml_stream.h"
#include "injector/json_patch.h"

namespace weft::injector {
namespace {

namespace json = boost::json;
using json_access::object_at;
using json_access::string_at;

// Where a workload keeps its Pod template; null for other kinds.
json::object* pod_template(json::object& document) {
  auto kind = string_at(&document, "kind");
  if (kind == "Pod") return &document;
  auto* spec = document.if_contains("spec");
  if (spec == nullptr || !spec->is_object()) return nullptr;
  if (kind == "CronJob") {
    auto* job = spec->get_object().if_contains("jobTemplate");
    spec = job != nullptr && job->is_object() ? job->get_object().if_contains("spec") : nullptr;
    if (spec == nullptr || !spec->is_object()) return nullptr;
  } else if (kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet" &&
             kind != "ReplicaSet" && kind != "ReplicationController" && kind != "Job") {
    return nullptr;
  }
  auto* found = spec->get_object().if_contains("template");
  return found != nullptr && found->is_object() ? &found->get_object() : nullptr;
}

std::string describe(const json::object& document) {
  const auto* metadata = object_at(&document, "metadata");
  auto ns = string_at(metadata, "namespace");
  return fmt::format("{} {}{}{}", string_at(&document, "kind"), ns, ns.empty() ? "" : "/",
                     string_at(metadata, "name"));
}

Result<void> inject_document(json::object& document, const Settings& settings,
                             std::vector<std::string>& notes) {
  if (string_at(&document, "kind") == "List") {
    auto* items = document.if_contains("items");
    if (items == nullptr || !items->is_array()) return {};
    for (auto& item : items->get_array()) {
      if (!item.is_object()) continue;
      if (auto done = inject_document(item.get_object(), settings, notes); !done) return done;
    }
    return {};
  }
  auto* pod = pod_template(document);
  if (pod == nullptr) return {};
  auto injection = inject(*pod, json::object(), settings);
  if (!injection) return tl::unexpected(with_context(injection.error(), describe(document)));
  if (!injection->injected) {
    notes.push_back(
        fmt::format("{}: not injected ({})", describe(document), injection->skip_reason));
    return {};
  }
  json::value patched = std::move(*pod);
  if (auto applied = apply_patch(patched, injection->patch); !applied) {
    return tl::unexpected(with_context(applied.error(), describe(document)));
  }
  *pod = std::move(patched.get_object());
  return {};
}

}  // namespace

Result<InjectedManifests> inject_manifests(std::string_view yaml, const Settings& settings) {
  auto loaded = yaml::load_all(yaml, "manifests");
  if (!loaded) return tl::unexpected(loaded.error());
  const auto& documents = *loaded;
  InjectedManifests out;
  bool first = true;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].IsNull()) continue;  // an empty document between two "---"
    auto value = json_yaml::to_json(documents[i]);
    if (!value)
      return tl::unexpected(with_context(value.error(), fmt::format("document {}", i + 1)));
    if (!value->is_object()) {
      return fail(ErrorCode::kInvalidArgument, "document {}: not a Kubernetes object", i + 1);
    }
    if (auto done = inject_document(value->get_object(), settings, out.notes); !done) {
      return tl::unexpected(with_context(done.error(), fmt::format("document {}", i + 1)));
    }
    if (!first) out.yaml += "---\n";
    first = false;
    out.yaml += json_yaml::to_yaml(*value);
  }
  return out;
}

}  // namespace weft::injector
