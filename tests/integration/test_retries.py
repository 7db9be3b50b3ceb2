"""Retries on all four HTTP version pairs (client HTTP/1.1 or HTTP/2 to
mesh-proxy, mesh-proxy to an HTTP/1.1 or HTTP/2 backend): failed attempts
of idempotent requests are tried again on the route's conditions, counted
by reason, within the cluster's retry budget, after a jittered backoff or
the upstream's retry-after; nothing the client saw is ever retried. Real
curl against the real binary and a misbehaving backend of ours."""
import json
import subprocess
import time
import uuid

import pytest

import misbehaving_backend
from conftest import cluster, free_port, listener

PAIRS = [("http1", "http1"), ("http1", "http2"), ("http2", "http1"), ("http2", "http2")]
RETRY = {"attempts": 4, "retry_on": ["5xx"], "base_interval": "0.01s", "max_interval": "2s"}


@pytest.fixture(scope="module")
def backend():
    port, stop = misbehaving_backend.start()
    yield port
    stop()


def config(port, backend_port, upstream):
    extra = {"protocol": "PROTOCOL_HTTP2"} if upstream == "http2" else {}

    def route(prefix, name, **fields):
        return {"match": {"prefix": prefix}, "forward": {"clusters": [{"name": name}]}, **fields}

    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            route("/retry/", "app", retry=RETRY),
            route("/outage/", "outage", retry=RETRY),
            route("/", "app"),
        ]}]}],
        "clusters": [
            cluster("app", backend_port, **extra),
            # No minimum rate: at most 20% of the requests are retried.
            cluster("outage", backend_port,
                    retry_budget={"percent": 20, "min_retries_per_second": 0}, **extra),
        ],
    }


@pytest.fixture(params=PAIRS, ids=[f"{d}-to-{u}" for d, u in PAIRS])
def mesh(request, start_proxy, backend):
    downstream, upstream = request.param
    port = free_port()
    proxy = start_proxy(config(port, backend, upstream))
    return proxy, downstream, f"http://127.0.0.1:{port}"


def curl(downstream, url, *args):
    """(status, headers text, body, seconds taken)."""
    version = ["--http2-prior-knowledge"] if downstream == "http2" else ["--http1.1"]
    started = time.monotonic()
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "-i", *version, *args, url],
                            capture_output=True, timeout=20)
    elapsed = time.monotonic() - started
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    head = head.decode("latin-1").lower()
    return int(head.split(" ")[1]), head, body, elapsed


def access_log(proxy, key):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in proxy.log_text().splitlines():
            if line.startswith("{") and key in line and '"attempts"' in line:
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError(f"no access log record for {key}")


def test_a_flaky_backend_is_retried_until_it_answers(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    status, _, body, _ = curl(downstream, f"{base}/retry/flaky?key={key}&fail=2")
    assert status == 200 and body == b"ok\n"
    assert misbehaving_backend.requests(key) == 3
    assert proxy.settled_metric("mesh_upstream_retries_total", 2, cluster="app",
                                reason="status_503") == 2
    assert access_log(proxy, key)["attempts"] == 3


def test_a_reset_before_the_head_is_retried(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    status, _, body, _ = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1&how=reset")
    assert status == 200 and body == b"ok\n"
    assert misbehaving_backend.requests(key) == 2
    assert proxy.settled_metric("mesh_upstream_retries_total", 1, cluster="app",
                                reason="upstream_reset") == 1


def test_the_last_attempt_answers_as_it_is(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    status, head, body, _ = curl(downstream, f"{base}/retry/flaky?key={key}&fail=100")
    assert status == 503 and body == b"flaky\n" and "x-weft-error" not in head
    assert misbehaving_backend.requests(key) == 4  # attempts: 4
    assert access_log(proxy, key)["attempts"] == 4


def test_post_is_not_retried_and_routes_without_a_policy_are_not(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    status, _, _, _ = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1", "-X", "POST")
    assert status == 503 and misbehaving_backend.requests(key) == 1
    other = uuid.uuid4().hex
    status, _, _, _ = curl(downstream, f"{base}/plain/flaky?key={other}&fail=1")
    assert status == 503 and misbehaving_backend.requests(other) == 1
    assert proxy.metric("mesh_upstream_retries_total", cluster="app", reason="status_503") == 0


def test_retry_after_is_honoured(mesh):
    _, downstream, base = mesh
    key = uuid.uuid4().hex
    status, _, _, elapsed = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1&retry_after=1")
    assert status == 200
    assert elapsed >= 0.9


def test_a_total_outage_is_not_amplified(mesh):
    """Every request fails: retries stay within 20% of the requests, the rest
    are refused by the budget, counted, and logged as such."""
    proxy, downstream, base = mesh
    keys = [uuid.uuid4().hex for _ in range(40)]
    for key in keys:
        status, _, _, _ = curl(downstream, f"{base}/outage/flaky?key={key}&fail=100")
        assert status == 503
    upstream = sum(misbehaving_backend.requests(k) for k in keys)
    assert 40 < upstream <= 40 * 1.2 + 1
    refused = proxy.metric("mesh_upstream_retry_budget_exhausted_total", cluster="outage")
    assert refused >= 30
    assert any(access_log(proxy, k)["error"] == "retry_budget_exhausted" for k in keys[-5:])
