"""Retries on all four HTTP version pairs (client HTTP/1.1 or HTTP/2 to
mesh-proxy, mesh-proxy to an HTTP/1.1 or HTTP/2 backend): failed attempts
of idempotent requests are tried again on the route's conditions, counted
by reason, within the cluster's retry budget, after a jittered backoff or
the upstream's retry-after; nothing the client saw is ever retried. Real
curl against the real binary and a misbehaving backend of ours."""
import hashlib
import os
import uuid

import pytest

import misbehaving_backend
from conftest import cluster, listener
from http_pairs import access_log, backend, curl, mesh_fixture, upstream_protocol  # noqa: F401 (backend: a fixture)

RETRY = {"attempts": 4, "retry_on": ["5xx"], "base_interval": "0.01s", "max_interval": "2s"}
GRPC_RETRY = {**RETRY, "retry_on": ["unavailable"]}


def config(port, backend_port, upstream):
    extra = upstream_protocol(upstream)

    def route(prefix, name, **fields):
        return {"match": {"prefix": prefix}, "forward": {"clusters": [{"name": name}]}, **fields}

    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            route("/retry/", "app", retry=RETRY),
            route("/grpc-retry/", "app", retry=GRPC_RETRY),
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


mesh = mesh_fixture(config)


def test_a_flaky_backend_is_retried_until_it_answers(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=2")
    assert answer.status == 200 and answer.body == b"ok\n"
    assert misbehaving_backend.requests(key) == 3
    assert proxy.settled_metric("mesh_upstream_retries_total", 2, cluster="app",
                                reason="status_503") == 2
    assert access_log(proxy, key)["attempts"] == 3


def test_a_reset_before_the_head_is_retried(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1&how=reset")
    assert answer.status == 200 and answer.body == b"ok\n"
    assert misbehaving_backend.requests(key) == 2
    assert proxy.settled_metric("mesh_upstream_retries_total", 1, cluster="app",
                                reason="upstream_reset") == 1


def test_a_grpc_unavailable_answer_is_retried(mesh):
    """A trailers-only grpc-status 14 (UNAVAILABLE) is retried under the
    `unavailable` condition, whatever HTTP version carries the call; another
    gRPC status is final."""
    proxy, downstream, base = mesh
    grpc = ("-H", "content-type: application/grpc", "-H", "te: trailers")
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/grpc-retry/flaky?key={key}&fail=2&grpc=14", *grpc)
    assert answer.status == 200 and answer.body == b"ok\n"
    assert misbehaving_backend.requests(key) == 3
    assert proxy.settled_metric("mesh_upstream_retries_total", 2, cluster="app",
                                reason="grpc_unavailable") == 2
    final = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/grpc-retry/flaky?key={final}&fail=1&grpc=5", *grpc)
    assert "grpc-status: 5" in answer.head  # NOT_FOUND: not retried
    assert misbehaving_backend.requests(final) == 1


def test_the_last_attempt_answers_as_it_is(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=100")
    assert answer.status == 503 and answer.body == b"flaky\n"
    assert "x-weft-error" not in answer.head
    assert misbehaving_backend.requests(key) == 4  # attempts: 4
    assert access_log(proxy, key)["attempts"] == 4


def test_a_post_is_retried_on_an_answer_but_not_after_a_reset(mesh):
    """A listed status is the upstream's word that it did not act; a reset
    leaves that unknown, and a POST is not idempotent."""
    proxy, downstream, base = mesh
    answered = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={answered}&fail=1", "-X", "POST")
    assert answer.status == 200 and misbehaving_backend.requests(answered) == 2
    reset = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={reset}&fail=1&how=reset",
                  "-X", "POST")
    assert answer.status == 502 and misbehaving_backend.requests(reset) == 1


def test_routes_without_a_policy_are_not_retried(mesh):
    proxy, downstream, base = mesh
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/plain/flaky?key={key}&fail=1")
    assert answer.status == 503 and misbehaving_backend.requests(key) == 1
    assert proxy.metric("mesh_upstream_retries_total", cluster="app", reason="status_503") == 0


def post_file(tmp_path, size):
    """A file of `size` random bytes to upload, and its SHA-256."""
    data = os.urandom(size)
    path = tmp_path / f"body-{size}"
    path.write_bytes(data)
    return f"@{path}", hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("method,how", [("POST", "status"), ("PUT", "reset")])
def test_a_body_within_the_replay_limit_is_sent_again_intact(mesh, tmp_path, method, how):
    """10 KiB, answered 503 or reset after the backend read all of it."""
    proxy, downstream, base = mesh
    upload, digest = post_file(tmp_path, 10 * 1024)
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1&how={how}",
                  "-X", method, "--data-binary", upload)
    assert answer.status == 200 and answer.body == b"ok\n"
    assert misbehaving_backend.bodies(key) == [digest, digest]
    assert proxy.metric("mesh_upstream_retry_body_too_large_total", cluster="app") == 0


def test_a_body_over_the_replay_limit_is_not_retried(mesh, tmp_path):
    """1 MiB streams through: once sent, it cannot be sent again, and the
    retry it would have had is counted."""
    proxy, downstream, base = mesh
    upload, digest = post_file(tmp_path, 1024 * 1024)
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1", "-X", "POST",
                  "--data-binary", upload)
    assert answer.status == 503 and answer.body == b"flaky\n"
    assert misbehaving_backend.bodies(key) == [digest]
    assert proxy.settled_metric("mesh_upstream_retry_body_too_large_total", 1,
                                cluster="app") == 1


def test_retry_after_is_honoured(mesh):
    _, downstream, base = mesh
    key = uuid.uuid4().hex
    answer = curl(downstream, f"{base}/retry/flaky?key={key}&fail=1&retry_after=1")
    assert answer.status == 200
    assert answer.elapsed >= 0.9


def test_a_total_outage_is_not_amplified(mesh):
    """Every request fails: retries stay within 20% of the requests, the rest
    are refused by the budget, counted, and logged as such."""
    proxy, downstream, base = mesh
    keys = [uuid.uuid4().hex for _ in range(40)]
    for key in keys:
        answer = curl(downstream, f"{base}/outage/flaky?key={key}&fail=100")
        assert answer.status == 503
    upstream = sum(misbehaving_backend.requests(k) for k in keys)
    assert 40 < upstream <= 40 * 1.2 + 1
    refused = proxy.metric("mesh_upstream_retry_budget_exhausted_total", cluster="outage")
    assert refused >= 30
    assert any(access_log(proxy, k)["error"] == "retry_budget_exhausted" for k in keys[-5:])
