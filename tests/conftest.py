"""Fixtures for integration tests: the real mesh-proxy binary on loopback,
with backends of ours on ports found free."""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "examples" / "demo"))
import app as backend  # noqa: E402  (the demo app doubles as the test backend)

BUILD = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build"))
PROXY_BIN = BUILD / "bin" / "mesh-proxy"


_handed_out = set()


def free_port():
    """A port free now and not handed out before in this run: the kernel may
    offer the same free port twice in a row, and a test asking for a
    listener port and then a metrics port must not get one port for both."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def http_get(url, timeout=5, method="GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read().decode()


class Proxy:
    """A running mesh-proxy. `config` is a mesh.v1.ProxyConfig as a dict;
    admin and metrics addresses are filled in with free ports."""

    def __init__(self, tmp_path, config, concurrency=1, extra_args=()):
        self.admin_port = free_port()
        self.metrics_port = free_port()
        config = dict(config)
        config["admin"] = {"address": {"host": "127.0.0.1", "port": self.admin_port},
                           "metrics_address": {"host": "127.0.0.1", "port": self.metrics_port}}
        self.config_path = tmp_path / f"proxy-{self.admin_port}.yaml"
        # JSON is YAML: the proxy reads it with the same strict loader.
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = tmp_path / f"proxy-{self.admin_port}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(PROXY_BIN), "--config", str(self.config_path), "--concurrency", str(concurrency),
             "--access-log", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mesh-proxy exited {self.process.returncode}: {self.log_text()}")
            try:
                if http_get(self.admin("/ready"), timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("mesh-proxy did not become ready: " + self.log_text())

    def admin(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text()

    def access_records(self, at_least=1, timeout=5):
        """The access log's JSON records on stdout, once there are `at_least`
        (a worker hands its lines to the writer every 50 ms)."""
        deadline = time.monotonic() + timeout
        while True:
            records = [json.loads(line) for line in self.log_text().splitlines()
                       if line.startswith("{")]
            if len(records) >= at_least or time.monotonic() > deadline:
                return records
            time.sleep(0.05)

    def metrics_text(self):
        return http_get(f"http://127.0.0.1:{self.metrics_port}/stats/prometheus")[1]

    def metric(self, name, **labels):
        """The value of one series (0 when absent)."""
        for line in self.metrics_text().splitlines():
            match = re.match(r"^(\w+)(\{.*\})? (\S+)$", line)
            if not match or match.group(1) != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if all(found.get(k) == str(v) for k, v in labels.items()):
                return float(match.group(3))
        return 0.0

    def settled_metric(self, name, expected, timeout=5, **labels):
        """The value of one series once it equals `expected` (a number or a
        predicate), or its last value after `timeout` seconds. A worker counts
        a request after writing its last byte, so the client can read its
        response before the counter moves."""
        matches = expected if callable(expected) else (lambda value: value == expected)
        deadline = time.monotonic() + timeout
        value = self.metric(name, **labels)
        while not matches(value) and time.monotonic() < deadline:
            time.sleep(0.02)
            value = self.metric(name, **labels)
        return value

    def rss_kib(self):
        for line in pathlib.Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def tcp_server(handle_one, connections=1):
    """A plain TCP server on a free loopback port that serves `connections`
    connections, one after another, with `handle_one(conn)` in a thread;
    returns (port, close)."""
    import threading
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        for _ in range(connections):
            conn, _ = server.accept()
            with conn:
                handle_one(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close():
        thread.join(5)
        server.close()

    return server.getsockname()[1], close


def listener(name, port, route_table=None, tcp_cluster=None, **extra):
    entry = {"name": name, "address": {"host": "127.0.0.1", "port": port}, **extra}
    if route_table:
        entry["route_table"] = route_table
    if tcp_cluster:
        entry.setdefault("protocol", "PROTOCOL_TCP")
        entry["tcp_cluster"] = tcp_cluster
    return entry


def cluster(name, *ports, **extra):
    return {"name": name, "endpoints": [{"address": "127.0.0.1", "port": p} for p in ports], **extra}


def forward_to(*clusters_and_weights):
    return {"clusters": [{"name": n, "weight": w} for n, w in clusters_and_weights]}


@pytest.fixture
def backend_port():
    port = free_port()
    server = backend.start(port, "v1")
    yield port
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_proxy(tmp_path):
    started = []

    def start(config, **kwargs):
        proxy = Proxy(tmp_path, config, **kwargs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate (DNS localhost, IP 127.0.0.1, a SPIFFE URI)
    and a client certificate, all ECDSA P-256."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=weft test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=other CA", "-keyout", "other-ca.key", "-out", "other-ca.pem", cwd=d)
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1,URI:spiffe://weft.test/ns/default/sa/backend"),
                      ("client", "URI:spiffe://weft.test/ns/default/sa/client")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return d
