"""TLS in mesh-proxy with a real PKI made by openssl for each test:
termination (curl, openssl s_client, ALPN, required client certificates) and
origination (CA verification, SNI, subject-alternative-name checks)."""
import json
import subprocess

import pytest

from conftest import backend, cluster, forward_to, free_port, listener

CURL = ["curl", "-sS", "--max-time", "10"]


def tls_config(port, backend_port, pki, downstream_tls, cluster_extra=None):
    return {
        "listeners": [listener("secure", port, route_table="web", tls=downstream_tls)],
        "route_tables": [{"name": "web", "virtual_hosts": [{"routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}],
        "clusters": [cluster("app", backend_port, **(cluster_extra or {}))],
    }


def test_terminates_tls_with_alpn(start_proxy, backend_port, pki):
    port = free_port()
    proxy = start_proxy(tls_config(port, backend_port, pki, {
        "cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key")}))
    result = subprocess.run([*CURL, "--cacert", str(pki / "ca.pem"), f"https://localhost:{port}/echo"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    assert echo["headers"]["x-forwarded-proto"] == "https"
    s_client = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-alpn", "h2,http/1.1",
                               "-CAfile", str(pki / "ca.pem"), "-verify_return_error"],
                              input="", capture_output=True, text=True, timeout=20)
    assert "ALPN protocol: h2" in s_client.stdout + s_client.stderr
    assert "Verify return code: 0 (ok)" in s_client.stdout
    # A client that does not trust the certificate fails the handshake.
    untrusted = subprocess.run([*CURL, f"https://localhost:{port}/"], capture_output=True, timeout=20)
    assert untrusted.returncode != 0
    assert proxy.settled_metric("mesh_listener_requests_total", 1, listener="secure", status_class="2xx") == 1


def test_requires_client_certificate_when_configured(start_proxy, backend_port, pki):
    port = free_port()
    proxy = start_proxy(tls_config(port, backend_port, pki, {
        "cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key"),
        "ca_file": str(pki / "ca.pem")}))
    url = f"https://localhost:{port}/"
    without = subprocess.run([*CURL, "--cacert", str(pki / "ca.pem"), url], capture_output=True, timeout=20)
    assert without.returncode != 0
    with_cert = subprocess.run([*CURL, "--cacert", str(pki / "ca.pem"), "--cert", str(pki / "client.pem"),
                                "--key", str(pki / "client.key"), url], capture_output=True, text=True,
                               timeout=20)
    assert with_cert.returncode == 0 and with_cert.stdout == "v1\n", with_cert.stderr
    assert proxy.settled_metric("mesh_downstream_tls_handshake_failures_total", lambda v: v >= 1, listener="secure") >= 1


@pytest.fixture
def tls_backend_port(pki):
    port = free_port()
    server = backend.start(port, "tls-backend", cert=str(pki / "server.pem"), key=str(pki / "server.key"))
    yield port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("tls, expected", [
    ({"sni": "localhost"}, "ok"),
    ({"sni": "localhost", "verify_subject_alt_names": ["spiffe://weft.test/ns/default/sa/backend"]}, "ok"),
    ({"sni": "localhost", "verify_subject_alt_names": ["spiffe://weft.test/ns/default/sa/ratings"]},
     "upstream_tls_failure"),
    ({"sni": "localhost", "other_ca": True}, "upstream_tls_failure"),
])
def test_originates_tls_and_verifies_the_upstream(start_proxy, tls_backend_port, pki, tls, expected):
    port = free_port()
    tls = dict(tls)
    tls["ca_file"] = str(pki / ("other-ca.pem" if tls.pop("other_ca", False) else "ca.pem"))
    proxy = start_proxy({
        "listeners": [listener("web", port, route_table="web")],
        "route_tables": [{"name": "web", "virtual_hosts": [{"routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("secure", 1))}]}]}],
        "clusters": [cluster("secure", tls_backend_port, tls=tls)],
    })
    result = subprocess.run([*CURL, "-i", *([f"http://127.0.0.1:{port}/"] * 5)], capture_output=True,
                            text=True, timeout=30)
    if expected == "ok":
        assert result.stdout.count("HTTP/1.1 200") == 5, result.stdout
        assert result.stdout.count("x-backend: tls-backend") == 5
        # One TLS connection carried all five requests.
        assert proxy.settled_metric("mesh_upstream_connections_total", 1, cluster="secure", kind="new") == 1
    else:
        assert "HTTP/1.1 503" in result.stdout and f"x-weft-error: {expected}" in result.stdout
        assert proxy.settled_metric("mesh_upstream_connect_failures_total", 5, cluster="secure", reason="tls") == 5
