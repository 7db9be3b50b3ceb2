"""Workload-labelled request metrics (docs/tasks/metrics.md): both sidecars
of a hop count each request under the same labels, real Prometheus scrapes
a `meshctl up` mesh and answers the golden queries (request rate, success
rate, p99 by destination_service), promtool accepts the exposition, the
application never sees x-weft-peer and a client cannot set it through its
own sidecar, the gRPC path carries grpc_response_status, and TCP
connections are counted in the mesh_tcp_* families."""
import http.client
import json
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import grpc
import pytest
import yaml

import grpc_backend
from conftest import ROOT, cluster, free_port, http_get, listener, tcp_server
from test_controlplane import LocalMesh

OBSERVABILITY = ROOT / "deploy" / "observability"
DASHBOARDS = OBSERVABILITY / "dashboards"


def series(text, name, **labels):
    """Every sample of `name` whose labels include `labels`: [(labels, value)]."""
    out = []
    for line in text.splitlines():
        match = re.match(r"^(\w+)(\{.*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == str(v) for k, v in labels.items()):
            out.append((found, float(match.group(3))))
    return out


def total(text, name, **labels):
    return sum(value for _, value in series(text, name, **labels))


def metrics_text(port):
    return http_get(f"http://127.0.0.1:{port}/stats/prometheus")[1]


def request(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def settled(read, expected, timeout=5):
    """read() once it equals `expected`, or its last value after `timeout`:
    a worker counts a request after its last byte went out."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def test_both_sidecars_of_a_hop_count_it_under_the_same_labels(mesh):
    client = mesh.workloads["client-0"]
    answers = [request(client["outbound"], "http://reviews:9080/") for _ in range(40)]
    failed = [request(client["outbound"], "http://reviews:9080/status/503") for _ in range(3)]
    assert all(status == 200 for status, _ in answers)
    assert all(status == 503 for status, _ in failed)
    by_version = {v: sum(1 for _, body in answers if body.strip() == f"reviews-{v}")
                  for v in ("v1", "v2")}

    source = lambda: metrics_text(client["metrics"])  # noqa: E731
    assert settled(lambda: total(source(), "mesh_requests_total", reporter="source"), 43) == 43
    text = source()
    for v in ("v1", "v2"):
        service = f"reviews-{v}.default.svc.cluster.local"
        ok = series(text, "mesh_requests_total", reporter="source", destination_service=service,
                    response_code="200")
        assert sum(value for _, value in ok) == by_version[v]
        if not ok:
            continue
        labels = ok[0][0]
        assert labels["source_workload"] == "client"  # the Deployment, not the Pod
        assert labels["source_namespace"] == "default"
        assert labels["source_app"] == "client"
        assert labels["destination_workload"] == f"reviews-{v}"
        assert labels["destination_app"] == "reviews"
        assert labels["destination_version"] == v
        assert labels["request_protocol"] == "http"
        assert labels["response_flags"] == "-"
        assert labels["connection_security_policy"] == "unknown"

        # The destination's sidecar counts the same requests the same way.
        inbound = mesh.workloads[f"reviews-{v}-0"]["metrics"]
        want = {k: val for k, val in labels.items()
                if k not in ("reporter", "connection_security_policy")}
        counted = settled(lambda: total(metrics_text(inbound), "mesh_requests_total",
                                        reporter="destination", **want), by_version[v])
        assert counted == by_version[v]
        assert series(metrics_text(inbound), "mesh_requests_total", reporter="destination",
                      **want)[0][0]["connection_security_policy"] == "mutual_tls"  # sidecar to sidecar
    assert total(text, "mesh_requests_total", reporter="source", response_code="503") == 3
    assert total(text, "mesh_request_duration_milliseconds_count", reporter="source") == 43
    assert total(text, "mesh_request_series_dropped_total") == 0

    # The one lint finding is the unit Istio's dashboards need in the name
    # (exit 3: lint problems; a format error would be 1).
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    findings = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode in (0, 3), findings
    assert findings == ['mesh_request_duration_milliseconds use base unit "seconds" instead of '
                        '"milliseconds"'], findings


def test_the_application_never_sees_x_weft_peer_nor_can_a_client_forge_it(mesh):
    client = mesh.workloads["client-0"]
    forged = {"x-weft-peer": "w=admin;ns=kube-system;svc=reviews.default.svc.cluster.local"}
    status, body = request(client["outbound"], "http://reviews-v1:9080/echo", forged)
    assert status == 200
    headers = json.loads(body)["headers"]
    assert "x-weft-peer" not in headers, headers

    inbound = mesh.workloads["reviews-v1-0"]["metrics"]
    labelled = lambda **labels: total(metrics_text(inbound), "mesh_requests_total",  # noqa: E731
                                      reporter="destination", **labels)
    assert settled(lambda: labelled(source_workload="client"), 1) == 1
    assert labelled(source_workload="admin") == 0

    # A caller without a sidecar, straight to the inbound port: unknown, and
    # a malformed field is counted, not labelled.
    reviews = mesh.workloads["reviews-v1-0"]
    inbound_port = next(iter(reviews["inbound"].values()))
    assert request(inbound_port, "/")[0] == 200
    assert request(inbound_port, "/", {"x-weft-peer": 'w=a"b;ns=x;svc=y'})[0] == 200
    assert settled(lambda: labelled(source_workload="unknown", destination_service="unknown"),
                   2) == 2
    assert total(metrics_text(inbound), "mesh_peer_field_rejected_total") == 1

    # A request refused before it is parsed whole is counted too, its reason
    # as the flag.
    with socket.create_connection(("127.0.0.1", inbound_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 400")
    assert settled(lambda: labelled(response_code="400", response_flags="duplicate_host",
                                    source_workload="unknown"), 1) == 1


def dashboard_queries():
    """(dashboard file, panel title, expression) of every panel target, the
    template variables matching everything."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = re.sub(r"\$(service|workload|namespace)", ".*", target["expr"])
                out.append((path.name, panel["title"], expr))
    return out


def test_rules_dashboards_and_scrape_config_are_well_formed(tmp_path):
    result = subprocess.run(["promtool", "check", "rules", str(OBSERVABILITY / "rules.yml")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    # Debian's Prometheus is built without Kubernetes service discovery, so
    # the scrape configuration is checked with its discovery made static:
    # the relabelling, rule files and the rest are Prometheus' own check.
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": ["127.0.0.1:15090"]}]
    config["rule_files"] = [str(OBSERVABILITY / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    uids = set()
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in uids, path
        uids.add(dashboard["uid"])
        assert dashboard["panels"], path
        for panel in dashboard["panels"]:
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel
    assert len(uids) == 4


def test_prometheus_answers_the_golden_queries(mesh, tmp_path):
    sidecars = [w["metrics"] for w in mesh.workloads.values()]
    web = free_port()
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(OBSERVABILITY / "rules.yml")],
        "scrape_configs": [
            {"job_name": "sidecars", "metrics_path": "/stats/prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in sidecars]}]},
            {"job_name": "controlplane", "metrics_path": "/metrics",
             "static_configs": [{"targets": [mesh.status_address]}]}],
    }))
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    sent = {"ok": 0, "failed": 0}

    def traffic():
        """A steady trickle, bounded in count and time: one request in ten fails."""
        outbound = mesh.workloads["client-0"]["outbound"]
        deadline = time.monotonic() + 40
        for i in range(800):
            if stop.is_set() or time.monotonic() > deadline:
                return
            failing = i % 10 == 9
            path = "http://reviews:9080/status/500" if failing else "http://reviews:9080/"
            request(outbound, path)
            sent["failed" if failing else "ok"] += 1
            time.sleep(0.03)

    def query(expr):
        url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            return json.loads(http_get(url)[1])["data"]["result"]
        except (OSError, KeyError, ValueError):
            return []

    def until(predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        return predicate()

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        rate = 'sum by (destination_service) (rate(mesh_requests_total{reporter="destination"}[30s]))'
        assert until(lambda: len(query(rate)) == 2 and all(
            float(r["value"][1]) > 0 for r in query(rate))), query(rate)
        stop.set()
        thread.join(timeout=10)
        sent_total = sent["ok"] + sent["failed"]

        # Every request counted by both reporters, once scraped after the last.
        def counts():
            by = {}
            for r in query("sum by (reporter) (mesh_requests_total)"):
                by[r["metric"]["reporter"]] = float(r["value"][1])
            return by
        assert until(lambda: counts() == {"source": sent_total, "destination": sent_total}), (
            counts(), sent)

        success = ('sum(mesh_requests_total{reporter="destination",response_code!~"5.."}) / '
                   'sum(mesh_requests_total{reporter="destination"})')
        assert float(query(success)[0]["value"][1]) == pytest.approx(sent["ok"] / sent_total)
        p99 = ("histogram_quantile(0.99, sum by (le, destination_service) "
               "(mesh_request_duration_milliseconds_bucket{reporter=\"source\"}))")
        answers = query(p99)
        assert {r["metric"]["destination_service"] for r in answers} == {
            "reviews-v1.default.svc.cluster.local", "reviews-v2.default.svc.cluster.local"}
        for r in answers:
            assert 0 < float(r["value"][1]) < 10000, r

        # deploy/observability: the recording rules evaluate over the mesh,
        # and every dashboard panel's query is one Prometheus accepts.
        recorded = until(lambda: query("destination_service:mesh_requests:rate1m"))
        assert {r["metric"]["destination_service"] for r in recorded} == {
            "reviews-v1.default.svc.cluster.local", "reviews-v2.default.svc.cluster.local"}
        assert until(lambda: query("destination_service:mesh_request_duration_milliseconds:p99_1m"))
        for name, title, expr in dashboard_queries():
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            status, body = http_get(url)
            assert status == 200 and json.loads(body)["status"] == "success", (name, title, body)
        assert query('sum(mesh_controlplane_connected_proxies)')[0]["value"][1] == "3"

        # meshctl stat from Prometheus: the Services' callers counted every
        # request; a window that covers the whole run.
        stat = json.loads(mesh.meshctl("stat", "svc", "--prometheus", f"http://127.0.0.1:{web}",
                                       "--window", "10m", "-o", "json").stdout)
        assert {r["name"] for r in stat} == {"reviews-v1", "reviews-v2"}, stat
        # What Prometheus' own increase() says (it misses what a series
        # counted before its first scrape, so not every request sent).
        expected = {r["metric"]["destination_service"].split(".")[0]: float(r["value"][1])
                    for r in query('sum by (destination_service) (increase('
                                   'mesh_requests_total{reporter="source"}[10m]))')}
        for r in stat:
            assert r["requests"] == pytest.approx(expected[r["name"]], rel=0.05), (stat, expected)
        assert sum(r["failed"] for r in stat) / sum(r["requests"] for r in stat) == pytest.approx(
            sent["failed"] / sent_total, abs=0.05)
        assert all(0 < r["latency_ms_p99"] < 10000 for r in stat), stat
    finally:
        stop.set()
        thread.join(timeout=10)
        prometheus.terminate()
        prometheus.wait(timeout=10)


@pytest.fixture
def grpc_server():
    port = free_port()
    server, state = grpc_backend.start(port)
    yield port
    server.stop(0)


def test_grpc_calls_carry_their_status_through_two_sidecars(start_proxy, grpc_server):
    """Two proxies from static configurations as two sidecars: the HTTP/2
    path reads and writes x-weft-peer as the HTTP/1.1 one does."""
    inbound_port, outbound_port = free_port(), free_port()
    echo = {"name": "echo", "namespace": "shop", "app": "echo", "version": "v7"}
    destination = start_proxy({
        "workload": echo,
        "listeners": [listener("inbound", inbound_port, route_table="in",
                               direction="DIRECTION_INBOUND")],
        "route_tables": [{"name": "in", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": {"clusters": [{"name": "app"}]}}]}]}],
        "clusters": [cluster("app", grpc_server, protocol="PROTOCOL_HTTP2")],
    })
    source = start_proxy({
        "workload": {"name": "frontend", "namespace": "shop", "service_account": "web"},
        "listeners": [listener("outbound", outbound_port, route_table="out",
                               direction="DIRECTION_OUTBOUND")],
        "route_tables": [{"name": "out", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": {"clusters": [{"name": "echo"}]}}]}]}],
        "clusters": [{"name": "echo", "service": "echo.shop.svc.cluster.local",
                      "protocol": "PROTOCOL_HTTP2",
                      "endpoints": [{"address": "127.0.0.1", "port": inbound_port,
                                     "workload": echo}]}],
    })
    client = grpc_backend.Client(f"127.0.0.1:{outbound_port}")
    for _ in range(3):
        reply, call = client.unary().with_call(b"ping", metadata=[("x-weft-peer", "w=x;ns=y;svc=z")])
        assert reply == b"ping"
        assert "echo-x-weft-peer" not in dict(call.initial_metadata())
    with pytest.raises(grpc.RpcError) as failed:
        client.unary()(b"x", metadata=[("x-fail", "NOT_FOUND")])
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    client.close()

    want = {"source_workload": "frontend", "source_namespace": "shop", "source_app": "unknown",
            "destination_workload": "echo", "destination_version": "v7",
            "destination_service": "echo.shop.svc.cluster.local", "request_protocol": "grpc",
            "response_code": "200"}
    for proxy, reporter in ((source, "source"), (destination, "destination")):
        assert proxy.settled_metric("mesh_requests_total", 3, reporter=reporter,
                                    grpc_response_status="0", **want) == 3, reporter
        assert proxy.settled_metric("mesh_requests_total", 1, reporter=reporter,
                                    grpc_response_status="5", **want) == 1, reporter


def test_meshctl_stat_from_the_sidecars(mesh):
    """meshctl stat deploy: what each workload served, from its own
    sidecar; stat svc: what each Service was asked, from its callers'."""
    client = mesh.workloads["client-0"]
    answers = [request(client["outbound"], "http://reviews:9080/") for _ in range(30)]
    failed = [request(client["outbound"], "http://reviews:9080/status/503") for _ in range(6)]
    assert all(status == 200 for status, _ in answers) and all(s == 503 for s, _ in failed)

    def stat(*args):
        return {r["name"]: r for r in json.loads(mesh.meshctl("stat", *args, "-o", "json").stdout)}

    deadline = time.monotonic() + 5
    served = stat("deploy", "--window", "0s")
    while sum(r["requests"] for n, r in served.items() if n.startswith("reviews")) < 36 and (
            time.monotonic() < deadline):
        time.sleep(0.1)
        served = stat("deploy", "--window", "0s")
    reviews = [r for name, r in served.items() if name.startswith("reviews-v")]
    assert sum(r["requests"] for r in reviews) == 36, served
    assert sum(r["failed"] for r in reviews) == 6, served
    assert all(r["namespace"] == "default" and "rps" not in r for r in reviews), served
    assert all(0 < r["latency_ms_p50"] <= r["latency_ms_p95"] <= r["latency_ms_p99"]
               for r in reviews), served

    # The route splits reviews between the Services reviews-v1 and
    # reviews-v2: the callers' sidecars count each backend Service.
    asked = stat("svc", "--window", "0s")
    assert set(asked) == {"reviews-v1", "reviews-v2"}, asked
    assert sum(r["requests"] for r in asked.values()) == 36
    assert sum(r["failed"] for r in asked.values()) == 6
    one = stat("svc", "reviews-v1", "-n", "default", "--window", "0s")
    assert list(one) == ["reviews-v1"] and one["reviews-v1"] == asked["reviews-v1"]
    assert one["reviews-v1"]["success_rate"] == pytest.approx(
        1 - one["reviews-v1"]["failed"] / one["reviews-v1"]["requests"])

    # Over a window: only what happened within it, as a rate.
    stop = threading.Event()

    def traffic():
        for _ in range(200):
            if stop.is_set():
                return
            request(client["outbound"], "http://reviews:9080/")
            time.sleep(0.02)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        windowed = stat("svc", "reviews-v1", "--window", "2s")["reviews-v1"]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert 0 < windowed["requests"] < 200 and windowed["failed"] == 0, windowed
    assert windowed["rps"] == pytest.approx(windowed["requests"] / 2)

    table = mesh.meshctl("stat", "deploy", "reviews-v1", "--window", "0s").stdout
    assert table.splitlines()[0].split() == ["NAMESPACE", "WORKLOAD", "SUCCESS", "RPS",
                                             "REQUESTS", "LATENCY_P50", "LATENCY_P95",
                                             "LATENCY_P99"], table
    assert len(table.splitlines()) == 2 and "reviews-v1" in table, table
    bad = mesh.meshctl("stat", "deploy", "--window", "soon", check=False)
    assert bad.returncode == 2 and "is not a duration" in bad.stderr


def test_meshconfig_switches_to_istio_names_live(mesh):
    """MeshConfig spec.metrics.istioCompatibleNames: Istio's dashboards read
    the same series under istio_*; the labels do not change."""
    (mesh.dir / "meshconfig.yaml").write_text(
        "apiVersion: mesh.weft.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n"
        "spec: {metrics: {istioCompatibleNames: true}}\n")
    client = mesh.workloads["client-0"]
    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        assert request(client["outbound"], "http://reviews:9080/")[0] == 200
        text = metrics_text(client["metrics"])
        if "istio_requests_total{" in text:
            break
        time.sleep(0.2)
    assert total(text, "istio_requests_total", reporter="source", source_workload="client") >= 1
    assert "mesh_requests_total{" not in text
    assert "istio_request_duration_milliseconds_bucket{" in text


def test_tcp_connections_are_counted_by_both_sidecars(start_proxy):
    """Opaque TCP through two static-config sidecars: the source knows the
    Service and the endpoint's Pod; the destination's caller of a byte
    stream stays unknown (nothing carries it before mutual TLS)."""
    def echo_upper(conn):
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(100)
            if not chunk:
                return
            data += chunk
        conn.sendall(data.upper() * 2)

    app_port, close_app = tcp_server(echo_upper, connections=2)
    inbound_port, outbound_port = free_port(), free_port()
    db = {"name": "postgres", "namespace": "data", "app": "postgres", "version": "16"}
    destination = start_proxy({
        "workload": db,
        "listeners": [listener("inbound", inbound_port, tcp_cluster="app",
                               direction="DIRECTION_INBOUND")],
        "clusters": [cluster("app", app_port)],
    })
    source = start_proxy({
        "workload": {"name": "api", "namespace": "shop"},
        "listeners": [listener("outbound", outbound_port, tcp_cluster="postgres",
                               direction="DIRECTION_OUTBOUND")],
        "clusters": [{"name": "postgres", "service": "postgres.data.svc.cluster.local",
                      "endpoints": [{"address": "127.0.0.1", "port": inbound_port,
                                     "workload": db}]}],
    })
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", outbound_port), timeout=5) as conn:
            conn.sendall(b"select 1\n")
            received = b""
            while len(received) < 18:
                chunk = conn.recv(100)
                if not chunk:
                    break
                received += chunk
            assert received == b"SELECT 1\n" * 2
    close_app()

    hop = {"destination_workload": "postgres", "destination_namespace": "data",
           "destination_version": "16", "request_protocol": "tcp", "response_flags": "-"}
    assert source.settled_metric("mesh_tcp_closed_total", 2, reporter="source",
                                 source_workload="api",
                                 destination_service="postgres.data.svc.cluster.local",
                                 **hop) == 2
    assert source.metric("mesh_tcp_opened_total", reporter="source", source_workload="api",
                         **hop) == 2
    assert source.metric("mesh_tcp_received_bytes_total", reporter="source", **hop) == 18
    assert source.metric("mesh_tcp_sent_bytes_total", reporter="source", **hop) == 36
    assert destination.settled_metric("mesh_tcp_closed_total", 2, reporter="destination",
                                      source_workload="unknown", **hop) == 2
    assert destination.metric("mesh_tcp_sent_bytes_total", reporter="destination", **hop) == 36
    assert "response_code" not in destination.metrics_text().split("mesh_tcp_opened_total{")[1]

    # Nothing listens: the connection is counted with the reason.
    unreachable, port = free_port(), free_port()
    failing = start_proxy({
        "workload": {"name": "api", "namespace": "shop"},
        "listeners": [listener("outbound", port, tcp_cluster="gone",
                               direction="DIRECTION_OUTBOUND")],
        "clusters": [{"name": "gone", "service": "gone.shop.svc.cluster.local",
                      "endpoints": [{"address": "127.0.0.1", "port": unreachable}]}],
    })
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.settimeout(5)
        assert conn.recv(10) == b""
    assert failing.settled_metric("mesh_tcp_closed_total", 1,
                                  response_flags="upstream_connect_failure",
                                  destination_workload="unknown") == 1
