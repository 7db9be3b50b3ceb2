"""`meshctl up`'s processes: children start with nothing blocked, a stop
drains in order, a killed meshctl leaves nothing behind, a restarted one
stops leftovers, and Deployments added or scaled while it runs serve within
seconds; mesh.json says every port and service account."""
import http.client
import json
import re
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import ROOT, free_port, http_get
from test_controlplane import MESHCTL, LocalMesh


def children(mesh):
    """(pid, what) of every process meshctl up started, from STATE/processes."""
    lines = (mesh.state / "processes").read_text().splitlines()
    assert lines[0].startswith(f"meshctl {mesh.process.pid} ")
    return [(int(line.split()[0]), line.split(maxsplit=2)[2]) for line in lines[1:]]


def proc_status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return line.split()[1]
    return None


def running(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def get(port, url, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        return response.status, response.read().decode().strip()
    finally:
        conn.close()


def metric(port, name):
    text = http_get(f"http://127.0.0.1:{port}/stats/prometheus")[1]
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def test_children_start_with_no_signal_blocked_each_in_its_own_group(mesh):
    started = children(mesh)
    assert sorted(what for _, what in started) == sorted(
        ["control plane"] + [f"{w}{s}" for w in mesh.workloads for s in ("", " sidecar")])
    for pid, what in started:
        assert proc_status(pid, "SigBlk") == "0000000000000000", what
        assert os.getpgid(pid) == pid, what


def test_mesh_json_lists_every_port_and_the_service_account(mesh):
    client = mesh.workloads["client-0"]
    assert client["service_account"] == "client"
    assert mesh.workloads["reviews-v1-0"]["service_account"] == "reviews"
    app_port = client["app_ports"]["8080"]
    inbound = client["inbound"][str(app_port)]
    assert {"outbound", "admin", "metrics"} <= client.keys()
    assert len({app_port, inbound, client["outbound"], client["admin"], client["metrics"]}) == 5
    # The inbound port is the sidecar's, in front of the application.
    assert get(inbound, "/") == (200, "client")
    assert http_get(f"http://127.0.0.1:{client['metrics']}/stats/prometheus")[0] == 200


def test_stop_drains_in_flight_requests_and_needs_no_kill(mesh):
    """SIGTERM to meshctl: the sidecars drain (the in-flight request is
    answered, mesh_drains_total moves), the applications stop gracefully,
    the control plane goes last, and nothing is killed."""
    client = mesh.workloads["client-0"]
    answer = {}

    def slow_request():
        answer["response"] = get(client["outbound"], "http://reviews:9080/slow?ms=2500", timeout=15)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.8)  # the request is at the reviews application now
    started = time.monotonic()
    mesh.process.send_signal(signal.SIGTERM)
    assert until(lambda: metric(client["metrics"], "mesh_drains_total") == 1, timeout=2)
    thread.join(timeout=15)
    assert answer.get("response") == (200, "slow")
    mesh.process.wait(timeout=15)
    elapsed = time.monotonic() - started
    log = mesh.up_log()
    assert "killed" not in log, log
    assert "mesh stopped" in log
    assert elapsed < 10, f"stopping took {elapsed:.1f} s: the grace period ran out"
    logs = mesh.state / "logs"
    assert "drained; exiting" in (logs / "client-0.proxy.log").read_text()
    assert "stopped" in (logs / "reviews-v1-0.app.log").read_text() + \
        (logs / "reviews-v2-0.app.log").read_text()
    assert not (mesh.state / "processes").exists()


def test_sigkill_of_meshctl_leaves_no_child(mesh):
    started = children(mesh)
    mesh.process.kill()
    mesh.process.wait(timeout=5)
    assert until(lambda: not any(running(pid) for pid, _ in started), timeout=1.0), \
        [what for pid, what in started if running(pid)]


def test_a_restart_on_the_same_state_stops_leftovers(mesh, tmp_path):
    """A process an application started (its group) outlives a SIGKILLed
    meshctl; the next meshctl up on the same state directory stops it."""
    (mesh.dir / "sleeper.yaml").write_text("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleeper}
spec:
  template:
    metadata: {labels: {app: sleeper}}
    spec:
      containers:
        - name: sleeper
          command: [/bin/sh, -c, "sleep 300 & exec sleep 301"]
""")
    assert until(lambda: "started default/sleeper-0" in mesh.up_log(), timeout=10), mesh.up_log()
    leader = [pid for pid, what in children(mesh) if what == "sleeper-0"][0]

    def grandchildren():
        return subprocess.run(["pgrep", "-g", str(leader), "-f", "^sleep 300$"],
                              capture_output=True, text=True).stdout.split()

    assert until(grandchildren, timeout=5)
    grandchild = int(grandchildren()[0])
    mesh.process.kill()
    mesh.process.wait(timeout=5)
    assert until(lambda: not running(leader), timeout=1.0)
    assert running(grandchild)  # reparented: only the next run can find it
    again = LocalMesh(tmp_path, existing=mesh)
    try:
        assert f"sleep ({grandchild})" in again.up_log()
        assert until(lambda: not running(grandchild), timeout=1.0)
    finally:
        again.stop()


def test_deployments_added_and_scaled_while_running_serve_within_seconds(mesh):
    client = mesh.workloads["client-0"]
    (mesh.dir / "ratings.yaml").write_text("""
apiVersion: v1
kind: Service
metadata: {name: ratings}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings}
spec:
  template:
    metadata: {labels: {app: ratings}}
    spec:
      serviceAccountName: ratings
      containers:
        - name: ratings
          command: [/usr/bin/python3, app.py, --port, $(PORT), --name, ratings]
          ports: [{name: http, containerPort: 9080}]
""")

    def ratings_answers():
        try:
            return get(client["outbound"], "http://ratings:9080/") == (200, "ratings")
        except OSError:
            return False

    assert until(ratings_answers, timeout=8, interval=0.2), mesh.up_log()
    state = json.loads((mesh.state / "mesh.json").read_text())
    names = {w["name"]: w for w in state["workloads"]}
    assert names["ratings-0"]["service_account"] == "ratings"

    # Scale reviews-v1 to 2: the new replica runs, with a sidecar in sync.
    workloads = mesh.dir / "workloads.yaml"
    text = workloads.read_text()
    head, tail = text.split("metadata: {name: reviews-v1}", 1)
    workloads.write_text(head + "metadata: {name: reviews-v1}" + tail.replace("replicas: 1", "replicas: 2", 1))

    def scaled():
        state = json.loads((mesh.state / "mesh.json").read_text())
        return any(w["name"] == "reviews-v1-1" for w in state["workloads"])

    assert until(scaled, timeout=8, interval=0.2), mesh.up_log()
    new = [w for w in json.loads((mesh.state / "mesh.json").read_text())["workloads"]
           if w["name"] == "reviews-v1-1"][0]
    assert get(new["app_ports"]["9080"], "/") == (200, "reviews-v1")
    assert until(lambda: mesh.proxy("reviews-v1-1")["in_sync"], timeout=8, interval=0.2)
    # The ports of the replicas that were already running did not change.
    assert names["client-0"]["outbound"] == client["outbound"]

    # Removing the Deployment stops its processes.
    ratings_pids = [pid for pid, what in children(mesh) if what.startswith("ratings-0")]
    (mesh.dir / "ratings.yaml").unlink()
    assert until(lambda: "stopped ratings-0" in mesh.up_log(), timeout=15, interval=0.2), mesh.up_log()
    assert not any(running(pid) for pid in ratings_pids)
    assert get(client["outbound"], "http://reviews:9080/")[0] == 200


ZONES = """
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: local, topology.kubernetes.io/zone: zone-a}
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: {topology.kubernetes.io/region: local, topology.kubernetes.io/zone: zone-b}
---
apiVersion: v1
kind: Service
metadata: {name: ratings}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080, targetPort: http}]
---
apiVersion: mesh.weft.io/v1alpha1
kind: TrafficPolicy
metadata: {name: ratings}
spec:
  targetRef: {kind: Service, name: ratings}
  loadBalancer: {type: RoundRobin}
  healthCheck: {interval: 0.2s, unhealthyThreshold: 1, http: {path: /}}
"""

RATINGS = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  template:
    metadata: {labels: {app: ratings}}
    spec:
      nodeSelector: {topology.kubernetes.io/zone: ZONE}
      containers:
        - name: ratings
          command: [/usr/bin/python3, app.py, --port, $(PORT), --name, NAME EXTRA]
          ports: [{name: http, containerPort: 9080}]
"""


def test_workloads_placed_in_zones_prefer_their_own(mesh):
    """Nodes in two zones of one region, the client pinned to zone-a, and
    ratings in both: zone-a's healthy replica takes its share (one of two
    failing its check: 71%), zone-b the rest, the failing one none; the
    live view says where each endpoint is."""
    deployments = "".join(
        RATINGS.replace("NAME", name).replace("ZONE", zone).replace(" EXTRA", extra)
        for name, zone, extra in [("ratings-a", "zone-a", ""),
                                  ("ratings-sick", "zone-a", ", --fail-status, 503"),
                                  ("ratings-b", "zone-b", "")])
    (mesh.dir / "zones.yaml").write_text(ZONES + deployments)
    workloads = mesh.dir / "workloads.yaml"
    workloads.write_text(workloads.read_text().replace(
        "      serviceAccountName: client\n",
        "      serviceAccountName: client\n"
        "      nodeSelector: {topology.kubernetes.io/zone: zone-a}\n", 1))
    client = mesh.workloads["client-0"]

    def placed():
        try:
            live = json.loads(mesh.meshctl("proxy-config", "client-0", "endpoints", "-o", "json",
                                           check=False).stdout or "{}")
        except ValueError:
            return False
        ratings = [c for c in live.get("clusters", []) if c["name"] == "ratings.default:9080"]
        return (live.get("locality") == {"region": "local", "zone": "zone-a"} and ratings
                and len(ratings[0]["endpoints"]) == 3
                and sum(e["health"] == "failing_check" for e in ratings[0]["endpoints"]) == 1)

    assert until(placed, timeout=15, interval=0.2), mesh.up_log()

    # meshctl up publishes a new replica's endpoints once its application
    # listens, not yet once its sidecar holds a workload certificate (a
    # Pod's readiness would wait for both): wait for the certificates, or
    # the first requests meet a sidecar that cannot answer mutual TLS yet.
    def identified():
        for name in ("ratings-a-0", "ratings-sick-0", "ratings-b-0"):
            shown = mesh.meshctl("identity", name, check=False)
            if shown.returncode != 0 or "(none yet)" in shown.stdout:
                return False
        return True
    assert until(identified, timeout=15, interval=0.2), mesh.up_log()
    answers = [get(client["outbound"], "http://ratings:9080/")[1] for _ in range(300)]
    assert answers.count("ratings-sick") == 0
    assert 0.6 * 300 <= answers.count("ratings-a") <= 0.82 * 300, answers.count("ratings-a")
    assert answers.count("ratings-a") + answers.count("ratings-b") == 300
    table = mesh.meshctl("proxy-config", "client-0", "endpoints").stdout
    assert re.search(r"ratings\.default:9080\s+127\.0\.0\.1:\d+\s+1\s+local/zone-b \(same region\)"
                     r"\s+passing", table), table
    assert re.search(r"local/zone-a \(same zone\)\s+failing check", table), table


def test_a_relative_state_dir_works_from_any_directory(tmp_path):
    """`meshctl up demo --state-dir run` from the directory holding both: the
    control plane and sidecars, started elsewhere, still find the state."""
    shutil.copytree(ROOT / "deploy" / "examples" / "demo", tmp_path / "demo")
    log = open(tmp_path / "up.log", "w")
    process = subprocess.Popen(
        [str(MESHCTL), "up", "demo", "--state-dir", "run",
         "--status-address", f"127.0.0.1:{free_port()}"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert until(lambda: "mesh up" in (tmp_path / "up.log").read_text()
                     or process.poll() is not None, timeout=30)
        text = (tmp_path / "up.log").read_text()
        assert "every sidecar has its configuration" in text, text
        assert (tmp_path / "run" / "mesh.json").exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        log.close()
