"""mesh-controlplane --kubeconfig against the test API server, driven by
real kubectl: what is applied reaches connected proxies (simulated by
build/bin/weft-bench-proxies, which ACK as mesh-proxy does) within a
second; a dropped watch and a watch history overflow (410) lose no change;
a custom resource the schema rejects and one that is semantically wrong
both leave the proxies' configuration as it was."""
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apiserver_harness import ROOT, ApiServer, free_port  # noqa: E402

BUILD = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build"))
PODS = 3

ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: reviews}}
spec:
  parentRefs: [{{group: "", kind: Service, name: reviews, port: 9080}}]
  rules:
    - backendRefs:
        - {{name: reviews-v1, port: 9080, weight: {v1}}}
        - {{name: reviews-v2, port: 9080, weight: {v2}}}
"""

# What the EndpointSlice controller would write for reviews-v1's one Pod.
ENDPOINTS = """apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-v1-abcde
  labels: {kubernetes.io/service-name: reviews-v1}
addressType: IPv4
ports: [{name: http, port: 9080, protocol: TCP}]
endpoints:
  - addresses: [10.1.1.1]
    conditions: {ready: true}
    targetRef: {kind: Pod, name: reviews-v1-0, namespace: default}
"""


class Proxies:
    """N simulated proxies (Pods pod-0..N-1) on one control plane."""

    def __init__(self, grpc_address, count, token_dir):
        self.count = count
        self.process = subprocess.Popen(
            [str(BUILD / "bin" / "weft-bench-proxies"), "--target", grpc_address, "--proxies",
             str(count), "--connect-timeout", "20", "--token-dir", str(token_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("connected"), line
        self.acks = 1

    def wait_for_next_version(self, seconds):
        """Waits until every proxy ACKed one more response; their ACK times."""
        self.acks += 1
        self.process.stdin.write(f"wait {self.acks} {seconds}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


class Cluster:
    """The test API server with the demo's Services, route and Pods, and a
    control plane watching it: through a kubeconfig, or `in_cluster` as in a
    Pod (KUBERNETES_SERVICE_HOST/PORT and a service-account directory with
    token, ca.crt and namespace)."""

    def __init__(self, tmp_path, in_cluster=False):
        self.api = ApiServer(tmp_path, "--bookmark-seconds", "0.5", "--history", "200",
                             "--token", "sa-token-1")
        self.tmp = tmp_path
        self.api.kubectl("apply", "-f", str(ROOT / "deploy/crds/"), "-f", str(HERE / "crds/"))
        self.api.kubectl("create", "namespace", "mesh-system")  # where the Lease lives
        self.api.kubectl("apply", "-f", str(ROOT / "deploy/examples/demo/services.yaml"))
        self.apply_route(90, 10)
        self.api.kubectl("create", "serviceaccount", "default")  # no controller makes it here
        self.tokens = tmp_path / "tokens"
        self.tokens.mkdir()
        for i in range(PODS):
            self.add_pod(f"pod-{i}", "client", f"10.1.0.{i + 10}")
            (self.tokens / f"pod-{i}").write_text(self.pod_token(f"pod-{i}") + "\n")
        self.add_pod("reviews-v1-0", "reviews-v1", "10.1.1.1")
        self.api.kubectl("apply", "-f", "-", stdin=ENDPOINTS)
        self.status_address = f"127.0.0.1:{free_port()}"
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.log = open(tmp_path / "controlplane.log", "w")
        env = dict(os.environ)
        source = ["--kubeconfig", str(self.api.kubeconfig)]
        if in_cluster:
            self.account = tmp_path / "serviceaccount"
            self.account.mkdir()
            (self.account / "token").write_text("sa-token-1\n")
            (self.account / "ca.crt").write_text(self.api.cert.read_text())
            (self.account / "namespace").write_text("mesh-system")
            env.update(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(self.api.port))
            source = ["--service-account-dir", str(self.account)]
        self.controlplane = subprocess.Popen(
            [str(BUILD / "bin" / "mesh-controlplane"), *source,
             "--grpc-address", self.grpc_address, "--status-address", self.status_address],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.get("/ready")[0] != 200:
            time.sleep(0.1)
        assert self.get("/ready")[0] == 200, (tmp_path / "controlplane.log").read_text()

    def add_pod(self, name, app, ip):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "labels": {"app": app}},
               "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 9080}]}]}}
        assert self.api.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
        status = {"status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}}
        code, _, _ = self.api.request("PATCH", f"/api/v1/namespaces/default/pods/{name}/status",
                                      status, content_type="application/merge-patch+json")
        assert code == 200

    def pod_token(self, pod, audience="mesh.weft.io"):
        """What the injector's projected volume holds: the Pod's token for the mesh."""
        return self.api.kubectl("create", "token", "default", "--audience", audience,
                                "--bound-object-kind", "Pod", "--bound-object-name",
                                pod).stdout.strip()

    def apply_route(self, v1, v2):
        path = self.tmp / "route.yaml"
        path.write_text(ROUTE.format(v1=v1, v2=v2))
        self.api.kubectl("apply", "-f", str(path))

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://{self.status_address}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def weights(self, proxy="pod-0"):
        config = json.loads(self.get(f"/config?proxy=default/{proxy}")[1])
        for table in config["route_tables"]:
            for vhost in table.get("virtual_hosts", []):
                if vhost["name"].startswith("reviews.default"):
                    clusters = vhost["routes"][0]["forward"]["clusters"]
                    return [c.get("weight", 1) for c in clusters]
        return None

    def metric(self, name, **labels):
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def endpoints(self, cluster_name, proxy="pod-0"):
        config = json.loads(self.get(f"/config?proxy=default/{proxy}")[1])
        for c in config["clusters"]:
            if c["name"] == cluster_name:
                return [(e["address"], e["port"]) for e in c.get("endpoints", [])]
        return None

    def metric_value(self, name):
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self):
        self.controlplane.terminate()
        self.controlplane.wait(timeout=10)
        self.log.close()
        self.api.stop()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.stop()


def test_applied_route_reaches_every_proxy_within_a_second(cluster):
    proxies = Proxies(cluster.grpc_address, PODS, cluster.tokens)
    try:
        assert cluster.weights() == [90, 10]
        assert cluster.endpoints("reviews-v1.default:9080") == [("10.1.1.1", 9080)]
        store = json.loads(cluster.get("/debug/store")[1])
        assert [e["name"] for e in store["endpointSlices"]] == ["reviews-v1-abcde"]
        assert {s["name"] for s in store["services"]} >= {"reviews", "reviews-v1", "reviews-v2"}
        assert [r["name"] for r in store["httpRoutes"]] == ["reviews"]
        # Timed from the write itself (a merge patch, as `kubectl patch` sends
        # it), not from a kubectl process starting and discovering the API.
        patch = {"spec": {"rules": [{"backendRefs": [
            {"name": "reviews-v1", "port": 9080, "weight": 50},
            {"name": "reviews-v2", "port": 9080, "weight": 50}]}]}}
        started = time.monotonic()
        code, _, _ = cluster.api.request(
            "PATCH", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/reviews",
            patch, content_type="application/merge-patch+json")
        assert code == 200
        report = proxies.wait_for_next_version(5)
        assert report["updated"] == PODS and report["errors"] == 0, report
        assert max(report["acked_at"]) - started < 1.0, report
        assert cluster.weights() == [50, 50]
        route = json.loads(cluster.api.kubectl("get", "httproute", "reviews", "-o", "json").stdout)
        parent = route["status"]["parents"][0]
        assert parent["controllerName"] == "mesh.weft.io/controlplane"
        assert parent["parentRef"]["name"] == "reviews"
        assert {c["type"]: c["status"] for c in parent["conditions"]} == {
            "Accepted": "True", "ResolvedRefs": "True"}
        assert cluster.metric_value("mesh_controlplane_leader") == 1

        # A second Pod behind reviews-v1: its endpoint reaches every proxy.
        cluster.api.kubectl("apply", "-f", "-", stdin=ENDPOINTS.replace(
            "  - addresses: [10.1.1.1]", "  - addresses: [10.1.1.2]\n  - addresses: [10.1.1.1]"))
        assert proxies.wait_for_next_version(5)["updated"] == PODS
        assert sorted(cluster.endpoints("reviews-v1.default:9080")) == [("10.1.1.1", 9080),
                                                                       ("10.1.1.2", 9080)]
    finally:
        proxies.stop()


def test_dropped_watches_and_a_410_lose_no_change(cluster):
    proxies = Proxies(cluster.grpc_address, PODS, cluster.tokens)
    try:
        relists = cluster.metric("mesh_controlplane_kubernetes_relists_total", kind="HTTPRoute")
        cluster.api.request("POST", "/_test/end-watches")
        cluster.apply_route(70, 30)  # while the control plane re-watches from its last version
        assert proxies.wait_for_next_version(10)["updated"] == PODS
        assert cluster.weights() == [70, 30]

        # The watch history overflows while the stream is down: 410, relist.
        cluster.api.request("POST", "/_test/end-watches")
        cluster.api.request("POST", "/_test/compact")
        cluster.apply_route(20, 80)
        assert proxies.wait_for_next_version(10)["updated"] == PODS
        assert cluster.weights() == [20, 80]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and cluster.metric(
                "mesh_controlplane_kubernetes_relists_total", kind="HTTPRoute") <= relists:
            time.sleep(0.1)
        assert cluster.metric("mesh_controlplane_kubernetes_relists_total",
                              kind="HTTPRoute") > relists
    finally:
        proxies.stop()


def test_api_server_restart_is_survived(cluster):
    proxies = Proxies(cluster.grpc_address, PODS, cluster.tokens)
    try:
        cluster.api.restart(down_seconds=1.0)
        cluster.apply_route(60, 40)
        report = proxies.wait_for_next_version(15)
        assert report["updated"] == PODS, report
        assert cluster.weights() == [60, 40]
        assert cluster.get("/ready")[0] == 200
    finally:
        proxies.stop()


def test_in_cluster_config_follows_a_rotated_token(tmp_path):
    cluster = Cluster(tmp_path, in_cluster=True)
    proxies = Proxies(cluster.grpc_address, PODS, cluster.tokens)
    try:
        assert cluster.weights() == [90, 10]
        # The kubelet rotates the bound token; the API server stops taking the old one.
        (cluster.account / "token").write_text("sa-token-2\n")
        cluster.api.restart(extra=("--bookmark-seconds", "0.5", "--token", "sa-token-2"))
        cluster.apply_route(30, 70)
        report = proxies.wait_for_next_version(15)
        assert report["updated"] == PODS, report
        assert cluster.weights() == [30, 70]
    finally:
        proxies.stop()
        cluster.stop()


def test_deleted_while_disconnected_is_gone_after_the_relist(cluster):
    cluster.api.request("POST", "/_test/end-watches")
    cluster.api.request("POST", "/_test/compact")
    cluster.api.kubectl("delete", "httproute", "reviews")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and json.loads(cluster.get("/debug/store")[1])["httpRoutes"]:
        time.sleep(0.1)
    assert json.loads(cluster.get("/debug/store")[1])["httpRoutes"] == []


def test_rejected_and_wrong_policies_leave_traffic_untouched(cluster):
    proxies = Proxies(cluster.grpc_address, PODS, cluster.tokens)
    try:
        bad = cluster.tmp / "bad.yaml"
        bad.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy\n"
                       "metadata: {name: bad}\n"
                       "spec: {targetRef: {kind: Service, name: reviews, port: 0}}\n")
        result = cluster.api.kubectl("apply", "-f", str(bad), check=False)
        assert result.returncode != 0 and "spec.targetRef.port" in result.stderr

        wrong = cluster.tmp / "wrong.yaml"
        wrong.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy\n"
                         "metadata: {name: wrong}\n"
                         "spec: {targetRef: {kind: Service, name: ratings}, "
                         "timeouts: {request: 2s}}\n")
        cluster.api.kubectl("apply", "-f", str(wrong))
        deadline = time.monotonic() + 5
        condition = None
        while time.monotonic() < deadline and condition is None:
            status = json.loads(cluster.get("/status")[1])
            condition = next((c for c in status["conditions"]
                              if c["object"] == "TrafficPolicy default/wrong"), None)
            time.sleep(0.1)
        assert condition and condition["status"] == "False", status["conditions"]
        written = None
        while time.monotonic() < deadline + 5 and not written:
            policy = json.loads(cluster.api.kubectl("get", "trafficpolicy", "wrong",
                                                    "-o", "json").stdout)
            written = policy.get("status", {}).get("conditions")
            time.sleep(0.2)
        assert written and written[0]["type"] == "Accepted" and written[0]["status"] == "False"
        assert written[0]["reason"] == condition["reason"] and written[0]["observedGeneration"] == 1
        report = proxies.wait_for_next_version(1.5)
        assert report["updated"] == 0, "neither policy changed any proxy's configuration"
        assert cluster.weights() == [90, 10]
    finally:
        proxies.stop()


def test_a_proxy_is_served_only_the_pod_its_token_is_bound_to(cluster, tmp_path):
    """The discovery stream's token is reviewed (TokenReview): a real
    mesh-proxy naming pod-1 with pod-0's projected token is refused, one
    with its own token is served, a token for another audience proves nothing."""

    def run_proxy(name, token):
        token_file = tmp_path / f"{name}.token"
        token_file.write_text(token + "\n")
        log_path = tmp_path / f"{name}.log"
        proxy = subprocess.Popen(
            [str(BUILD / "bin" / "mesh-proxy"), "--controlplane", cluster.grpc_address, "--node",
             name, "--namespace", "default", "--concurrency", "1", "--token-file", str(token_file)],
            stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        return proxy, log_path

    def wait_for(condition, what):
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, what()
            time.sleep(0.1)

    impostor, impostor_log = run_proxy("pod-1", cluster.pod_token("pod-0"))
    honest, _ = run_proxy("pod-2", cluster.pod_token("pod-2"))
    other_audience, other_log = run_proxy(
        "pod-0", cluster.pod_token("pod-0", "https://kubernetes.default.svc.cluster.local"))
    try:
        wait_for(lambda: "grpc-status 7" in impostor_log.read_text(), impostor_log.read_text)
        assert "the token is default/pod-0's, not default/pod-1's" in impostor_log.read_text()
        wait_for(lambda: "grpc-status 16" in other_log.read_text(), other_log.read_text)

        def served():
            proxies = json.loads(cluster.get("/status")[1])["proxies"]
            return [p["name"] for p in proxies if p["in_sync"]] == ["pod-2"]
        wait_for(served, lambda: cluster.get("/status")[1])
        assert cluster.metric("mesh_controlplane_proxy_auth_total", result="denied") >= 1
        assert cluster.metric("mesh_controlplane_proxy_auth_total", result="unauthenticated") >= 1
        assert cluster.metric("mesh_controlplane_proxy_auth_total", result="accepted") >= 1
        assert impostor.poll() is None, "a refused proxy keeps retrying"
    finally:
        for proxy in (impostor, honest, other_audience):
            proxy.terminate()
            proxy.wait(timeout=10)


NODES = """apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: eu-west-1, topology.kubernetes.io/zone: eu-west-1a}
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: {topology.kubernetes.io/region: eu-west-1, topology.kubernetes.io/zone: eu-west-1b}
"""


def test_nodes_place_proxies_and_endpoints(cluster):
    """Nodes applied with kubectl: a connected proxy whose Pod runs on
    node-a is told it is in eu-west-1a, an endpoint on node-b carries
    eu-west-1b, and relabelling the Node moves the endpoint."""
    cluster.api.kubectl("apply", "-f", "-", stdin=NODES)
    zoned = f"pod-{PODS}"  # the simulated proxies' next name
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": zoned},
           "spec": {"nodeName": "node-a", "containers": [{"name": "app"}]}}
    assert cluster.api.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    status = {"status": {"podIP": "10.1.0.99", "phase": "Running"}}
    assert cluster.api.request("PATCH", f"/api/v1/namespaces/default/pods/{zoned}/status", status,
                               content_type="application/merge-patch+json")[0] == 200
    (cluster.tokens / zoned).write_text(cluster.pod_token(zoned) + "\n")
    cluster.api.kubectl("apply", "-f", "-", stdin=ENDPOINTS.replace(
        "    targetRef:", "    nodeName: node-b\n    targetRef:") + """  - addresses: [10.1.1.9]
    conditions: {ready: false}
    nodeName: node-a
""")
    proxies = Proxies(cluster.grpc_address, PODS + 1, cluster.tokens)
    try:
        def config():
            code, body = cluster.get(f"/config?proxy=default/{zoned}")
            return json.loads(body) if code == 200 else {}

        def reviews_v1_locality():
            clusters = {c["name"]: c for c in config().get("clusters", [])}
            endpoints = clusters.get("reviews-v1.default:9080", {}).get("endpoints", [])
            return endpoints[0].get("locality", {}) if endpoints else {}

        deadline = time.monotonic() + 5
        while not reviews_v1_locality() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert config().get("locality") == {"region": "eu-west-1", "zone": "eu-west-1a"}
        assert reviews_v1_locality() == {"region": "eu-west-1", "zone": "eu-west-1b"}
        # A not-ready endpoint is listed apart, for the live view only.
        reviews_v1 = [c for c in config()["clusters"] if c["name"] == "reviews-v1.default:9080"][0]
        assert [e["address"] for e in reviews_v1["endpoints"]] == ["10.1.1.1"]
        assert reviews_v1["not_ready_endpoints"] == [
            {"address": "10.1.1.9", "port": 9080,
             "locality": {"region": "eu-west-1", "zone": "eu-west-1a"}}]

        cluster.api.kubectl("label", "node", "node-b", "--overwrite",
                            "topology.kubernetes.io/zone=eu-west-1c")
        deadline = time.monotonic() + 5
        while reviews_v1_locality().get("zone") != "eu-west-1c" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reviews_v1_locality() == {"region": "eu-west-1", "zone": "eu-west-1c"}
    finally:
        proxies.stop()


def test_authorization_policy_is_checked_by_the_schema_and_gets_its_status(cluster):
    """kubectl apply of an AuthorizationPolicy: the CRD's schema refuses an
    unknown action; an accepted one covers the namespace's Pods and says so
    in the status the control plane writes."""
    bad = cluster.tmp / "audit.yaml"
    bad.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: AuthorizationPolicy\n"
                   "metadata: {name: audit}\n"
                   "spec: {targetRef: {kind: Namespace, name: default}, action: AUDIT}\n")
    result = cluster.api.kubectl("apply", "-f", str(bad), check=False)
    assert result.returncode != 0 and "spec.action" in result.stderr, result.stderr
    good = cluster.tmp / "deny-all.yaml"
    good.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: AuthorizationPolicy\n"
                    "metadata: {name: plaintext}\n"
                    "spec:\n  targetRef: {kind: Namespace, name: default}\n  action: DENY\n"
                    "  rules: [{from: [{unauthenticated: true}], to: [{ports: [9080]}]}]\n")
    cluster.api.kubectl("apply", "-f", str(good))
    deadline = time.monotonic() + 10
    written = None
    while time.monotonic() < deadline and not written:
        policy = json.loads(cluster.api.kubectl("get", "authorizationpolicy", "plaintext",
                                                "-o", "json").stdout)
        written = policy.get("status", {}).get("conditions")
        time.sleep(0.2)
    assert written and written[0]["type"] == "Accepted" and written[0]["status"] == "True", written
    assert f"covers {PODS + 1} workloads" in written[0]["message"], written
    table = cluster.api.kubectl("get", "authz").stdout
    assert "plaintext" in table, table  # the short name: kubectl get authz
