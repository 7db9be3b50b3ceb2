"""Workload identity (docs/tasks/mtls.md) under `meshctl up`: the control
plane's certificate authority signs exactly the caller's SPIFFE ID over TLS
(Python grpcio plays a proxy), each sidecar holds a certificate it renews
at half-life, and each inbound listener terminates its peers' mutual TLS
with it: a client without a certificate the mesh issued, or with an
expired one, is refused and counted, one with a good one is served."""
import hashlib
import hmac
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

import grpc
import pytest

from conftest import BUILD, http_get
from test_controlplane import LocalMesh

sys.path.insert(0, str(BUILD / "python"))
from mesh.v1 import identity_pb2, identity_pb2_grpc  # noqa: E402

CA_NAME = "mesh-controlplane.mesh-system.svc"
# Short enough to see renewals within a test (each at 5-6 s).
CERT_TTL = "10s"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    m = LocalMesh(tmp_path_factory.mktemp("identity"), extra_args=("--cert-ttl", CERT_TTL))
    yield m
    m.stop()


def state(mesh):
    return json.loads((mesh.state / "mesh.json").read_text())


def signer(mesh):
    controlplane = state(mesh)["controlplane"]
    root = open(controlplane["ca_root"], "rb").read()
    channel = grpc.secure_channel(controlplane["ca"], grpc.ssl_channel_credentials(root),
                                  options=[("grpc.ssl_target_name_override", CA_NAME)])
    return identity_pb2_grpc.CertificateServiceStub(channel)


def new_csr(tmp_path, name, key_args=("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            names="DNS:evil.example.com,URI:spiffe://cluster.local/ns/kube-system/sa/admin"):
    """A key and a CSR that asks for other names (and CA:TRUE) than the caller's."""
    key, csr = tmp_path / f"{name}.key", tmp_path / f"{name}.csr"
    subprocess.run(["openssl", "req", "-new", *key_args, "-nodes", "-keyout", str(key),
                    "-subj", "/CN=admin", "-addext", f"subjectAltName={names}",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-out", str(csr)],
                   check=True, capture_output=True, timeout=10)
    return key, csr.read_text()


def sign(mesh, csr, pod="reviews-v1-0", token=None, ttl_seconds=0):
    request = identity_pb2.SignRequest(csr_pem=csr, pod=pod, namespace="default")
    if ttl_seconds:
        request.ttl.seconds = ttl_seconds
    token = mesh.token(pod) if token is None else token
    metadata = [("authorization", f"Bearer {token}")] if token else []
    return signer(mesh).Sign(request, metadata=metadata, timeout=10)


def certificate_text(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, text=True,
                          capture_output=True, check=True, timeout=10).stdout


def issued_for(mesh, tmp_path, name, pod="client-0", ttl_seconds=0):
    """A workload certificate from the mesh's authority, as a sidecar gets one."""
    key, csr = new_csr(tmp_path, name)
    answer = sign(mesh, csr, pod=pod, ttl_seconds=ttl_seconds)
    cert = tmp_path / f"{name}.pem"
    cert.write_text(answer.certificate_chain_pem)
    return cert, key


def inbound_port(mesh, workload="reviews-v1-0"):
    return list(mesh.workloads[workload]["inbound"].values())[0]


def metrics_of(mesh, workload):
    return http_get(f"http://127.0.0.1:{mesh.workloads[workload]['metrics']}/stats/prometheus")[1]


def handshakes(mesh, result, workload="reviews-v1-0"):
    found = re.search(rf'mesh_tls_handshakes_total{{direction="inbound",result="{result}"}} (\d+)',
                      metrics_of(mesh, workload))
    return int(found.group(1)) if found else 0


def mtls_context(mesh, cert=None, key=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # a workload certificate names a SPIFFE ID, no host
    context.load_verify_locations(state(mesh)["controlplane"]["ca_root"])
    if cert:
        context.load_cert_chain(cert, key)
    return context


def get_over_mtls(mesh, context, port=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port or inbound_port(mesh), context=context,
                                       timeout=5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode().strip()
    finally:
        conn.close()


def test_sign_names_only_the_callers_service_account(mesh, tmp_path):
    _, csr = new_csr(tmp_path, "reviews")
    answer = sign(mesh, csr, ttl_seconds=30 * 24 * 3600)
    assert answer.spiffe_id == "spiffe://cluster.local/ns/default/sa/reviews"
    text = certificate_text(answer.certificate_chain_pem)
    sans = re.search(r"Subject Alternative Name: critical\n\s+(.*)\n", text).group(1)
    assert sans == "URI:spiffe://cluster.local/ns/default/sa/reviews"  # the CSR's own are ignored
    assert "CA:FALSE" in text and "CN = admin" not in text
    assert re.search(r"Key Usage: critical\n\s+Digital Signature\n", text)
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "ASN1 OID: prime256v1" in text
    # 30 days asked, the maximum (168 h) given, from 5 minutes back.
    not_before = re.search(r"Not Before: (.*)\n", text).group(1)
    not_after = re.search(r"Not After : (.*)\n", text).group(1)
    parse = lambda t: time.mktime(time.strptime(t.strip(), "%b %d %H:%M:%S %Y %Z"))  # noqa: E731
    assert parse(not_after) - parse(not_before) == 168 * 3600 + 300
    roots = answer.trust_bundle_pem
    assert roots == open(state(mesh)["controlplane"]["ca_root"]).read()


def test_sign_refuses_what_it_cannot_prove_or_sign(mesh, tmp_path):
    _, csr = new_csr(tmp_path, "p256")
    _, rsa_csr = new_csr(tmp_path, "rsa", key_args=("-newkey", "rsa:2048"))
    key = (mesh.state / "secrets" / "bootstrap.key").read_text().strip()
    ghost_token = hmac.new(key.encode(), b"default/ghost-0", hashlib.sha256).hexdigest()
    cases = [
        ("no token", dict(csr=csr, token=""), grpc.StatusCode.UNAUTHENTICATED),
        ("another Pod's token", dict(csr=csr, token=mesh.token("client-0")),
         grpc.StatusCode.UNAUTHENTICATED),
        ("a Pod the mesh does not know", dict(csr=csr, pod="ghost-0", token=ghost_token),
         grpc.StatusCode.FAILED_PRECONDITION),
        ("an RSA key", dict(csr=rsa_csr), grpc.StatusCode.INVALID_ARGUMENT),
        ("not a CSR", dict(csr="hello"), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for name, args, code in cases:
        with pytest.raises(grpc.RpcError) as refused:
            sign(mesh, **args)
        assert refused.value.code() == code, (name, refused.value.details())
    # The discovery port is plaintext: a token sent there could be read, so
    # Sign is not served on it.
    plain = identity_pb2_grpc.CertificateServiceStub(grpc.insecure_channel(mesh.grpc))
    with pytest.raises(grpc.RpcError) as refused:
        plain.Sign(identity_pb2.SignRequest(csr_pem=csr, pod="reviews-v1-0", namespace="default"),
                   metadata=[("authorization", f"Bearer {mesh.token('reviews-v1-0')}")],
                   timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    metrics = http_get(f"http://{mesh.status_address}/metrics")[1]
    for result, at_least in (("unauthenticated", 2), ("unknown_pod", 1), ("invalid", 2),
                             ("not_tls", 1)):
        found = re.search(
            rf'mesh_controlplane_certificate_requests_total{{result="{result}"}} (\d+)', metrics)
        assert found and int(found.group(1)) >= at_least, (result, metrics)


def test_inbound_presents_the_workload_certificate(mesh):
    port = inbound_port(mesh)
    shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"],
                           input="", capture_output=True, text=True, timeout=10).stdout
    text = certificate_text(shown[shown.index("-----BEGIN"):])
    sans = re.search(r"Subject Alternative Name: critical\n\s+(.*)\n", text).group(1)
    assert sans == "URI:spiffe://cluster.local/ns/default/sa/reviews"


def test_inbound_refuses_peers_without_a_mesh_certificate(mesh, tmp_path):
    before = {r: handshakes(mesh, r) for r in
              ("ok", "no_client_certificate", "untrusted_certificate", "expired_certificate")}
    # No client certificate: no HTTP answer, the connection is closed.
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get_over_mtls(mesh, mtls_context(mesh))
    # A certificate from another authority.
    other = tmp_path / "other"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{other}.key", "-out",
                    f"{other}.pem", "-days", "1", "-subj", "/CN=other",
                    "-addext", "subjectAltName=URI:spiffe://cluster.local/ns/default/sa/client"],
                   check=True, capture_output=True, timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get_over_mtls(mesh, mtls_context(mesh, f"{other}.pem", f"{other}.key"))
    # The mesh's own certificate, expired.
    expired, expired_key = issued_for(mesh, tmp_path, "expired", ttl_seconds=1)
    time.sleep(2.1)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get_over_mtls(mesh, mtls_context(mesh, expired, expired_key))
    # A good one: served, over HTTP/1.1 (the application's protocol).
    cert, key = issued_for(mesh, tmp_path, "client")
    assert get_over_mtls(mesh, mtls_context(mesh, cert, key)) == (200, "reviews-v1")
    after = {r: handshakes(mesh, r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {
        "ok": 1, "no_client_certificate": 1, "untrusted_certificate": 1, "expired_certificate": 1}


def test_meshctl_identity_and_the_proxy_metrics(mesh):
    out = mesh.meshctl("identity", "reviews-v1-0").stdout
    assert "identity:       spiffe://cluster.local/ns/default/sa/reviews\n" in out
    assert "issued by CN=weft mesh root" in out and "(last request ok)" in out
    answer = json.loads(mesh.meshctl("identity", "client-0", "-o", "json").stdout)
    assert answer["spiffe_id"] == "spiffe://cluster.local/ns/default/sa/client"
    assert answer["chain_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in json.dumps(answer)  # the key never leaves the proxy
    metrics = metrics_of(mesh, "client-0")
    expiry = float(re.search(r"\nmesh_identity_certificate_expiry_timestamp_seconds (\S+)",
                             metrics).group(1))
    assert time.time() < expiry < time.time() + 15
    assert re.search(r'mesh_identity_certificate_requests_total{result="issued"} [1-9]', metrics)
    check = mesh.meshctl("check").stdout
    assert "workload certificates of 3 proxies checked\n" in check, check
    assert "warning" not in check and "certificate" not in check.replace(
        "workload certificates of 3 proxies checked", ""), check
    missing = mesh.meshctl("identity", "nobody-0", check=False)
    assert missing.returncode == 1 and "nobody-0" in missing.stderr


def peer_certificate(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def test_renewal_swaps_certificates_without_failing_a_request(mesh, tmp_path):
    """With 10 s certificates each sidecar renews every 5-6 s: new handshakes
    get the new certificate, a connection made before keeps serving, and no
    request fails meanwhile."""
    cert, key = issued_for(mesh, tmp_path, "client", ttl_seconds=120)
    context = mtls_context(mesh, cert, key)
    port = inbound_port(mesh)
    first = peer_certificate(port)
    kept = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    failures, served = [], 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and served < 2_000:
        try:
            kept.request("GET", "/")
            response = kept.getresponse()
            body = response.read().decode().strip()
            fresh = get_over_mtls(mesh, context, port)
            if response.status != 200 or body != "reviews-v1" or fresh != (200, "reviews-v1"):
                failures.append((response.status, body, fresh))
            served += 2
        except (OSError, http.client.HTTPException) as error:
            failures.append(repr(error))
        time.sleep(0.05)
    kept.close()
    assert not failures, failures[:5]
    assert served > 20
    assert peer_certificate(port) != first  # renewed, and new handshakes present it
    metrics = metrics_of(mesh, "reviews-v1-0")
    issued = int(re.search(r'mesh_identity_certificate_requests_total{result="issued"} (\d+)',
                           metrics).group(1))
    assert issued >= 2


def outbound_handshakes(mesh, result, workload="client-0"):
    found = re.search(rf'mesh_tls_handshakes_total{{direction="outbound",result="{result}"}} (\d+)',
                      metrics_of(mesh, workload))
    return int(found.group(1)) if found else 0


def test_sidecars_call_each_other_over_pooled_mutual_tls(mesh):
    before = outbound_handshakes(mesh, "ok")
    answers = [mesh.get() for _ in range(40)]
    assert all(status == 200 for status, _ in answers), answers
    assert {body for _, body in answers} <= {"reviews-v1", "reviews-v2"}
    # One handshake per endpoint at most (pooled), more only when a pooled
    # connection was closed meanwhile.
    assert outbound_handshakes(mesh, "ok") - before <= 4
    assert outbound_handshakes(mesh, "ok") >= 1
    assert handshakes(mesh, "ok", "reviews-v1-0") + handshakes(mesh, "ok", "reviews-v2-0") >= 1
    for result in ("wrong_identity", "untrusted_certificate", "failed"):
        assert outbound_handshakes(mesh, result) == 0, result


def test_a_peer_with_another_identity_is_refused(mesh, tmp_path):
    """An endpoint the control plane says is reviews-v1-0 (identity sa/reviews)
    answers with a valid mesh certificate of another workload (sa/client):
    the caller's sidecar refuses it rather than send it the request."""
    cert, key = issued_for(mesh, tmp_path, "impostor", ttl_seconds=300)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    manifest = mesh.dir / "impostor.yaml"
    manifest.write_text(f"""apiVersion: v1
kind: Service
metadata: {{name: impostor, namespace: default}}
spec: {{ports: [{{name: http, port: 9090}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: impostor-1, namespace: default, labels: {{kubernetes.io/service-name: impostor}}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [127.0.0.1], targetRef: {{kind: Pod, name: reviews-v1-0, namespace: default}}}}]
""")
    try:
        before = outbound_handshakes(mesh, "wrong_identity")
        deadline = time.monotonic() + 10
        while outbound_handshakes(mesh, "wrong_identity") == before:
            assert time.monotonic() < deadline, "the impostor was never called"
            conn = http.client.HTTPConnection("127.0.0.1", mesh.outbound, timeout=5)
            conn.request("GET", "http://impostor:9090/")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 404:  # routed: the route exists
                assert response.status in (502, 503), response.status
            time.sleep(0.2)
    finally:
        manifest.unlink()
        stop.set()
        thread.join(timeout=5)
        listener.close()


def plaintext_answer(mesh, workload="reviews-v1-0"):
    """A plaintext request straight to the workload's inbound port: its
    (status, body), or None when the sidecar closed the connection unanswered."""
    conn = http.client.HTTPConnection("127.0.0.1", inbound_port(mesh, workload), timeout=5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode().strip()
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def plaintext_connections(mesh, action, workload="reviews-v1-0"):
    found = re.search(rf'mesh_inbound_plaintext_connections_total{{action="{action}",'
                      rf'source="127.0.0.1"}} (\d+)', metrics_of(mesh, workload))
    return int(found.group(1)) if found else 0


def set_mode(mesh, mode):
    config = mesh.dir / "meshconfig.yaml"
    tmp = config.with_suffix(".tmp")
    tmp.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n"
                   f"spec: {{mtls: {{mode: {mode}}}}}\n")
    tmp.rename(config)


def eventually(check, seconds=10):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


@pytest.fixture
def fresh_mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def test_strict_refuses_plaintext_and_keeps_the_mesh_working(fresh_mesh):
    mesh = fresh_mesh
    assert plaintext_answer(mesh) == (200, "reviews-v1")  # PERMISSIVE: served, counted
    assert plaintext_connections(mesh, "accepted") >= 1
    set_mode(mesh, "STRICT")
    eventually(lambda: plaintext_answer(mesh) is None)
    eventually(lambda: all(p["in_sync"] for p in mesh.status()["proxies"]))
    assert plaintext_connections(mesh, "refused") >= 1
    # Sidecar to sidecar is mutual TLS: nothing changes for the mesh's own traffic.
    answers = [mesh.get() for _ in range(20)]
    assert all(status == 200 for status, _ in answers), answers


def test_disable_turns_mutual_tls_off_both_ways(fresh_mesh):
    mesh = fresh_mesh
    mesh.get()
    set_mode(mesh, "DISABLE")
    port = inbound_port(mesh)

    def tls_not_terminated():
        shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"],
                               input="", capture_output=True, text=True, timeout=10).stdout
        return "BEGIN CERTIFICATE" not in shown and "spiffe" not in shown
    eventually(tls_not_terminated)
    eventually(lambda: all(p["in_sync"] for p in mesh.status()["proxies"]))
    # Callers' endpoints lost their identity: new connections are plaintext.
    before = outbound_handshakes(mesh, "ok")
    accepted = plaintext_connections(mesh, "accepted") + plaintext_connections(
        mesh, "accepted", "reviews-v2-0")
    answers = [mesh.get() for _ in range(20)]
    assert all(status == 200 for status, _ in answers), answers
    assert outbound_handshakes(mesh, "ok") == before
    assert plaintext_connections(mesh, "accepted") + plaintext_connections(
        mesh, "accepted", "reviews-v2-0") > accepted
