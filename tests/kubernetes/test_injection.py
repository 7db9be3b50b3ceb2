"""Sidecar injection end to end: mesh-controlplane issues the webhook's
serving certificate into a Secret and sets the caBundle of the
configuration deploy/webhook/ installs; mesh-injector serves with that
certificate (written to files as the kubelet mounts a Secret); real kubectl
creates Pods on the test API server, which calls the webhook over HTTPS
verified against the caBundle and the Service's DNS name, and the stored Pod
carries the sidecar. With the webhook down and failurePolicy Fail, creating
a Pod fails with the API server's message. A re-issued certificate and a
wiped caBundle are both repaired without restarts."""
import base64
import http.server
import json
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apiserver_harness import ROOT, ApiServer, free_port  # noqa: E402

BIN = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build")) / "bin"
SERVICE_NAME = "mesh-controlplane.mesh-system.svc"


def secret_data(api):
    secret = api.kubectl("get", "secret", "mesh-injector-tls", "-n", "mesh-system", "-o", "json",
                         check=False)
    if secret.returncode != 0:
        return None
    return {k: base64.b64decode(v) for k, v in json.loads(secret.stdout).get("data", {}).items()}


def ca_bundle(api):
    config = json.loads(api.kubectl("get", "mutatingwebhookconfiguration",
                                    "weft-sidecar-injector", "-o", "json").stdout)
    return config["webhooks"][0]["clientConfig"].get("caBundle")


def wait_for(condition, what, seconds=20):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def mount_secret(api, directory, previous=None):
    """Writes the Secret's certificate and key to files, as the kubelet
    updates a Secret volume: once it differs from `previous`, both at once."""
    wait_for(lambda: (data := secret_data(api)) and data.get("tls.crt") != previous, "the Secret")
    data = secret_data(api)
    for name in ("tls.crt", "tls.key"):
        (directory / f"{name}.new").write_bytes(data[name])
    for name in ("tls.key", "tls.crt"):
        os.replace(directory / f"{name}.new", directory / name)
    return data


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


class ControlPlane:
    def __init__(self, api, directory):
        self.status = f"127.0.0.1:{free_port()}"
        self.log = open(directory / "controlplane.log", "w")
        self.process = subprocess.Popen(
            [str(BIN / "mesh-controlplane"), "--kubeconfig", str(api.kubeconfig),
             "--grpc-address", f"127.0.0.1:{free_port()}", "--status-address", self.status,
             "--webhook-tls-period", "300ms"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "POD_NAMESPACE": "mesh-system"})

    def metric(self, name):
        with urllib.request.urlopen(f"http://{self.status}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def cluster(tmp_path):
    port = free_port()
    api = ApiServer(tmp_path, "--service-endpoint", f"mesh-system/mesh-controlplane=127.0.0.1:{port}")
    api.kubectl("create", "namespace", "mesh-system")
    api.kubectl("apply", "-f", str(ROOT / "deploy/webhook/mutating-webhook.yaml"))
    controlplane = ControlPlane(api, tmp_path)
    injector = None
    try:
        data = mount_secret(api, tmp_path)
        wait_for(lambda: ca_bundle(api) == base64.b64encode(data["ca.crt"]).decode(), "caBundle")
        injector = Injector(tmp_path, port, api.kubeconfig)
        api.kubectl("create", "namespace", "shop")
        api.kubectl("label", "namespace", "shop", "mesh.weft.io/inject=enabled")
        api.kubectl("create", "namespace", "plain")
        yield api, injector, controlplane, tmp_path
    finally:
        if injector:
            injector.stop()
        controlplane.stop()
        api.stop()


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
    api, injector, _, _ = cluster
    create_pod(api, "shop", "web")
    pod = stored_pod(api, "shop", "web")
    init = pod["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["mesh-init", "mesh-proxy"]
    # The test API server reports 1.29: native sidecars (asked via /version).
    assert init[1]["restartPolicy"] == "Always" and init[1]["image"] == "mesh-proxy:test"
    assert init[0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]
    # The proxy meets Pod Security "restricted"; mesh-init is why a meshed
    # namespace needs "privileged" (docs/injection.md).
    proxy = init[1]["securityContext"]
    assert proxy["runAsNonRoot"] and not proxy["allowPrivilegeEscalation"], proxy
    assert proxy["capabilities"] == {"drop": ["ALL"]}, proxy
    for container in init:
        assert container["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["readOnlyRootFilesystem"]
    assert pod["metadata"]["annotations"]["mesh.weft.io/injected"].endswith("native")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert injector.metric("mesh_injector_requests_total", result="injected") == 1

    # Not labelled, or opted out by label (the objectSelector): not sent.
    create_pod(api, "plain", "web")
    create_pod(api, "shop", "legacy", labels={"mesh.weft.io/inject": "false"})
    for ns, name in (("plain", "web"), ("shop", "legacy")):
        assert "initContainers" not in stored_pod(api, ns, name)["spec"]
    assert injector.metric("mesh_injector_requests_total") == 1


class MetricsApp(http.server.BaseHTTPRequestHandler):
    """An application serving its own Prometheus metrics on /custom."""

    def do_GET(self):
        body = b"# TYPE app_orders_total counter\napp_orders_total 7\n"
        self.send_response(200 if self.path == "/custom" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_pods_own_scrape_is_served_merged_by_its_proxy(cluster, tmp_path):
    """The Pod's prometheus.io/* annotations are pointed at the proxy, and the
    proxy run with the arguments injection gave it serves the application's
    metrics after its own on the annotated path."""
    api, _, _, _ = cluster
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MetricsApp)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    app_port = app.server_address[1]
    manifest = json.loads(pod_manifest("shop-metrics"))
    manifest["metadata"]["annotations"] = {"prometheus.io/scrape": "true",
                                           "prometheus.io/port": str(app_port),
                                           "prometheus.io/path": "/custom"}
    api.kubectl("create", "-n", "shop", "-f", "-", stdin=json.dumps(manifest))
    pod = stored_pod(api, "shop", "shop-metrics")
    annotations = pod["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (
        "15090", "/stats/prometheus")
    args = pod["spec"]["initContainers"][1]["args"]
    target = args[args.index("--app-metrics") + 1]
    assert target == f"127.0.0.1:{app_port}/custom"

    metrics_port = free_port()
    config = tmp_path / "proxy.yaml"
    config.write_text(json.dumps({
        "admin": {"address": {"host": "127.0.0.1", "port": free_port()},
                  "metrics_address": {"host": "127.0.0.1", "port": metrics_port}},
        "listeners": [], "route_tables": [], "clusters": []}))
    proxy = subprocess.Popen([str(BIN / "mesh-proxy"), "--config", str(config), "--concurrency",
                              "1", "--app-metrics", target],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{metrics_port}{annotations['prometheus.io/path']}"
        text = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "app_orders_total" not in text:
            try:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError:
                time.sleep(0.1)
        assert "app_orders_total 7" in text and "mesh_drains_total" in text, text[-500:]
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        app.shutdown()
        app.server_close()


def test_a_pods_own_mistake_is_refused_with_the_injectors_message(cluster):
    api, injector, _, _ = cluster
    bad = json.loads(pod_manifest("bad"))
    bad["metadata"]["annotations"] = {"mesh.weft.io/exclude-outbound-ports": "postgres"}
    result = api.kubectl("create", "-n", "shop", "-f", "-", stdin=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert 'admission webhook "inject.mesh.weft.io" denied the request' in result.stderr
    assert "'postgres' is not a port" in result.stderr
    assert injector.metric("mesh_injector_requests_total", result="denied") == 1


def test_webhook_down_fails_closed_with_a_clear_message(cluster):
    api, injector, _, _ = cluster
    injector.stop()
    result = create_pod(api, "shop", "web", check=False)
    assert result.returncode != 0
    assert 'failed calling webhook "inject.mesh.weft.io"' in result.stderr, result.stderr
    assert "connection refused" in result.stderr, result.stderr
    assert api.kubectl("get", "pod", "web", "-n", "shop", check=False).returncode != 0
    # Unlabelled namespaces do not depend on the webhook.
    create_pod(api, "plain", "web")


def test_certificate_and_ca_bundle_are_repaired_without_restarts(cluster):
    api, injector, controlplane, directory = cluster
    # Someone replaces the configuration without a caBundle: restored.
    api.kubectl("replace", "-f", str(ROOT / "deploy/webhook/mutating-webhook.yaml"))
    wait_for(lambda: controlplane.metric("mesh_controlplane_webhook_ca_bundle_updates_total") == 2,
             "the caBundle restored")
    assert ca_bundle(api) == base64.b64encode(secret_data(api)["ca.crt"]).decode()

    # The Secret is lost: a new authority and certificate are issued, the
    # caBundle follows, and the injector serves the new files unrestarted.
    old = secret_data(api)
    api.kubectl("delete", "secret", "mesh-injector-tls", "-n", "mesh-system")
    data = mount_secret(api, directory, previous=old["tls.crt"])
    assert data["ca.crt"] != old["ca.crt"]
    wait_for(lambda: ca_bundle(api) == base64.b64encode(data["ca.crt"]).decode(), "new caBundle")
    wait_for(lambda: injector.metric("mesh_injector_certificate_reloads_total", result="ok") >= 1,
             "the injector's reload")
    create_pod(api, "shop", "web")
    assert stored_pod(api, "shop", "web")["spec"]["initContainers"][1]["name"] == "mesh-proxy"


def post(injector, body):
    """POSTs raw bytes to /inject; (status, body)."""
    request = urllib.request.Request(f"https://127.0.0.1:{injector.port}/inject", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ssl._create_unverified_context(),
                                    timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_bad_requests_get_an_error_and_a_counter(cluster):
    _, injector, _, _ = cluster
    assert post(injector, b"not json") == (400, "the body is not a JSON object\n")
    status, body = post(injector, json.dumps({"apiVersion": "admission.k8s.io/v1",
                                              "kind": "AdmissionReview"}).encode())
    assert (status, body) == (400, "no request\n")
    assert injector.metric("mesh_injector_requests_total", result="bad_request") == 2
    # Over the 4 MiB body limit: refused once the head announces it, before
    # the body is read (a client still sending would see the connection close).
    context = ssl._create_unverified_context()
    with socket.create_connection(("127.0.0.1", injector.port), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 5242880\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 413")
    assert injector.metric("mesh_injector_requests_total", result="too_large") == 1
    assert injector.get("/ready") == "ready\n"  # still serving
