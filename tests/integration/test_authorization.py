"""AuthorizationPolicy (docs/tasks/authorization.md) under `meshctl up`: the
destination's sidecar decides on the caller's verified SPIFFE ID and the
request, answers a denied request 403 rbac_denied (gRPC: PERMISSION_DENIED)
and counts it by policy, and tells the application who called in a
x-forwarded-client-cert field no client can forge."""
import http.client
import json
import re
import subprocess
import time

import grpc
import pytest

from conftest import http_get
from test_controlplane import LocalMesh

CLIENT = "spiffe://cluster.local/ns/default/sa/client"
REVIEWS = "spiffe://cluster.local/ns/default/sa/reviews"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    m = LocalMesh(tmp_path_factory.mktemp("authz"))
    yield m
    m.stop()


def eventually(check, seconds=15):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)
    return result


REVIEWS_PODS = ("reviews-v1-0", "reviews-v2-0")


def acked(mesh):
    return {p["name"]: p["version_acked"] for p in mesh.status()["proxies"]}


def reconfigured(mesh, before):
    """Waits until both reviews sidecars acknowledged a configuration newer
    than `before` (the policies are theirs: other sidecars' do not change)."""
    eventually(lambda: all(acked(mesh)[pod] != before[pod] for pod in REVIEWS_PODS))


def apply(mesh, name, text, changes_config=True):
    """Writes a manifest into the mesh's directory (atomically) and waits
    until the control plane judged it and, when it covers them, the
    reviews sidecars run it."""
    before = acked(mesh)
    path = mesh.dir / f"{name}.yaml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(path)
    eventually(lambda: any(c["object"] == f"AuthorizationPolicy default/{name}"
                           for c in mesh.status()["conditions"]))
    if changes_config:
        reconfigured(mesh, before)
    return path


def remove(mesh, path, changes_config=True):
    before = acked(mesh)
    path.unlink()
    if changes_config:
        reconfigured(mesh, before)


def condition(mesh, name):
    return [c for c in mesh.status()["conditions"]
            if c["object"] == f"AuthorizationPolicy default/{name}" and c["type"] == "Accepted"][0]


def call(mesh, path="/", headers=None):
    """The client workload's request to reviews, through both sidecars:
    (status, x-weft-error, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", mesh.outbound, timeout=5)
    try:
        conn.request("GET", f"http://reviews:9080{path}", headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("x-weft-error"), response.read().decode()
    finally:
        conn.close()


def inbound_port(mesh, workload):
    return list(mesh.workloads[workload]["inbound"].values())[0]


def direct(mesh, workload, path="/", headers=None):
    """A plaintext request straight to a workload's inbound port (no sidecar
    of the caller's: an unauthenticated caller)."""
    conn = http.client.HTTPConnection("127.0.0.1", inbound_port(mesh, workload), timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("x-weft-error"), response.read().decode()
    finally:
        conn.close()


def denied(mesh, policy):
    total = 0
    for workload in ("reviews-v1-0", "reviews-v2-0"):
        metrics = http_get(
            f"http://127.0.0.1:{mesh.workloads[workload]['metrics']}/stats/prometheus")[1]
        found = re.search(rf'mesh_authz_denied_total{{policy="{re.escape(policy)}"}} (\d+)',
                          metrics)
        total += int(found.group(1)) if found else 0
    return total


def destination_403s_from_client(mesh):
    total = 0
    for workload in ("reviews-v1-0", "reviews-v2-0"):
        metrics = http_get(
            f"http://127.0.0.1:{mesh.workloads[workload]['metrics']}/stats/prometheus")[1]
        for line in metrics.splitlines():
            if (line.startswith("mesh_requests_total{") and 'reporter="destination"' in line
                    and 'source_workload="client"' in line and 'response_code="403"' in line):
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_deny_names_a_caller_and_a_path(mesh):
    assert call(mesh, "/secret/plans")[0] == 200
    path = apply(mesh, "no-secrets", """
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: no-secrets}
spec:
  targetRef: {kind: Service, name: reviews}
  action: DENY
  rules:
    - from: [{serviceAccounts: [default/client]}]
      to: [{paths: ["/secret/*"]}]
""")
    try:
        accepted = condition(mesh, "no-secrets")
        assert accepted["status"] == "True", accepted
        assert "covers 2 workloads" in accepted["message"], accepted
        before = denied(mesh, "default/no-secrets")
        for attempt in ("/secret/plans", "/public/%2e%2e/secret/plans", "//secret//plans"):
            status, error, body = call(mesh, attempt)
            assert (status, error) == (403, "rbac_denied"), (attempt, status, body)
        assert call(mesh, "/")[0] == 200  # other paths are not named
        assert denied(mesh, "default/no-secrets") - before == 3
        # The destination counts the 403s as the caller's, as the source does.
        assert destination_403s_from_client(mesh) >= 3
        # A plaintext caller is not the client's service account.
        assert direct(mesh, "reviews-v1-0", "/secret/plans")[0] == 200
    finally:
        remove(mesh, path)
    assert call(mesh, "/secret/plans")[0] == 200


def grpc_call(port):
    """A gRPC call over h2c; the policy answers it before any application."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        method = channel.unary_unary("/reviews.Reviews/Get")
        with pytest.raises(grpc.RpcError) as failed:
            method(b"", timeout=5)
        return failed.value.code()
    finally:
        channel.close()


def test_unauthenticated_callers_denied_over_http1_http2_and_grpc(mesh):
    path = apply(mesh, "mesh-only", """
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: mesh-only}
spec:
  targetRef: {kind: Service, name: reviews}
  action: DENY
  rules: [{from: [{unauthenticated: true}]}]
""")
    try:
        before = denied(mesh, "default/mesh-only")
        assert direct(mesh, "reviews-v1-0")[:2] == (403, "rbac_denied")
        port = inbound_port(mesh, "reviews-v1-0")
        h2 = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--http2-prior-knowledge",
                             f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                            timeout=10).stdout
        assert h2.startswith("HTTP/2 403"), h2
        assert "x-weft-error: rbac_denied" in h2, h2
        assert grpc_call(port) == grpc.StatusCode.PERMISSION_DENIED
        assert denied(mesh, "default/mesh-only") - before == 3
        # Sidecar to sidecar is mutual TLS: the client is not unauthenticated.
        assert all(call(mesh)[0] == 200 for _ in range(10))
    finally:
        remove(mesh, path)


def test_allow_policy_admits_only_what_it_names(mesh):
    path = apply(mesh, "only-productpage", """
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: only-productpage}
spec:
  targetRef: {kind: Service, name: reviews}
  rules:
    - from: [{serviceAccounts: [default/productpage]}]
    - to: [{methods: [GET], paths: [/healthz]}]
""")
    try:
        assert call(mesh, "/")[:2] == (403, "rbac_denied")
        assert call(mesh, "/healthz")[0] == 200  # the second rule: anyone may GET it
        assert denied(mesh, "default/only-productpage") >= 1
    finally:
        remove(mesh, path)
    assert call(mesh, "/")[0] == 200


def test_application_learns_the_verified_caller(mesh):
    forged = {"x-forwarded-client-cert": "URI=spiffe://cluster.local/ns/kube-system/sa/admin"}
    _, _, body = call(mesh, "/echo", forged)
    headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert headers["x-forwarded-client-cert"] == f"By={REVIEWS};URI={CLIENT}"
    # Plaintext: no identity, and the forged field does not pass.
    _, _, body = direct(mesh, "reviews-v1-0", "/echo", forged)
    headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert "x-forwarded-client-cert" not in headers, headers


def test_a_bad_policy_is_rejected_with_a_reason_and_enforces_nothing(mesh):
    path = apply(mesh, "typo", """
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: typo}
spec:
  targetRef: {kind: Service, name: reviews}
  action: DENY
  rules: [{from: [{serviceAccounts: [client]}]}]
""", changes_config=False)
    try:
        rejected = condition(mesh, "typo")
        assert rejected["status"] == "False" and rejected["reason"] == "InvalidValue", rejected
        assert "'client' is not namespace/name" in rejected["message"], rejected
        assert call(mesh)[0] == 200
    finally:
        remove(mesh, path, changes_config=False)


def test_access_log_names_the_denying_policy_and_the_caller(mesh, tmp_path):
    log = tmp_path / "access.log"
    config = mesh.dir / "meshconfig.yaml"
    before = acked(mesh)
    config.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n"
                      f"spec: {{accessLog: {{path: {log}}}}}\n")
    reconfigured(mesh, before)
    path = apply(mesh, "deny-client", """
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: deny-client}
spec:
  targetRef: {kind: Service, name: reviews}
  action: DENY
  rules: [{from: [{serviceAccounts: [default/client]}]}]
""")
    try:
        assert call(mesh, "/", {"x-request-id": "denied-1"})[:2] == (403, "rbac_denied")

        def inbound_line():
            if not log.exists():
                return None
            for text in log.read_text().splitlines():
                line = json.loads(text)
                if line["request_id"] == "denied-1" and line["listener"].startswith("inbound"):
                    return line
            return None
        line = eventually(inbound_line)
        assert line["status"] == 403 and line["error"] == "rbac_denied", line
        assert line["authz_policy"] == "default/deny-client", line
        assert line["peer_identity"] == CLIENT, line
    finally:
        remove(mesh, path)
        before = acked(mesh)
        config.unlink()
        reconfigured(mesh, before)
