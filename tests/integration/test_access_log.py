"""Access logs (docs/tasks/access-logs.md): one line per request, written
off the request path. On all four HTTP version pairs of a standalone
proxy, every failure reason is logged with its status, flag and attempts
while successes are sampled out; bytes and the text format are checked
against what curl saw. Over a `meshctl up` mesh, MeshConfig spec.accessLog
turns the log on, both sidecars of a hop log the request with the peer
workloads and the trace id, and a change of format applies live."""
import http.client
import json
import shutil
import signal
import socket
import time
import types

import pytest

from conftest import ROOT, cluster, forward_to, free_port, http_get, listener, tcp_server
from http_pairs import backend, curl, upstream_protocol  # noqa: F401 (backend: a fixture)
from test_controlplane import LocalMesh
from test_tracing import Collector, collector  # noqa: F401 (collector: a fixture)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def lines_of(path, needle, count=1, timeout=5):
    """The lines of the file at `path` holding `needle`, once there are
    `count` (a worker hands its lines over every 50 ms)."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        found = [line for line in text.splitlines() if needle in line]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return found


def failures_config(tmp_path):
    def config(port, backend_port, upstream):
        def route(prefix, to="app", **extra):
            return {"match": {"prefix": prefix}, "forward": forward_to((to, 1)), **extra}

        extra = upstream_protocol(upstream)
        return {
            "listeners": [listener("front", port, route_table="front")],
            "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
                route("/request/", timeout="0.4s"),
                route("/per-try/", timeout="5s", per_try_timeout="0.3s"),
                route("/idle/", idle_timeout="0.3s"),
                route("/dead/", to="dead"),
                route("/"),
            ]}]}],
            "clusters": [cluster("app", backend_port, **extra), cluster("dead", free_port())],
            # Successes sampled out: only what failed is logged.
            "access_log": {"path": str(tmp_path / f"access-{port}.log"), "sampling_percent": 0},
        }
    return config


@pytest.mark.parametrize("downstream,upstream", [("http1", "http1"), ("http1", "http2"),
                                                 ("http2", "http1"), ("http2", "http2")],
                         ids=["http1-to-http1", "http1-to-http2", "http2-to-http1",
                              "http2-to-http2"])
def test_every_failure_reason_is_logged_and_successes_are_sampled_out(
        tmp_path, start_proxy, backend, downstream, upstream):  # noqa: F811
    port = free_port()
    proxy = start_proxy(failures_config(tmp_path)(port, backend, upstream))
    log = tmp_path / f"access-{port}.log"
    base = f"http://127.0.0.1:{port}"
    key = f"{downstream}-{upstream}"
    cases = [
        # path, status the client sees, the line's status and error
        (f"/request/hang?ms=3000&k={key}", 504, "request_timeout"),
        (f"/per-try/hang?ms=3000&k={key}", 504, "per_try_timeout"),
        (f"/dead/x?k={key}", 503, "upstream_connect_failure"),
        (f"/flaky?key=reset-{key}&fail=9&how=reset", 502, "upstream_reset"),
        (f"/status/503?k={key}", 503, ""),  # the application's 5xx: logged too
    ]
    for path, status, _ in cases:
        assert curl(downstream, base + path).status == status, path
    # A stall: a 504, or a body cut short when the head went out first.
    idle = curl(downstream, base + f"/idle/drip?chunks=3&ms=1500&k={key}")
    for ok in (f"/ok?k={key}", f"/status/404?k={key}"):
        assert curl(downstream, base + ok).status in (200, 404)

    for path, status, error in cases + [(f"/idle/drip?chunks=3&ms=1500&k={key}",
                                         idle.status or 200, "stream_idle_timeout")]:
        found = lines_of(log, json.dumps(path)[1:-1])
        assert len(found) == 1, (path, log.read_text() if log.exists() else "")
        line = json.loads(found[0])
        assert (line["status"], line["error"]) == (status, error), line
        assert line["protocol"] == ("HTTP/2" if downstream == "http2" else "HTTP/1.1")
        assert line["listener"] == "front" and line["downstream"] == "127.0.0.1"
        assert line["attempts"] >= (0 if error == "upstream_connect_failure" else 1), line
        assert line["start_time"].endswith("Z") and line["duration_ms"] >= 0
        if error in ("request_timeout", "per_try_timeout"):
            assert 250 <= line["duration_ms"] < 2000, line
    time.sleep(0.2)  # a sweep: nothing else comes
    text = log.read_text()
    assert "/ok?" not in text and "/status/404" not in text, text
    assert proxy.metric("mesh_access_log_lines_total", outcome="written") == len(cases) + 1
    assert proxy.metric("mesh_access_log_lines_total", outcome="dropped_queue_full") == 0


def front_config(port, backend_port, access_log):
    """A listener `front` forwarding everything to the backend, logging."""
    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}],
        "clusters": [cluster("app", backend_port)],
        "access_log": access_log,
    }


@pytest.mark.parametrize("downstream", ["http1", "http2"])
def test_text_lines_count_the_bodies_each_way(tmp_path, start_proxy, backend, downstream):  # noqa: F811
    port = free_port()
    log = tmp_path / "access.log"
    proxy = start_proxy(front_config(port, backend, {"path": str(log), "format": "FORMAT_TEXT"}))
    body = "x" * 12345
    answer = curl(downstream, f"http://127.0.0.1:{port}/drip?chunks=4&ms=10", "--data-binary", body,
                  "-H", "x-request-id: text-1")
    assert answer.status == 200
    found = lines_of(log, '"text-1"')
    assert len(found) == 1, log.read_text()
    line = found[0]
    protocol = "HTTP/2" if downstream == "http2" else "HTTP/1.1"
    assert line.startswith("[") and f'] "POST /drip?chunks=4&ms=10 {protocol}" 200 - 12345 ' in line
    fields = line.split('" 200 - ', 1)[1].split(" ")
    assert int(fields[1]) == len(answer.body), (line, len(answer.body))
    assert line.endswith('"front"')
    assert proxy.settled_metric("mesh_access_log_lines_total", 1, outcome="written") == 1


def test_sigusr1_reopens_the_file_logrotate_moved(tmp_path, start_proxy, backend):  # noqa: F811
    port = free_port()
    log = tmp_path / "access.log"
    proxy = start_proxy(front_config(port, backend, {"path": str(log)}))
    assert curl("http1", f"http://127.0.0.1:{port}/ok", "-H", "x-request-id: before").status == 200
    assert lines_of(log, '"before"')
    rotated = tmp_path / "access.log.1"
    log.rename(rotated)  # what logrotate does, then its postrotate: kill -USR1
    proxy.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not log.exists():
        assert time.monotonic() < deadline, proxy.log_path.read_text()
        time.sleep(0.05)
    assert curl("http1", f"http://127.0.0.1:{port}/ok", "-H", "x-request-id: after").status == 200
    assert lines_of(log, '"after"')
    assert '"after"' not in rotated.read_text() and '"before"' in rotated.read_text()
    assert "access log " + str(log) + " reopened" in proxy.log_path.read_text()
    assert proxy.process.poll() is None


def test_a_tcp_connection_is_one_line_at_its_close(tmp_path, start_proxy):
    def reverse(conn):
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.sendall(data[::-1])

    echo_port, close_echo = tcp_server(reverse)
    port, dead_port = free_port(), free_port()
    log = tmp_path / "access.log"
    start_proxy({
        "listeners": [listener("db", port, tcp_cluster="db"),
                      listener("gone", dead_port, tcp_cluster="gone")],
        "clusters": [cluster("db", echo_port), cluster("gone", free_port())],
        "access_log": {"path": str(log)},
    })
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"abc" * 1000)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert len(got) == 3000
    close_echo()
    with socket.create_connection(("127.0.0.1", dead_port), timeout=5) as s:
        assert s.recv(1) == b""  # the upstream refused: closed
    lines = [json.loads(line) for line in lines_of(log, '"protocol":"TCP"', count=2)]
    assert len(lines) == 2, log.read_text()
    ok, failed = sorted(lines, key=lambda line: line["listener"] == "gone")
    assert (ok["listener"], ok["cluster"], ok["upstream"]) == ("db", "db", f"127.0.0.1:{echo_port}")
    assert (ok["bytes_received"], ok["bytes_sent"], ok["error"]) == (3000, 3000, "")
    assert ok["downstream"] == "127.0.0.1" and ok["attempts"] == 1 and ok["status"] == 0
    assert (failed["listener"], failed["error"]) == ("gone", "upstream_connect_failure")
    assert failed["bytes_received"] == 0 and failed["bytes_sent"] == 0


MESHCONFIG = """apiVersion: mesh.weft.io/v1alpha1
kind: MeshConfig
metadata: {{name: mesh}}
spec:
  accessLog: {{format: {format}, path: {path}, samplingPercent: {percent}}}
  tracing: {{samplingPercent: 100, otlp: {{endpoint: 'http://127.0.0.1:{port}/v1/traces'}}}}
"""


@pytest.fixture
def logged_mesh(tmp_path, collector):  # noqa: F811
    directory = tmp_path / "demo"
    shutil.copytree(ROOT / "deploy" / "examples" / "demo", directory)
    log = tmp_path / "access.log"
    (directory / "meshconfig.yaml").write_text(
        MESHCONFIG.format(format="json", path=log, port=collector.port, percent=100))
    m = LocalMesh(tmp_path, existing=types.SimpleNamespace(dir=directory, state=tmp_path / "run"))
    m.access_log = log
    yield m
    m.stop()


def request(port, url, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_both_sidecars_log_a_hop_and_the_format_changes_live(logged_mesh, collector):  # noqa: F811
    mesh = logged_mesh
    status, body = request(mesh.outbound, "http://reviews-v1:9080/echo",
                           {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
                            "x-request-id": "hop-1"})
    assert status == 200
    found = [json.loads(line) for line in lines_of(mesh.access_log, '"hop-1"', count=2)]
    assert len(found) == 2, mesh.access_log.read_text()
    by_listener = {line["listener"]: line for line in found}
    outbound = next(line for name, line in by_listener.items() if "outbound" in name)
    inbound = next(line for name, line in by_listener.items() if "inbound" in name)
    for line in (outbound, inbound):
        assert line["status"] == 200 and line["error"] == ""
        assert line["trace_id"] == TRACE
        assert (line["source_workload"], line["source_namespace"]) == ("client", "default")
        assert line["destination_workload"] == "reviews-v1"
        assert line["service"].startswith("reviews-v1")
        assert line["bytes_received"] == 0
    assert outbound["bytes_sent"] == len(body)
    assert outbound["attempts"] == 1 and outbound["upstream"]

    # Text from now on, without a restart.
    (mesh.dir / "meshconfig.yaml").write_text(
        MESHCONFIG.format(format="text", path=mesh.access_log, port=collector.port, percent=100))
    deadline = time.monotonic() + 15
    text_lines = []
    n = 0
    while not text_lines and time.monotonic() < deadline:
        n += 1
        assert request(mesh.outbound, "http://reviews-v1:9080/echo",
                       {"x-request-id": f"text-{n}"})[0] == 200
        text_lines = [line for line in lines_of(mesh.access_log, f'"text-{n}"', timeout=0.5)
                      if line.startswith("[")]
    assert text_lines, mesh.access_log.read_text()[-2000:]
    assert '"default/client" "default/reviews-v1"' in text_lines[0]

    metrics = http_get(f"http://127.0.0.1:{mesh.workloads['client-0']['metrics']}"
                       "/stats/prometheus")[1]
    assert 'mesh_access_log_lines_total{outcome="written"}' in metrics
    sizes = [line for line in metrics.splitlines()
             if line.startswith("mesh_response_bytes_bucket{") and 'reporter="source"' in line]
    assert sizes and any('le="+Inf"' in line for line in sizes)


def test_both_sidecars_sample_the_same_requests(logged_mesh, collector):  # noqa: F811
    """Sampled by x-request-id: a successful request is logged by both
    sidecars of its hop or by neither."""
    mesh = logged_mesh
    (mesh.dir / "meshconfig.yaml").write_text(
        MESHCONFIG.format(format="json", path=mesh.access_log, port=collector.port, percent=50))
    # Once the new percentage is in force, a run of successes is no longer
    # all logged.
    deadline = time.monotonic() + 15
    run = 0
    while True:
        run += 1
        ids = [f"run{run}-{i}" for i in range(40)]
        for request_id in ids:
            assert request(mesh.outbound, "http://reviews-v1:9080/echo",
                           {"x-request-id": request_id})[0] == 200
        # A failure is always logged, after the run on both sides: once it
        # is there twice, the run's lines are too.
        end = f"run{run}-end"
        assert request(mesh.outbound, "http://reviews-v1:9080/status/503",
                       {"x-request-id": end})[0] == 503
        assert len(lines_of(mesh.access_log, f'"{end}"', count=2)) == 2
        time.sleep(0.2)
        text = mesh.access_log.read_text()
        counts = {i: text.count(f'"{i}"') for i in ids}
        if sum(1 for c in counts.values() if c == 0) > 0 or time.monotonic() > deadline:
            break
    assert set(counts.values()) <= {0, 2}, counts
    logged = sum(1 for c in counts.values() if c == 2)
    assert 5 <= logged <= 35, counts
