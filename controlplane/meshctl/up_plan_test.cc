#include "controlplane/meshctl/up_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/yaml_proto.h"
#include "controlplane/sources/directory.h"

namespace weft::meshctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

cp::model::Store store_from(std::string_view text) {
  cp::model::Store store;
  auto documents = yaml::load_documents(text, "m.yaml");
  EXPECT_TRUE(documents);
  for (const auto& d : *documents) {
    auto parsed = cp::model::parse_object(d, "m.yaml");
    EXPECT_TRUE(parsed) << parsed.error().message;
    store.put(std::get<cp::model::Object>(*parsed));
  }
  return store;
}

constexpr std::string_view kMesh = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: other}
spec: {selector: {app: other}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: reviews}}
    spec:
      containers:
        - name: app
          command: [app, --port, $(PORT), --literal, $$(PORT), --unknown, $(NOPE)]
          env: [{name: PORT, value: "9080"}]
          ports: [{name: http, containerPort: 9080}]
)";

TEST(PlanUp, ReplicasGetPortsCommandsPodsAndEndpointSlices) {
  std::uint32_t next = 40000;
  auto plan = plan_up(store_from(kMesh), [&] { return next++; });
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->workloads.size(), 2u);
  const auto& w = plan->workloads[0];
  EXPECT_EQ(w.name, "reviews-0");
  EXPECT_EQ(w.app_ports.at(9080), 40000u);
  EXPECT_EQ(w.inbound.at(40000), 40001u);
  EXPECT_EQ(w.outbound, 40002u);
  EXPECT_THAT(w.command, ElementsAre("app", "--port", "40000", "--literal", "$(PORT)", "--unknown",
                                     "$(NOPE)"));
  EXPECT_EQ(w.env.at("http_proxy"), "http://127.0.0.1:40002");
  EXPECT_EQ(plan->workloads[1].name, "reviews-1");

  // The generated manifests read back as the control plane reads them.
  auto generated = store_from(plan->manifests);
  ASSERT_EQ(generated.pods.size(), 2u);
  const auto& pod = *generated.pods.at({"default", "reviews-0"});
  EXPECT_EQ(pod.status().pod_ip(), "127.0.0.1");
  EXPECT_EQ(pod.metadata().annotations().at("mesh.weft.io/local-ports"),
            "outbound=40002,admin=40003,metrics=40004,inbound.40000=40001");
  ASSERT_EQ(generated.endpoint_slices.size(), 2u) << "only the selected Service gets endpoints";
  const auto& slice = *generated.endpoint_slices.at({"default", "reviews-reviews-0"});
  EXPECT_EQ(slice.metadata().labels().at("kubernetes.io/service-name"), "reviews");
  EXPECT_EQ(slice.ports(0).port(), 40000u);
  EXPECT_EQ(slice.endpoints(0).target_ref().name(), "reviews-0");
}

TEST(PlanUp, ARePlanKeepsThePortsOfWorkloadsItHadAndGivesNewOnesTheirOwn) {
  std::uint32_t next = 40000;
  auto allocate = [&] { return next++; };
  auto first = plan_up(store_from(kMesh), allocate);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->workloads[0].service_account, "default");

  // Three replicas now, and a service account: reviews-0 and -1 keep every
  // port (their processes need not restart), reviews-2 gets new ones.
  std::string scaled(kMesh);
  scaled.replace(scaled.find("replicas: 2"), 11, "replicas: 3");
  scaled.replace(scaled.find("containers:"), 11, "serviceAccountName: reviews\n      containers:");
  auto second = plan_up(store_from(scaled), allocate, &*first);
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_EQ(second->workloads.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const auto& before = first->workloads[i];
    const auto& after = second->workloads[i];
    EXPECT_EQ(after.app_ports, before.app_ports);
    EXPECT_EQ(after.inbound, before.inbound);
    EXPECT_EQ(after.outbound, before.outbound);
    EXPECT_EQ(after.admin, before.admin);
    EXPECT_EQ(after.metrics, before.metrics);
    EXPECT_TRUE(after.same_processes(before));
    EXPECT_EQ(after.service_account, "reviews");
  }
  EXPECT_EQ(second->workloads[2].app_ports.at(9080), 40010u);  // after the first ten

  // A changed command is not the same processes.
  std::string changed(kMesh);
  changed.replace(changed.find("--literal"), 9, "--verbose");
  auto third = plan_up(store_from(changed), allocate, &*first);
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->workloads[0].same_processes(first->workloads[0]));
}

TEST(PlanUp, DeploymentWithoutCommandIsAnError) {
  auto plan = plan_up(store_from(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}
)"),
                      [] { return 1u; });
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message,
              HasSubstr("Deployment default/web: container web has no command"));
}

// With Nodes in the manifests every replica is placed as a scheduler
// would: on its nodeName, else in turn over the Nodes its nodeSelector
// matches (all without one); its Pod says so and its endpoint carries the
// Node and the Node's zone.
TEST(PlanUp, ReplicasArePlacedOnNodesInTheirZones) {
  constexpr std::string_view kNodes = R"(
---
apiVersion: v1
kind: Node
metadata: {name: a1, labels: {topology.kubernetes.io/zone: zone-a}}
---
apiVersion: v1
kind: Node
metadata: {name: a2, labels: {topology.kubernetes.io/zone: zone-a}}
---
apiVersion: v1
kind: Node
metadata: {name: b1, labels: {topology.kubernetes.io/zone: zone-b}}
)";
  auto placed = [&](std::string_view scheduling, int replicas) {
    std::string text(kMesh);
    text.replace(text.find("replicas: 2"), 11, "replicas: " + std::to_string(replicas));
    text.replace(text.find("containers:"), 11, std::string(scheduling) + "\n      containers:");
    std::uint32_t next = 40000;
    return plan_up(store_from(text + std::string(kNodes)), [&] { return next++; });
  };
  auto nodes_of = [](const UpPlan& plan) {
    std::vector<std::string> nodes;
    for (const auto& w : plan.workloads) nodes.push_back(w.node);
    return nodes;
  };
  auto spread = placed("schedulerName: default-scheduler", 4);
  ASSERT_TRUE(spread) << spread.error().message;
  EXPECT_THAT(nodes_of(*spread), ElementsAre("a1", "a2", "b1", "a1"));

  auto in_b = placed("nodeSelector: {topology.kubernetes.io/zone: zone-b}", 2);
  ASSERT_TRUE(in_b) << in_b.error().message;
  EXPECT_THAT(nodes_of(*in_b), ElementsAre("b1", "b1"));
  auto generated = store_from(in_b->manifests);
  EXPECT_EQ(generated.pods.at({"default", "reviews-1"})->spec().node_name(), "b1");
  const auto& endpoint =
      generated.endpoint_slices.at({"default", "reviews-reviews-0"})->endpoints(0);
  EXPECT_EQ(endpoint.node_name(), "b1");
  EXPECT_EQ(endpoint.zone(), "zone-b");

  auto pinned = placed("nodeName: a2", 1);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_THAT(nodes_of(*pinned), ElementsAre("a2"));

  auto nowhere = placed("nodeSelector: {topology.kubernetes.io/zone: zone-c}", 1);
  ASSERT_FALSE(nowhere);
  EXPECT_THAT(nowhere.error().message,
              HasSubstr("Deployment default/reviews: no Node in the manifests matches "
                        "nodeSelector topology.kubernetes.io/zone=zone-c"));
  auto missing = placed("nodeName: z9", 1);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("nodeName z9: no such Node"));

  // Without Nodes nothing is placed, as before.
  std::uint32_t next = 40000;
  auto plain = plan_up(store_from(kMesh), [&] { return next++; });
  ASSERT_TRUE(plain);
  EXPECT_THAT(nodes_of(*plain), ElementsAre("", ""));
}

TEST(Expand, KubernetesVariableReferences) {
  std::map<std::string, std::string> env{{"A", "1"}};
  EXPECT_EQ(expand("x$(A)y", env), "x1y");
  EXPECT_EQ(expand("$$(A)", env), "$(A)");
  EXPECT_EQ(expand("$(B)", env), "$(B)");
  EXPECT_EQ(expand("$", env), "$");
  EXPECT_EQ(expand("$(A", env), "$(A");
}

}  // namespace
}  // namespace weft::meshctl
