// `meshctl inject`: injection applied offline to a stream of manifests, the
// way the webhook would mesh the Pods each workload creates.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "injector/inject.h"

namespace weft::injector {

struct InjectedManifests {
  std::string yaml;                // every document, Pod templates injected
  std::vector<std::string> notes;  // one line per workload left alone, and why
};

// Multi-document YAML in, the same documents out with every Pod, and the
// Pod template of every Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController, Job and CronJob (and the items of a List),
// injected. Other documents pass through unchanged.
Result<InjectedManifests> inject_manifests(std::string_view yaml, const Settings& settings);

}  // namespace weft::injector
