"""The control plane end to end: `meshctl up` of the demo mesh (control
plane, three workloads, three sidecars, all real processes on 127.0.0.1),
traffic from the client's sidecar, live manifest changes, NACKs, a control
plane restart under load, and the discovery protocol spoken by Python grpcio
as a fake proxy."""
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import http.client
import urllib.error

import grpc
import pytest

from conftest import BUILD, ROOT, free_port, http_get

sys.path.insert(0, str(BUILD / "python"))
from mesh.v1 import discovery_pb2, discovery_pb2_grpc  # noqa: E402

MESHCTL = BUILD / "bin" / "meshctl"


class LocalMesh:
    """`meshctl up` of a copy of deploy/examples/demo."""

    def __init__(self, tmp_path, existing=None, extra_args=()):
        """`existing`: run again on another LocalMesh's directory and state;
        `extra_args`: more `meshctl up` flags."""
        if existing:
            self.dir, self.state = existing.dir, existing.state
            self.log_path = tmp_path / "up-again.log"
        else:
            self.dir, self.state = tmp_path / "demo", tmp_path / "run"
            shutil.copytree(ROOT / "deploy" / "examples" / "demo", self.dir)
            self.log_path = tmp_path / "up.log"
        self.status_address = f"127.0.0.1:{free_port()}"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(MESHCTL), "up", str(self.dir), "--state-dir", str(self.state),
             "--status-address", self.status_address, *extra_args], stdout=self.log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "mesh up" not in self.up_log():
            assert self.process.poll() is None, self.up_log()
            assert time.monotonic() < deadline, self.up_log()
            time.sleep(0.1)
        assert "every sidecar has its configuration" in self.up_log(), self.up_log()
        self.workloads = {w["name"]: w for w in json.loads((self.state / "mesh.json").read_text())["workloads"]}
        self.grpc = json.loads((self.state / "mesh.json").read_text())["controlplane"]["grpc"]
        self.outbound = self.workloads["client-0"]["outbound"]

    def token(self, name, ns="default"):
        """The bootstrap token `meshctl up` wrote for a workload's sidecar."""
        return (self.state / "secrets" / "tokens" / f"{ns}.{name}").read_text().strip()

    def up_log(self):
        self.log.flush()
        return self.log_path.read_text()

    def meshctl(self, *args, check=True):
        result = subprocess.run([str(MESHCTL), "--status", self.status_address, *args],
                                capture_output=True, text=True, timeout=30)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def status(self):
        return json.loads(self.meshctl("status", "-o", "json").stdout)

    def proxy(self, name):
        return [p for p in self.status()["proxies"] if p["name"] == name][0]

    def get(self, headers=None, port=None):
        """One request from the client workload to the reviews Service."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.outbound, timeout=5)
        try:
            conn.request("GET", "http://reviews:9080/", headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode().strip()
        finally:
            conn.close()

    def split(self, n=200):
        answers = [self.get()[1] for _ in range(n)]
        return answers.count("reviews-v1"), answers.count("reviews-v2")

    def write_route(self, v1, v2):
        route = self.dir / "route.yaml"
        text = re.sub(r"weight: \d+\}\n(\s+- \{name: reviews-v2)", f"weight: {v1}}}\n\\1",
                      route.read_text())
        text = re.sub(r"(reviews-v2, port: 9080, weight: )\d+", f"\\g<1>{v2}", text)
        tmp = route.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.rename(route)  # as editors and kubectl-style tools replace files

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.log.close()


class Load:
    """Keep-alive requests from the client's sidecar in two threads, bounded
    by count and time, counting answers by backend and failures."""

    def __init__(self, port, seconds=20, limit=200_000):
        self.port, self.deadline, self.limit = port, time.monotonic() + seconds, limit
        self.counts = {"reviews-v1": 0, "reviews-v2": 0}
        self.failures = []
        self.last = []
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(2)]
        for t in self.threads:
            t.start()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        sent = 0
        while not self.stopped.is_set() and time.monotonic() < self.deadline and sent < self.limit:
            sent += 1
            try:
                conn.request("GET", "http://reviews:9080/")
                response = conn.getresponse()
                body = response.read().decode().strip()
                with self.lock:
                    if response.status != 200:
                        self.failures.append(f"{response.status} {body}")
                    else:
                        self.counts[body] = self.counts.get(body, 0) + 1
                        self.last.append((time.monotonic(), body))
                        del self.last[:-400]
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def stop(self):
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=10)
        return self


class Wrk:
    """wrk against the client's sidecar, addressed to reviews by Host (the
    sidecar routes by authority), for a bounded time."""

    def __init__(self, port, seconds):
        self.process = subprocess.Popen(
            ["wrk", "-t1", "-c4", f"-d{seconds}s", "-H", "Host: reviews:9080",
             f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self):
        out = self.process.communicate(timeout=60)[0]
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.findall(r"(Socket errors:.*|Non-2xx or 3xx responses: \d+)", out)
        return requests, errors, out


@pytest.fixture
def mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def test_meshctl_help_lists_subcommands():
    out = subprocess.run([str(MESHCTL), "--help"], capture_output=True, text=True).stdout
    for command in ("status", "proxy-config", "check", "validate", "up"):
        assert re.search(rf"^\s+{command}\s", out, re.M), out


def test_demo_route_splits_and_routes_by_header(mesh):
    v1, v2 = mesh.split(200)
    assert v1 + v2 == 200
    # 90/10 by smooth weighted round robin: the client sidecar's one worker
    # (meshctl up runs --concurrency 1) sends one in every ten requests to v2,
    # wherever in its cycle earlier tests left it.
    assert 19 <= v2 <= 21, (v1, v2)
    assert {mesh.get({"x-canary": "1"})[1] for _ in range(10)} == {"reviews-v2"}
    status = mesh.status()
    assert len(status["proxies"]) == 3
    assert all(p["in_sync"] for p in status["proxies"]), status


def test_route_change_under_load_follows_within_a_second_with_no_failures(mesh):
    wrk = Wrk(mesh.outbound, 4)
    load = Load(mesh.outbound)  # also records which backend answered, and when
    time.sleep(0.5)
    changed_at = time.monotonic()
    mesh.write_route(0, 100)
    # Follows: from some moment on, every answer is v2.
    deadline = changed_at + 5
    followed_at = None
    while time.monotonic() < deadline and followed_at is None:
        time.sleep(0.05)
        with load.lock:
            recent = list(load.last)
        v1_times = [t for t, body in recent if body == "reviews-v1"]
        after = [body for t, body in recent if not v1_times or t > v1_times[-1]]
        if len(after) >= 50:
            followed_at = v1_times[-1] if v1_times else changed_at
    time.sleep(0.3)
    load.stop()
    requests, errors, out = wrk.result()
    assert requests > 100 and not errors, out
    assert not load.failures, load.failures[:5]
    assert followed_at is not None, "traffic never moved entirely to v2"
    assert followed_at - changed_at < 1.0, f"took {followed_at - changed_at:.2f} s"
    assert mesh.proxy("client-0")["in_sync"]
    metrics = http_get(f"http://{mesh.status_address}/metrics")[1]
    assert re.search(r"^mesh_controlplane_propagation_seconds_count [1-9]", metrics, re.M), metrics
    assert re.search(r"^mesh_controlplane_proxies_out_of_sync 0$", metrics, re.M), metrics


def test_rejected_config_keeps_traffic_and_shows_in_status(mesh):
    generated = mesh.state / "generated" / "workloads.yaml"
    text = generated.read_text()
    old = f"outbound={mesh.outbound},"
    assert old in text
    generated.write_text(text.replace(old, f"outbound={free_port()},"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "last_nack" not in mesh.proxy("client-0"):
        time.sleep(0.1)
    client = mesh.proxy("client-0")
    assert "last_nack" in client, client
    assert "listener" in client["last_nack"]["error"], client
    assert client["version_acked"] != client["version_desired"]
    table = mesh.meshctl("status").stdout
    assert re.search(r"client-0\s+NACKED", table), table
    check = mesh.meshctl("check", check=False)
    assert check.returncode == 1 and "not in sync" in check.stdout, check.stdout
    controlplane = http_get(f"http://{mesh.status_address}/metrics")[1]
    assert re.search(r"^mesh_controlplane_proxies_out_of_sync 1$", controlplane, re.M), controlplane
    # The sidecar still serves its last good configuration on the old port.
    assert mesh.get()[0] == 200
    metrics = http_get(f"http://127.0.0.1:{mesh.workloads['client-0']['metrics']}/stats/prometheus")[1]
    assert re.search(r'^mesh_discovery_events_total\{event="nack"\} [1-9]', metrics, re.M), metrics


def test_bad_manifest_is_reported_and_the_last_good_route_kept(mesh):
    mesh.write_route(0, 100)
    # One v2 answer is not enough: the old 90/10 route gives one now and
    # then. Wait until v2 takes everything, i.e. the 0/100 route is applied
    # (and so read as the last good one) before breaking the file.
    deadline = time.monotonic() + 10
    while mesh.split(20) != (0, 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    route = mesh.dir / "route.yaml"
    good = route.read_text()
    route.write_text(good.replace("backendRefs:\n        - {name: reviews-v1",
                                  "backendRefs:\n        - {nmae: reviews-v1"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not mesh.status()["manifests"]["errors"]:
        time.sleep(0.1)
    errors = mesh.status()["manifests"]["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["object"] == "HTTPRoute default/reviews"
    assert "route.yaml:" in errors[0]["message"] and "unknown field 'nmae'" in errors[0]["message"]
    assert "did you mean 'name'" in errors[0]["message"]
    assert {mesh.get()[1] for _ in range(20)} == {"reviews-v2"}, "the last good route stays"
    check = mesh.meshctl("check", check=False)
    assert check.returncode == 1 and "unknown field 'nmae'" in check.stdout
    route.write_text(good)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and mesh.status()["manifests"]["errors"]:
        time.sleep(0.1)
    assert mesh.meshctl("check").returncode == 0


def test_controlplane_restart_under_load_drops_nothing_and_resyncs(mesh):
    wrk = Wrk(mesh.outbound, 6)
    load = Load(mesh.outbound)
    time.sleep(0.5)
    pid = int(subprocess.run(["pgrep", "-f", f"mesh-controlplane.*{mesh.state}"],
                             capture_output=True, text=True).stdout.split()[0])
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)  # proxies serve on without it
    deadline = time.monotonic() + 20
    synced = False
    while time.monotonic() < deadline and not synced:
        time.sleep(0.2)
        try:
            proxies = mesh.status()["proxies"]
        except (AssertionError, json.JSONDecodeError):
            continue
        synced = len(proxies) == 3 and all(p["in_sync"] for p in proxies)
    # A change after the restart reaches the proxies: the resync is complete.
    mesh.write_route(0, 100)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and mesh.get()[1] != "reviews-v2":
        time.sleep(0.05)
    load.stop()
    requests, errors, out = wrk.result()
    assert requests > 100 and not errors, out
    assert synced, mesh.meshctl("status").stdout
    assert "control plane restarted" in mesh.up_log()
    assert not load.failures, load.failures[:5]
    assert sum(load.counts.values()) > 100
    assert {mesh.get()[1] for _ in range(10)} == {"reviews-v2"}


def test_grpc_fake_proxy_gets_full_config_acks_and_stale_nonces_are_counted(mesh):
    channel = grpc.insecure_channel(mesh.grpc)
    stub = discovery_pb2_grpc.DiscoveryStub(channel)
    requests = []
    ready = threading.Condition()

    def outgoing():
        sent = 0
        while True:
            with ready:
                ready.wait_for(lambda: len(requests) > sent, timeout=10)
                if len(requests) <= sent:
                    return
                item = requests[sent]
            sent += 1
            if item is None:
                return
            yield item

    def send(request):
        with ready:
            requests.append(request)
            ready.notify_all()

    send(discovery_pb2.DiscoveryRequest(node=discovery_pb2.Node(name="reviews-v1-0", namespace="default")))
    responses = stub.StreamConfig(outgoing(), timeout=20,
                                  metadata=[("authorization", f"Bearer {mesh.token('reviews-v1-0')}")])
    first = next(responses)
    assert first.WhichOneof("payload") == "config"
    assert first.version and first.nonce
    names = [c.name for c in first.config.clusters]
    assert "reviews-v2.default:9080" in names and names == sorted(names)
    send(discovery_pb2.DiscoveryRequest(version=first.version, nonce=first.nonce))
    send(discovery_pb2.DiscoveryRequest(version=first.version, nonce="stale"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        metrics = http_get(f"http://{mesh.status_address}/metrics")[1]
        if re.search(r"^mesh_controlplane_bad_requests_total [1-9]", metrics, re.M):
            break
        time.sleep(0.1)
    assert re.search(r"^mesh_controlplane_bad_requests_total [1-9]", metrics, re.M), metrics
    sessions = [p for p in mesh.status()["proxies"] if p["name"] == "reviews-v1-0"]
    assert len(sessions) == 2 and all(p["in_sync"] for p in sessions), sessions
    send(None)
    channel.close()


def open_stream(address, name, token=None):
    """The first response of a stream naming Pod default/NAME, None when it
    was accepted but had nothing to send (no such Pod), or the RpcError."""
    channel = grpc.insecure_channel(address)
    stub = discovery_pb2_grpc.DiscoveryStub(channel)
    hello = discovery_pb2.DiscoveryRequest(node=discovery_pb2.Node(name=name, namespace="default"))
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    try:
        return next(stub.StreamConfig(iter([hello]), timeout=10, metadata=metadata))
    except StopIteration:
        return None
    except grpc.RpcError as e:
        return e
    finally:
        channel.close()


def auth_count(status_address, result):
    metrics = http_get(f"http://{status_address}/metrics")[1]
    found = re.search(rf'^mesh_controlplane_proxy_auth_total{{result="{result}"}} (\S+)$', metrics, re.M)
    assert found, metrics
    return float(found.group(1))


def test_a_stream_naming_another_pod_without_its_token_is_refused(mesh, tmp_path):
    """The configuration of a Pod goes only to a stream with that Pod's
    token: under `meshctl up`, the bootstrap token meshctl handed its sidecar."""
    accepted = auth_count(mesh.status_address, "accepted")
    own = open_stream(mesh.grpc, "reviews-v1-0", mesh.token("reviews-v1-0"))
    assert isinstance(own, discovery_pb2.DiscoveryResponse) and own.config.clusters
    refusals = {
        "no token": open_stream(mesh.grpc, "reviews-v1-0"),
        "another Pod's token": open_stream(mesh.grpc, "reviews-v1-0", mesh.token("client-0")),
        "a made-up token": open_stream(mesh.grpc, "reviews-v1-0", "0" * 64),
        "a Pod that does not exist": open_stream(mesh.grpc, "nobody", mesh.token("client-0")),
    }
    for case, outcome in refusals.items():
        assert isinstance(outcome, grpc.RpcError), case
        assert outcome.code() == grpc.StatusCode.UNAUTHENTICATED, (case, outcome.details())
    assert "sent no token" in refusals["no token"].details()
    assert "not default/reviews-v1-0's bootstrap token" in refusals["another Pod's token"].details()
    assert auth_count(mesh.status_address, "unauthenticated") == 4
    assert auth_count(mesh.status_address, "accepted") == accepted + 1
    assert "refused" in (mesh.state / "logs" / "controlplane.log").read_text()

    # A real mesh-proxy with another sidecar's token keeps being refused and says why.
    wrong = tmp_path / "wrong-token"
    wrong.write_text(mesh.token("client-0") + "\n")
    log_path = tmp_path / "impostor.log"
    with open(log_path, "w") as log:
        proxy = subprocess.Popen(
            [str(BUILD / "bin" / "mesh-proxy"), "--controlplane", mesh.grpc, "--node",
             "reviews-v1-0", "--namespace", "default", "--concurrency", "1", "--token-file",
             str(wrong)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while "grpc-status 16" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            assert proxy.poll() is None, "a refused proxy keeps retrying"
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
    assert "bootstrap token" in log_path.read_text()
    sessions = [p for p in mesh.status()["proxies"] if p["name"] == "reviews-v1-0"]
    assert len(sessions) == 1, sessions  # only the real sidecar's stream


def test_grpc_hello_without_a_name_is_refused(mesh):
    channel = grpc.insecure_channel(mesh.grpc)
    stub = discovery_pb2_grpc.DiscoveryStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        next(stub.StreamConfig(iter([discovery_pb2.DiscoveryRequest()]), timeout=10))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "node.name" in error.value.details()
    channel.close()


def test_proxy_config_and_validate(mesh, tmp_path):
    listeners = json.loads(mesh.meshctl("proxy-config", "client-0", "listeners", "-o", "json").stdout)
    assert [l["name"] for l in listeners] == ["inbound|" + str(mesh.workloads["client-0"]["app_ports"]["8080"]), "outbound"]
    yaml_out = mesh.meshctl("proxy-config", "default/client-0", "routes", "-o", "yaml").stdout
    assert 'name: reviews.default:9080' in yaml_out  # quoted only where YAML needs it
    # The live view from the proxy's admin port: health and in flight.
    table = mesh.meshctl("proxy-config", "client-0", "endpoints").stdout
    assert re.search(r"reviews-v2\.default:9080\s+127\.0\.0\.1:\d+\s+1\s+-\s+passing\s+0", table), table
    live = json.loads(mesh.meshctl("proxy-config", "client-0", "endpoints", "-o", "json").stdout)
    assert live["proxy"] == "default/client-0" and live["clusters"], live
    missing = mesh.meshctl("proxy-config", "nobody", check=False)
    assert missing.returncode == 1 and "no connected proxy default/nobody" in missing.stderr
    typo = mesh.meshctl("proxy-config", "clinet-0", check=False)
    assert typo.returncode == 1 and "did you mean default/client-0?" in typo.stderr, typo.stderr
    # Every way a kubectl or istioctl user names the proxy; -o json indented.
    for form in (["client-0.default"], ["-n", "default", "client-0"], ["default/client-0"]):
        out = mesh.meshctl("proxy-config", *form, "clusters", "-o", "json").stdout
        assert out.startswith("[\n  {\n    \"name\": "), out[:80]
    wrong_ns = mesh.meshctl("proxy-config", "-n", "shop", "default/client-0", check=False)
    assert wrong_ns.returncode == 2 and "-n says shop" in wrong_ns.stderr
    routes = mesh.meshctl("proxy-config", "client-0", "routes").stdout
    assert re.search(r"REQUEST TIMEOUT\s+PER-TRY TIMEOUT\s+IDLE TIMEOUT\s+RETRY\n",
                     routes.splitlines()[0] + "\n"), routes
    assert re.search(r"x-canary:1\s+forward reviews-v2\.default:9080\s+none", routes), routes
    assert re.search(r"forward reviews-v1\.default:9080=90, reviews-v2\.default:9080=10", routes)
    clusters = mesh.meshctl("proxy-config", "client-0", "clusters").stdout
    assert re.search(r"reviews-v1\.default:9080\s+http1\s+1s \(default\)\s+64 \(default\), "
                     r"60s \(default\)\s+PeakEWMA\s+-\s+-\s+1\s+-", clusters), clusters
    assert "ENDPOINT " not in clusters and "CLUSTER  " in table and "ENDPOINT" in table

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "r.yaml").write_text("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
                                "metadata: {name: r}\nspec:\n  parentRefs: [{kind: Service, name: nope}]\n"
                                "  rules: [{backendRefs: [{name: nope, port: 80}]}]\n")
    result = subprocess.run([str(MESHCTL), "validate", "-f", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "HTTPRoute default/r: Accepted=False NoMatchingParent" in result.stdout, result.stdout
    ok = subprocess.run([str(MESHCTL), "validate", "-f", str(ROOT / "deploy" / "examples" / "demo")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout


def test_debug_store_lists_what_the_control_plane_knows(mesh):
    store = json.loads(http_get(f"http://{mesh.status_address}/debug/store")[1])
    services = {(s["namespace"], s["name"]): s["object"] for s in store["services"]}
    assert {("default", "reviews"), ("default", "reviews-v1"), ("default", "reviews-v2")} <= set(services)
    assert services[("default", "reviews")]["spec"]["ports"][0]["port"] == 9080
    routes = {r["name"]: r["object"] for r in store["httpRoutes"]}
    weights = [b.get("weight") for b in routes["reviews"]["spec"]["rules"][1]["backendRefs"]]
    assert weights == [90, 10]
    assert store["trafficPolicies"] == [] and store["meshConfigs"] == []
    assert any(p["name"].startswith("reviews-v1") for p in store["pods"])
    assert all("object" not in p for p in store["pods"]), "Pods are listed by name only"


def test_benchmark_harness_reaches_every_simulated_proxy(tmp_path):
    """bench/controlplane at a small N: every simulated proxy connects,
    receives the route change as a delta and ACKs it, and no stream fails.
    The benchmark's numbers mean something only while this holds."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("cp_bench", ROOT / "bench" / "controlplane" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.measure(200, tmp_path)
    assert result["complete"] and result["updated"] == 200, result
    assert result["errors"] == 0, result
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"], result


def test_no_request_timeout_unless_configured(mesh):
    """No route or policy sets a timeout: a response slower than the 15 s
    that used to be the default arrives (Istio and Linkerd have no default
    request timeout; Gateway API's 0s means none)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", mesh.outbound, timeout=30)
    try:
        conn.request("GET", "http://reviews:9080/slow?ms=16000")
        response = conn.getresponse()
        assert (response.status, response.read().decode().strip()) == (200, "slow")
    finally:
        conn.close()
    assert time.monotonic() - started >= 16


@pytest.mark.parametrize("written, expected", [
    ("backend_refs", "unknown field 'backend_refs' (did you mean 'backendRefs'?)"),
    ("backendRef", "unknown field 'backendRef' (did you mean 'backendRefs'?)"),
])
def test_validate_accepts_only_the_api_servers_field_names(tmp_path, written, expected):
    """The proto name the API server would reject is an error too, answered
    with the JSON name, the file:line:column and the object as users know it."""
    route = tmp_path / "route.yaml"
    route.write_text(f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: reviews, namespace: shop}}
spec:
  parentRefs: [{{group: "", kind: Service, name: reviews, port: 9080}}]
  rules:
    - {written}: [{{name: reviews-v1, port: 9080}}]
""")
    result = subprocess.run([str(MESHCTL), "validate", "-f", str(route)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert f"{route}:7:7: spec.rules[0]: {expected}" in out, out
    assert "[HTTPRoute shop/reviews]" in out
    assert "k8s." not in out


def test_a_policy_on_the_parent_service_reaches_the_backends_of_its_routes(mesh):
    """A TrafficPolicy on reviews covers reviews-v1 and reviews-v2, which its
    HTTPRoute splits to, unless one has a policy of its own."""
    (mesh.dir / "policy.yaml").write_text("""
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: reviews}
spec:
  targetRef: {kind: Service, name: reviews}
  connectionPool: {connectTimeout: 321ms}
---
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: reviews-v2}
spec:
  targetRef: {kind: Service, name: reviews-v2}
  connectionPool: {connectTimeout: 123ms}
""")

    def clusters():
        listed = json.loads(mesh.meshctl("proxy-config", "client-0", "clusters", "-o", "json").stdout)
        return {c["name"]: c for c in listed}

    deadline = time.monotonic() + 10
    while "policy" not in clusters()["reviews-v1.default:9080"]:  # the push arrived
        assert time.monotonic() < deadline, clusters()
        time.sleep(0.2)
    found = clusters()

    def connect_timeout(name):
        return found[name].get("connect_timeout")  # proto field names, as config_dump

    assert connect_timeout("reviews.default:9080") == "0.321s"
    assert connect_timeout("reviews-v1.default:9080") == "0.321s"  # inherited
    assert connect_timeout("reviews-v2.default:9080") == "0.123s"  # its own wins
    assert found["reviews-v1.default:9080"]["policy"] == \
        "TrafficPolicy default/reviews (inherited through Service default/reviews)"
    table = mesh.meshctl("proxy-config", "client-0", "clusters").stdout
    assert "POLICY" in table and "TrafficPolicy default/reviews-v2" in table, table
    assert mesh.get()[0] == 200


def test_validate_reads_standard_input():
    demo = ROOT / "deploy" / "examples" / "demo"
    stream = "".join("---\n" + path.read_text() for path in sorted(demo.glob("*.yaml")))
    ok = subprocess.run([str(MESHCTL), "validate", "-f", "-"], input=stream, capture_output=True,
                        text=True, timeout=30)
    assert ok.returncode == 0 and "7 objects" in ok.stdout, ok.stdout + ok.stderr
    bad = stream.replace("backendRefs", "backend_refs", 1)
    result = subprocess.run([str(MESHCTL), "validate", "-f", "-"], input=bad, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1
    assert re.search(r"error: -:\d+:\d+: .*did you mean 'backendRefs'", result.stdout), result.stdout


def test_status_counts_rejected_objects_not_only_parse_errors(mesh):
    assert "0 parse errors, 0 rejected objects" in mesh.meshctl("status").stdout
    (mesh.dir / "broken.yaml").write_text("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews-v1, port: 9080}]
  rules: [{backendRefs: [{name: nowhere, port: 9080}]}]
""")
    deadline = time.monotonic() + 10
    while "1 rejected objects" not in (out := mesh.meshctl("status").stdout):
        assert time.monotonic() < deadline, out
        time.sleep(0.2)
    assert "0 parse errors" in out and "meshctl check shows why" in out


def reviews_condition(mesh, kind, want):
    """Waits for HTTPRoute default/reviews's `kind` condition to satisfy `want`."""
    deadline = time.monotonic() + 10
    while True:
        found = [c for c in mesh.status()["conditions"]
                 if c["object"] == "HTTPRoute default/reviews" and c["type"] == kind]
        if found and want(found[0]):
            return found[0]
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def answers(mesh, n=100, headers=None):
    """(status, body or x-weft-error) of `n` requests from the client."""
    out = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", mesh.outbound, timeout=5)
        try:
            conn.request("GET", "http://reviews:9080/", headers=headers or {})
            response = conn.getresponse()
            body = response.read().decode().strip()
            out.append((response.status, response.getheader("x-weft-error") or body))
        finally:
            conn.close()
    return out


def test_an_unresolved_backend_costs_its_share_and_a_rejected_edit_keeps_the_last_version(mesh):
    route = mesh.dir / "route.yaml"
    good = route.read_text()
    unresolved = good.replace("{name: reviews-v2, port: 9080, weight: 10}",
                              "{name: reviews-v3, port: 9080, weight: 10}")
    assert unresolved != good
    route.write_text(unresolved)
    resolved = reviews_condition(mesh, "ResolvedRefs", lambda c: c["status"] == "False")
    assert resolved["reason"] == "BackendNotFound" and "reviews-v3" in resolved["message"]
    accepted = reviews_condition(mesh, "Accepted", lambda c: True)
    assert accepted["status"] == "True", accepted

    def expect_canary_with_a_500_share():
        # Smooth weighted round robin on the client sidecar's one worker:
        # exactly 10 of every 100 go to the missing backend.
        got = answers(mesh, 100)
        assert got.count((200, "reviews-v1")) == 90, got
        assert got.count((500, "backend_not_found")) == 10, got
        assert set(answers(mesh, 10, {"x-canary": "1"})) == {(200, "reviews-v2")}

    expect_canary_with_a_500_share()
    # The same over HTTP/2 from the client (h2c to its sidecar), one at a
    # time so the split's turns stay in order.
    h2load = subprocess.run(
        ["h2load", "-n", "100", "-c", "1", "-m", "1", "-H", ":authority: reviews:9080",
         f"http://127.0.0.1:{mesh.outbound}/"], capture_output=True, text=True, timeout=60)
    assert "status codes: 90 2xx, 0 3xx, 0 4xx, 10 5xx" in h2load.stdout, h2load.stdout

    # A negative weight rejects the whole route: the version above keeps
    # serving (not plain round robin across reviews' pods), and says so.
    route.write_text(unresolved.replace("weight: 90", "weight: -90"))
    rejected = reviews_condition(mesh, "Accepted", lambda c: c["status"] == "False")
    assert "must not be negative" in rejected["message"], rejected
    assert "last accepted version keeps serving" in rejected["message"], rejected
    expect_canary_with_a_500_share()
    assert "1 rejected objects" in mesh.meshctl("status").stdout

    route.write_text(good)
    reviews_condition(mesh, "ResolvedRefs", lambda c: c["status"] == "True")
    assert set(answers(mesh, 20, {"x-canary": "1"})) == {(200, "reviews-v2")}
    assert {body for _, body in answers(mesh, 20)} <= {"reviews-v1", "reviews-v2"}


def test_alive_while_the_kubernetes_api_does_not_answer(tmp_path):
    """The liveness probe's /healthz answers at once; /ready waits for the
    first list of every kind, which an API server that is down never gives."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{free_port()}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: mesh-system}}}}]
current-context: x
""")
    status = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [str(BUILD / "bin" / "mesh-controlplane"), "--kubeconfig", str(kubeconfig),
         "--grpc-address", f"127.0.0.1:{free_port()}", "--status-address", status],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                code, body = http_get(f"http://{status}/healthz")[:2]
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert code == 200 and body.strip() == "ALIVE"
        time.sleep(1)
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            http_get(f"http://{status}/ready")
        assert not_ready.value.code == 503
        assert http_get(f"http://{status}/healthz")[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_validate_points_at_the_line_and_leaves_references_outside_the_files_unchecked(tmp_path):
    (tmp_path / "policy.yaml").write_text("""# a policy and a route, without the Services they name
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: catalog}
spec:
  targetRef: {kind: Service, name: catalog}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: catalog}
spec:
  parentRefs: [{kind: Service, name: catalog}]
  rules: [{backendRefs: [{name: catalog-v1, port: 80, weight: -1}]}]
""")
    run = lambda *paths: subprocess.run(  # noqa: E731
        [str(MESHCTL), "validate", *[a for p in paths for a in ("-f", str(p))]],
        capture_output=True, text=True, timeout=30)
    alone = run(tmp_path / "policy.yaml")
    assert re.search(r"^not checked: .*policy\.yaml:2: TrafficPolicy default/catalog: .*"
                     r"does not exist \(not in the given files\)$", alone.stdout, re.M), alone.stdout
    # A real error still is one, with the line its document starts on.
    assert re.search(r"^error: .*policy\.yaml:8: HTTPRoute default/catalog: Accepted=False "
                     r"UnsupportedValue: backendRef weight must not be negative$",
                     alone.stdout, re.M), alone.stdout
    assert alone.returncode == 1 and "1 problem(s)" in alone.stdout
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text((tmp_path / "policy.yaml").read_text().replace("weight: -1", "weight: 1"))
    assert run(fixed).returncode == 0
    # A directory is the whole mesh: what it lacks is missing.
    (tmp_path / "policy.yaml").unlink()
    whole = run(tmp_path)
    assert whole.returncode == 1
    assert re.search(r"^error: .*fixed\.yaml:2: TrafficPolicy default/catalog: Accepted=False "
                     r"TargetNotFound", whole.stdout, re.M), whole.stdout


def host_address():
    """An IPv4 address of this host that is not loopback, if it has one."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        return line.split()[3].split("/")[0]
    return None


def test_without_a_bootstrap_key_only_proxies_on_this_host_are_served(tmp_path):
    """Directory mode without --bootstrap-key believes a stream's name only
    when it comes from this host; with a key, only with the key's token."""
    address = host_address()
    if address is None:
        pytest.skip("this host has no address but loopback")
    key = tmp_path / "key"
    key.write_text("k" * 32 + "\n")
    for with_key in (False, True):
        grpc_port, status_port = free_port(), free_port()
        process = subprocess.Popen(
            [str(BUILD / "bin" / "mesh-controlplane"), "--manifests",
             str(ROOT / "deploy" / "examples" / "demo"), "--grpc-address", f"0.0.0.0:{grpc_port}",
             "--status-address", f"127.0.0.1:{status_port}",
             *(["--bootstrap-key", str(key)] if with_key else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"127.0.0.1:{status_port}")
            local = open_stream(f"127.0.0.1:{grpc_port}", "client-0")
            remote = open_stream(f"{address}:{grpc_port}", "client-0")
            assert isinstance(remote, grpc.RpcError)
            assert remote.code() == grpc.StatusCode.UNAUTHENTICATED
            if with_key:
                assert isinstance(local, grpc.RpcError), "loopback is no proof with a key"
                token = hmac.new(b"k" * 32, b"default/client-0", hashlib.sha256).hexdigest()
                served = open_stream(f"{address}:{grpc_port}", "client-0", token)
                assert not isinstance(served, grpc.RpcError), served
            else:
                assert not isinstance(local, grpc.RpcError), local
                assert "only proxies on the control plane's host" in remote.details()
            assert auth_count(f"127.0.0.1:{status_port}", "accepted") == 1
            assert auth_count(f"127.0.0.1:{status_port}", "unauthenticated") == (2 if with_key else 1)
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_a_short_bootstrap_key_is_refused_at_start(tmp_path):
    key = tmp_path / "key"
    key.write_text("short\n")
    result = subprocess.run(
        [str(BUILD / "bin" / "mesh-controlplane"), "--manifests",
         str(ROOT / "deploy" / "examples" / "demo"), "--grpc-address", f"127.0.0.1:{free_port()}",
         "--status-address", f"127.0.0.1:{free_port()}", "--bootstrap-key", str(key)],
        capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert "at least 16 bytes" in result.stderr


def wait_ready(status_address):
    deadline = time.monotonic() + 10
    while True:
        try:
            if http_get(f"http://{status_address}/ready")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("remote", [False, True], ids=["loopback-only", "debug-remote"])
def test_config_and_debug_are_kept_off_the_service(tmp_path, remote):
    """/config and /debug/* show any Pod's configuration: only callers on
    loopback (kubectl port-forward) get them unless --debug-remote."""
    address = host_address()
    if address is None:
        pytest.skip("this host has no address but loopback")
    port = free_port()
    process = subprocess.Popen(
        [str(BUILD / "bin" / "mesh-controlplane"), "--manifests",
         str(ROOT / "deploy" / "examples" / "demo"), "--grpc-address", f"127.0.0.1:{free_port()}",
         "--status-address", f"0.0.0.0:{port}", *(["--debug-remote"] if remote else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"127.0.0.1:{port}")
        assert http_get(f"http://127.0.0.1:{port}/debug/store")[0] == 200
        # Off the host: what the Service would carry. /status and probes stay open.
        assert http_get(f"http://{address}:{port}/status")[0] == 200
        for path in ("/debug/store", "/config?proxy=default/client-0"):
            if remote:
                try:
                    assert http_get(f"http://{address}:{port}{path}")[0] in (200,)
                except urllib.error.HTTPError as e:
                    assert e.code == 404, path  # no such proxy connected: not refused
            else:
                with pytest.raises(urllib.error.HTTPError) as refused:
                    http_get(f"http://{address}:{port}{path}")
                assert refused.value.code == 403, path
                assert "--debug-remote" in refused.value.read().decode()
        metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        assert f"mesh_controlplane_debug_refused_total {0 if remote else 2}" in metrics, metrics
    finally:
        process.terminate()
        process.wait(timeout=10)
