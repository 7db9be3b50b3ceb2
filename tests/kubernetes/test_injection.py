"""Sidecar injection end to end: real kubectl creates Pods on the test API
server, which calls mesh-injector (HTTPS, verified against the webhook's
caBundle and the Service's DNS name) as deploy/webhook/ configures it; the
stored Pod carries the sidecar. With the webhook down and failurePolicy
Fail, creating a Pod fails with the API server's message. A new serving
certificate is picked up without a restart."""
import base64
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request
import ssl

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apiserver_harness import ROOT, ApiServer, free_port  # noqa: E402

BIN = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build")) / "bin"
SERVICE_NAME = "mesh-controlplane.mesh-system.svc"


def make_pki(directory, tag):
    """A CA and a serving certificate for the webhook Service's DNS name."""
    ca_key, ca = directory / f"ca-{tag}.key", directory / f"ca-{tag}.pem"
    key, cert = directory / "tls.key.new", directory / "tls.crt.new"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=30)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
        str(ca_key), "-out", str(ca), "-subj", f"/CN=weft-webhook-ca-{tag}")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
        str(directory / "tls.csr"), "-subj", f"/CN={SERVICE_NAME}")
    ext = directory / "ext.cnf"
    ext.write_text(f"subjectAltName=DNS:{SERVICE_NAME},DNS:mesh-controlplane.mesh-system\n")
    run("openssl", "x509", "-req", "-in", str(directory / "tls.csr"), "-CA", str(ca), "-CAkey",
        str(ca_key), "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(ext))
    # Swap both files in at once, as the kubelet does for a Secret volume.
    os.replace(key, directory / "tls.key")
    os.replace(cert, directory / "tls.crt")
    return base64.b64encode(ca.read_bytes()).decode()


class Injector:
    def __init__(self, directory, port, kubeconfig):
        self.dir, self.port = directory, port
        self.log = open(directory / "injector.log", "w")
        self.process = subprocess.Popen(
            [str(BIN / "mesh-injector"), "--cert", str(directory / "tls.crt"), "--key",
             str(directory / "tls.key"), "--address", f"127.0.0.1:{port}",
             "--native-sidecars", "auto", "--kubeconfig", str(kubeconfig),
             "--proxy-image", "mesh-proxy:test", "--init-image", "mesh-init:test"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.get("/ready")
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mesh-injector did not start: " + (self.dir / "injector.log").read_text())

    def get(self, path):
        context = ssl._create_unverified_context()  # only our own probes
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}{path}", context=context,
                                    timeout=5) as response:
            return response.read().decode()

    def metric(self, name, **labels):
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def cluster(tmp_path):
    ca_bundle = make_pki(tmp_path, "a")
    port = free_port()
    api = ApiServer(tmp_path, "--service-endpoint", f"mesh-system/mesh-controlplane=127.0.0.1:{port}")
    injector = Injector(tmp_path, port, api.kubeconfig)
    try:
        api.kubectl("create", "namespace", "mesh-system")
        api.kubectl("apply", "-f", str(ROOT / "deploy/webhook/mutating-webhook.yaml"))
        set_ca_bundle(api, ca_bundle)
        api.kubectl("create", "namespace", "shop")
        api.kubectl("label", "namespace", "shop", "mesh.weft.io/inject=enabled")
        api.kubectl("create", "namespace", "plain")
        yield api, injector, tmp_path
    finally:
        injector.stop()
        api.stop()


def set_ca_bundle(api, ca_bundle):
    """What the control plane is to do: keep caBundle the serving CA."""
    config = json.loads(api.kubectl("get", "mutatingwebhookconfiguration",
                                    "weft-sidecar-injector", "-o", "json").stdout)
    config["webhooks"][0]["clientConfig"]["caBundle"] = ca_bundle
    api.kubectl("replace", "-f", "-", stdin=json.dumps(config))


def pod_manifest(name, labels=None):
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": labels or {"app": name}},
                       "spec": {"containers": [{"name": "app", "image": "app:1",
                                                "ports": [{"containerPort": 8080}]}]}})


def create_pod(api, ns, name, labels=None, check=True):
    return api.kubectl("create", "-n", ns, "-f", "-", stdin=pod_manifest(name, labels), check=check)


def stored_pod(api, ns, name):
    return json.loads(api.kubectl("get", "pod", name, "-n", ns, "-o", "json").stdout)


def test_pods_in_labelled_namespaces_get_the_sidecar(cluster):
    api, injector, _ = cluster
    create_pod(api, "shop", "web")
    pod = stored_pod(api, "shop", "web")
    init = pod["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["mesh-init", "mesh-proxy"]
    # The test API server reports 1.29: native sidecars (asked via /version).
    assert init[1]["restartPolicy"] == "Always" and init[1]["image"] == "mesh-proxy:test"
    assert init[0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]
    assert pod["metadata"]["annotations"]["mesh.weft.io/injected"].endswith("native")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert injector.metric("mesh_injector_requests_total", result="injected") == 1

    # Not labelled, or opted out by label (the objectSelector): not sent.
    create_pod(api, "plain", "web")
    create_pod(api, "shop", "legacy", labels={"mesh.weft.io/inject": "false"})
    for ns, name in (("plain", "web"), ("shop", "legacy")):
        assert "initContainers" not in stored_pod(api, ns, name)["spec"]
    assert injector.metric("mesh_injector_requests_total") == 1


def test_a_pods_own_mistake_is_refused_with_the_injectors_message(cluster):
    api, injector, _ = cluster
    bad = json.loads(pod_manifest("bad"))
    bad["metadata"]["annotations"] = {"mesh.weft.io/exclude-outbound-ports": "postgres"}
    result = api.kubectl("create", "-n", "shop", "-f", "-", stdin=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert 'admission webhook "inject.mesh.weft.io" denied the request' in result.stderr
    assert "'postgres' is not a port" in result.stderr
    assert injector.metric("mesh_injector_requests_total", result="denied") == 1


def test_webhook_down_fails_closed_with_a_clear_message(cluster):
    api, injector, _ = cluster
    injector.stop()
    result = create_pod(api, "shop", "web", check=False)
    assert result.returncode != 0
    assert 'failed calling webhook "inject.mesh.weft.io"' in result.stderr, result.stderr
    assert "connection refused" in result.stderr, result.stderr
    assert api.kubectl("get", "pod", "web", "-n", "shop", check=False).returncode != 0
    # Unlabelled namespaces do not depend on the webhook.
    create_pod(api, "plain", "web")


def test_a_new_certificate_is_served_without_a_restart(cluster):
    api, injector, directory = cluster
    set_ca_bundle(api, make_pki(directory, "b"))  # a new CA: the old certificate no longer verifies
    deadline = time.monotonic() + 10
    while injector.metric("mesh_injector_certificate_reloads_total", result="ok") < 1:
        assert time.monotonic() < deadline, "certificate not reloaded"
        time.sleep(0.1)
    create_pod(api, "shop", "web")
    assert stored_pod(api, "shop", "web")["spec"]["initContainers"][1]["name"] == "mesh-proxy"
