"""Route timeouts have one meaning on all four HTTP version pairs (client
HTTP/1.1 or HTTP/2 to mesh-proxy, mesh-proxy to an HTTP/1.1 or HTTP/2
backend): the request timeout bounds the exchange from the request head to
the response's end, the per-try timeout one attempt, the idle timeout a
stall, and grpc-timeout shortens the request timeout. Real curl against the
real binary and a misbehaving backend of ours, on 127.0.0.1."""
import subprocess
import time

import pytest

from conftest import cluster, forward_to, free_port, listener
from http_pairs import access_log, backend, curl, mesh_fixture, upstream_protocol  # noqa: F401 (backend: a fixture)

def config(port, backend_port, upstream):
    def route(prefix, **timeouts):
        return {"match": {"prefix": prefix}, "forward": forward_to(("app", 1)), **timeouts}

    extra = upstream_protocol(upstream)
    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            route("/request/", timeout="0.4s"),
            route("/per-try/", timeout="5s", per_try_timeout="0.3s"),
            route("/idle/", idle_timeout="0.3s"),
            route("/"),
        ]}]}],
        "clusters": [cluster("app", backend_port, **extra)],
    }


mesh = mesh_fixture(config)


def test_request_timeout_answers_504_before_the_head(mesh):
    proxy, downstream, base = mesh
    answer = curl(downstream, base + "/request/hang?ms=3000")
    assert answer.status == 504
    assert "x-weft-error: request_timeout" in answer.head
    assert 0.3 < answer.elapsed < 2.0
    assert proxy.settled_metric("mesh_local_replies_total", 1, reason="request_timeout") == 1
    assert access_log(proxy, '"path":"/request/hang?ms=3000"')["error"] == "request_timeout"


def test_per_try_timeout_answers_504_per_try(mesh):
    proxy, downstream, base = mesh
    answer = curl(downstream, base + "/per-try/hang?ms=3000")
    assert answer.status == 504
    assert "x-weft-error: per_try_timeout" in answer.head
    assert 0.2 < answer.elapsed < 2.0
    assert proxy.settled_metric("mesh_local_replies_total", 1, reason="per_try_timeout") == 1


def test_request_timeout_bounds_the_response_body_too(mesh):
    """The head came in time; the body did not: the response is cut short
    (GEP-1742: the request timeout runs to the response's end)."""
    proxy, downstream, base = mesh
    answer = curl(downstream, base + "/request/drip?chunks=30&ms=100")
    assert answer.status == 200
    assert answer.exit_code != 0, "curl saw the response cut short"
    assert len(answer.body) < 60
    assert answer.elapsed < 2.5
    assert access_log(proxy, '"path":"/request/drip?chunks=30&ms=100"')["error"] == "request_timeout"


def test_idle_timeout_cuts_a_stalled_body(mesh):
    """The body stalls before its first byte. Over HTTP/2 the head has gone
    to the client and the stream is reset; over HTTP/1.1 the head leaves
    with the first body bytes, so nothing has, and the client gets a 504."""
    proxy, downstream, base = mesh
    answer = curl(downstream, base + "/idle/drip?chunks=3&ms=1500")
    if downstream == "http2":
        assert answer.status == 200
        assert answer.exit_code != 0 and answer.body == b""
    else:
        assert answer.status == 504
        assert "x-weft-error: stream_idle_timeout" in answer.head
    assert answer.elapsed < 1.4
    assert access_log(proxy, '"path":"/idle/drip?chunks=3&ms=1500"')["error"] == "stream_idle_timeout"


def test_without_timeouts_slow_responses_and_bodies_complete(mesh):
    _, downstream, base = mesh
    answer = curl(downstream, base + "/hang?ms=1200")
    assert answer.exit_code == 0 and answer.status == 200 and answer.body == b"ok\n"
    answer = curl(downstream, base + "/drip?chunks=4&ms=400")
    assert answer.exit_code == 0 and answer.body == b"x\n" * 4


def test_grpc_timeout_shortens_the_request_timeout_on_every_version(mesh):
    proxy, downstream, base = mesh
    answer = curl(downstream, base + "/hang?ms=3000", "-H",
                  "content-type: application/grpc", "-H", "grpc-timeout: 300m",
                  "-H", "te: trailers", "--data-binary", "")
    assert "x-weft-error: request_timeout" in answer.head
    if downstream == "http2":
        assert "grpc-status: 4" in answer.head  # DEADLINE_EXCEEDED, trailers-only
    else:
        assert answer.status == 504
    assert answer.elapsed < 2.0


def test_a_refused_stream_with_a_large_body_is_answered_not_stuck(start_proxy, backend):
    """HTTP/1.1 client, HTTP/2 backend that refuses the stream while a 1 MiB
    upload is still coming: the body cannot be sent again, so the proxy
    answers at once instead of waiting on a full pipe nobody reads."""
    port = free_port()
    start_proxy(config(port, backend, "http2"))
    started = time.monotonic()
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "-i", "--http1.1",
                             "--data-binary", "@-", f"http://127.0.0.1:{port}/refuse"],
                            input=b"x" * (1 << 20), capture_output=True, timeout=20)
    elapsed = time.monotonic() - started
    status_line = result.stdout.split(b"\r\n", 1)[0].decode()
    assert status_line.split(" ")[1] == "502", result.stdout[:200]
    assert b"x-weft-error: upstream_reset" in result.stdout
    assert elapsed < 5


@pytest.mark.parametrize("downstream", ["http1", "http2"])
def test_a_stale_pooled_http1_connection_is_replaced(start_proxy, backend, downstream):
    """The backend closes its keep-alive connection 100 ms after answering,
    without saying so; the next request, sent sooner than the pool checks
    an idle connection, finds it closed and is sent again on a new one
    (one HTTP/1.1 upstream call for both client versions)."""
    port = free_port()
    proxy = start_proxy(config(port, backend, "http1"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(5):
        answer = curl(downstream, base + "/close-soon")
        assert answer.exit_code == 0 and answer.body == b"ok\n", answer.head
        time.sleep(0.25)  # closed by now; the pool checks only after 500 ms idle
    assert proxy.metric("mesh_local_replies_total", reason="upstream_reset") == 0
    assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="new") >= 5


@pytest.mark.parametrize("downstream", ["http1", "http2"])
def test_a_post_on_a_stale_pooled_connection_is_not_sent_again(start_proxy, backend, downstream):
    """The upstream may have acted on a non-idempotent request before the
    connection closed (RFC 9110 §9.2.2): the client is told, not guessed for."""
    port = free_port()
    proxy = start_proxy(config(port, backend, "http1"))
    base = f"http://127.0.0.1:{port}"
    first = curl(downstream, base + "/close-soon")
    assert first.status == 200, first.head
    time.sleep(0.25)
    answer = curl(downstream, base + "/after-close", "-X", "POST")
    assert answer.status == 502, answer.head
    assert "x-weft-error: upstream_reset" in answer.head
    assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="new") == 1
