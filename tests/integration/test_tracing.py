"""Distributed tracing (docs/tasks/tracing.md) over a `meshctl up` mesh with
a collector double: trace context across three hops (the test as the
client app, reviews-v1 calling ratings through its own sidecar), a span
per sidecar with the right parents, the caller's sampling decision
honoured, both export formats in the shapes OTLP/HTTP JSON and Zipkin v2
define, and a collector that fails counted, not retried."""
import http.client
import http.server
import json
import shutil
import threading
import time
import types

import pytest

from conftest import ROOT, free_port, http_get
from test_controlplane import LocalMesh

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"

RATINGS = """
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
  replicas: 1
  selector: {matchLabels: {app: ratings}}
  template:
    metadata: {labels: {app: ratings, version: v1}}
    spec:
      containers:
        - name: ratings
          command: [/usr/bin/python3, app.py, --port, $(PORT), --name, ratings]
          env: [{name: PORT, value: "9080"}]
          ports: [{name: http, containerPort: 9080}]
"""


class Collector:
    """An OTLP/HTTP and Zipkin collector double: keeps what is POSTed and
    answers `status`."""

    def __init__(self):
        self.posts = []  # (path, content type, parsed body)
        self.status = 200
        self.changed = threading.Condition()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with collector.changed:
                    if collector.status == 200:
                        collector.posts.append((self.path, self.headers.get("Content-Type"),
                                                json.loads(body)))
                    collector.changed.notify_all()
                self.send_response(collector.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def otlp_spans(self):
        spans = []
        for path, _, body in self.posts:
            if path != "/v1/traces":
                continue
            for resource in body["resourceSpans"]:
                attrs = {a["key"]: a["value"]["stringValue"]
                         for a in resource["resource"]["attributes"]}
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        spans.append(dict(span, service=attrs["service.name"]))
        return spans

    def zipkin_spans(self):
        return [span for path, _, body in self.posts if path == "/api/v2/spans" for span in body]

    def wait_for(self, count_spans, count, timeout=10):
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(count_spans()) < count and time.monotonic() < deadline:
                self.changed.wait(0.2)
        return count_spans()

    def stop(self):
        self.server.shutdown()


def meshconfig(tracing):
    return ("apiVersion: mesh.weft.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n"
            f"spec: {{tracing: {tracing}}}\n")


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.stop()


def start_mesh(tmp_path, tracing):
    directory = tmp_path / "demo"
    shutil.copytree(ROOT / "deploy" / "examples" / "demo", directory)
    (directory / "ratings.yaml").write_text(RATINGS)
    (directory / "meshconfig.yaml").write_text(meshconfig(tracing))
    return LocalMesh(tmp_path, existing=types.SimpleNamespace(dir=directory, state=tmp_path / "run"))


@pytest.fixture
def mesh_otlp(tmp_path, collector):
    m = start_mesh(tmp_path, f"{{samplingPercent: 100, otlp: {{endpoint: "
                             f"'http://127.0.0.1:{collector.port}/v1/traces'}}}}")
    yield m
    m.stop()


def chain(mesh, headers):
    """The test as the client app: client's sidecar -> reviews-v1, whose app
    calls ratings through its own sidecar -> ratings' /echo. Answers the
    fields ratings' app received."""
    conn = http.client.HTTPConnection("127.0.0.1", mesh.outbound, timeout=10)
    try:
        conn.request("GET", "http://reviews-v1:9080/call?to=http://ratings:9080/echo",
                     headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        return json.loads(body)["headers"]
    finally:
        conn.close()


def metric(mesh, workload, name, **labels):
    text = http_get(f"http://127.0.0.1:{mesh.workloads[workload]['metrics']}/stats/prometheus")[1]
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def settled_metric(mesh, workload, name, expected, timeout=10, **labels):
    """The metric once it reaches `expected`, or its value after `timeout`: a
    sidecar counts a batch when the collector's answer arrives."""
    deadline = time.monotonic() + timeout
    value = metric(mesh, workload, name, **labels)
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = metric(mesh, workload, name, **labels)
    return value


def test_a_sampled_trace_is_joined_across_three_hops(mesh_otlp, collector):
    received = chain(mesh_otlp, {"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01",
                                 "tracestate": "vendor=kept"})
    # Every sidecar kept the trace id and the sampled flag; the last hop's
    # parent is the ratings sidecar's span.
    version, trace, parent, flags = received["traceparent"].split("-")
    assert (version, trace, flags) == ("00", TRACE, "01")
    assert received["tracestate"] == "vendor=kept"

    spans = collector.wait_for(collector.otlp_spans, 4)
    assert len(spans) == 4, spans
    assert {span["traceId"] for span in spans} == {TRACE}
    by_parent = {span.get("parentSpanId"): span for span in spans}
    # client -> reviews-v1 (client span, then server span), reviews-v1 ->
    # ratings (client span, then server span): each the parent of the next.
    hops = []
    parent_id = CALLER_SPAN
    while parent_id in by_parent:
        hops.append(by_parent[parent_id])
        parent_id = hops[-1]["spanId"]
    assert len(hops) == 4, spans
    assert [(h["service"], h["kind"]) for h in hops] == [
        ("client.default", 3), ("reviews.default", 2), ("reviews.default", 3),
        ("ratings.default", 2)]
    assert hops[-1]["spanId"] == parent
    for hop in hops:
        attrs = {a["key"]: next(iter(a["value"].values())) for a in hop["attributes"]}
        assert attrs["http.request.method"] == "GET"
        assert attrs["http.response.status_code"] == "200"
        assert hop["status"] == {"code": 0}
        assert int(hop["endTimeUnixNano"]) >= int(hop["startTimeUnixNano"])
    client_attrs = {a["key"]: next(iter(a["value"].values())) for a in hops[0]["attributes"]}
    assert client_attrs["peer.service"] == "reviews-v1.default.svc.cluster.local"
    assert client_attrs["weft.destination_workload"] == "reviews-v1.default"
    assert client_attrs["url.path"] == "/call"
    assert settled_metric(mesh_otlp, "client-0", "mesh_trace_spans_total", 1,
                          outcome="exported") == 1


def test_the_callers_decision_is_honoured(mesh_otlp, collector):
    # Not sampled: passed on as it came, and no hop records a span.
    unsampled = f"00-{TRACE}-{CALLER_SPAN}-00"
    assert chain(mesh_otlp, {"traceparent": unsampled})["traceparent"] == unsampled
    # No context at 100%: the first sidecar starts a sampled trace that
    # every later hop joins.
    received = chain(mesh_otlp, {})
    _, trace, _, flags = received["traceparent"].split("-")
    assert flags == "01"
    spans = collector.wait_for(collector.otlp_spans, 4)
    assert {span["traceId"] for span in spans} == {trace}, spans
    assert len(spans) == 4
    roots = [span for span in spans if "parentSpanId" not in span]
    assert len(roots) == 1 and roots[0]["service"] == "client.default"


def test_zipkin_export_and_b3_fields(tmp_path, collector):
    mesh = start_mesh(tmp_path, f"{{samplingPercent: 0, zipkin: {{endpoint: "
                                f"'http://127.0.0.1:{collector.port}'}}}}")
    try:
        # B3 multi, sampled: answered in kind, and a traceparent beside it.
        received = chain(mesh, {"x-b3-traceid": TRACE, "x-b3-spanid": CALLER_SPAN,
                                "x-b3-sampled": "1"})
        assert received["x-b3-traceid"] == TRACE
        assert received["x-b3-sampled"] == "1"
        assert received["traceparent"].split("-")[1] == TRACE
        spans = collector.wait_for(collector.zipkin_spans, 4)
        assert len(spans) == 4, spans
        assert {span["traceId"] for span in spans} == {TRACE}
        last = [span for span in spans if span["id"] == received["x-b3-spanid"]]
        assert len(last) == 1 and last[0]["kind"] == "SERVER"
        assert last[0]["localEndpoint"]["serviceName"] == "ratings.default"
        assert last[0]["parentId"] == received["x-b3-parentspanid"]
        for span in spans:
            assert isinstance(span["timestamp"], int) and span["duration"] >= 1
            assert span["tags"]["http.status_code"] == "200"
        # 0%, no context: a new trace, not sampled, the decision passed on
        # (b3 too, for B3-only applications); nothing exported.
        received = chain(mesh, {})
        assert received["traceparent"].endswith("-00")
        assert received["b3"].endswith("-0")
        time.sleep(1.5)  # an export tick
        assert len(collector.zipkin_spans()) == 4
    finally:
        mesh.stop()


def test_a_failing_collector_is_counted_not_retried(mesh_otlp, collector):
    collector.status = 503
    for _ in range(3):
        chain(mesh_otlp, {"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"})
    # Every sidecar's spans of those requests went to the failing collector
    # (reviews-v1 has two per request) before it recovers.
    for workload, spans in (("client-0", 3), ("reviews-v1-0", 6), ("ratings-0", 3)):
        assert settled_metric(mesh_otlp, workload, "mesh_trace_spans_total", spans,
                              outcome="dropped_export_failed") == spans, workload
    assert metric(mesh_otlp, "client-0", "mesh_trace_exports_total", result="failed") >= 1
    assert metric(mesh_otlp, "client-0", "mesh_trace_spans_total", outcome="exported") == 0
    # Back up: the next spans go out; the dropped ones stay dropped.
    collector.status = 200
    chain(mesh_otlp, {"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"})
    assert len(collector.wait_for(collector.otlp_spans, 4)) == 4
