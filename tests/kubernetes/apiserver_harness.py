"""The test API server as a test uses it: started with TLS and a bearer
token, a kubeconfig for real kubectl, and helpers for raw API requests and
watch streams. (A module, not a conftest.py: tests/conftest.py is the
integration tests' and both would be imported as `conftest`.)"""
import json
import pathlib
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from conftest import free_port  # noqa: F401  (tests/conftest.py; also used by the tests here)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOKEN = "weft-test-token"


def apiserver_fixture(*extra):
    """A pytest fixture `apiserver`: a fresh ApiServer(tmp_path, *extra) per
    test, stopped after it."""
    @pytest.fixture
    def apiserver(tmp_path):
        server = ApiServer(tmp_path, *extra)
        yield server
        server.stop()
    return apiserver


class ApiServer:
    def __init__(self, tmp_path, *extra):
        self.dir = tmp_path
        self.extra = extra
        self.cert, self.key = tmp_path / "apiserver.crt", tmp_path / "apiserver.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        self.log = open(tmp_path / "apiserver.log", "w")
        self.start(0)
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = tmp_path / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.cert)}}],
            "users": [{"name": "test", "user": {"token": TOKEN}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test",
                                                      "namespace": "default"}}]}))
        self.context = ssl.create_default_context(cafile=str(self.cert))

    def start(self, port):
        self.process = subprocess.Popen(
            ["/usr/bin/python3", str(HERE / "apiserver.py"), "--port", str(port), "--tls-cert",
             str(self.cert), "--tls-key", str(self.key), "--token", TOKEN,
             "--state", str(self.dir / "apiserver-state.json"), *self.extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("listening on "), line
        self.port = int(line.split()[2])

    def restart(self, down_seconds=0.5, extra=None):
        """Stops it and starts it again on the same port with the same
        objects (and, given `extra`, other arguments: e.g. other tokens)."""
        if extra is not None:
            self.extra = tuple(extra)
        self.process.terminate()
        self.process.wait(timeout=10)
        time.sleep(down_seconds)
        self.start(self.port)

    def kubectl(self, *args, check=True, stdin=None):
        result = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                                capture_output=True, text=True, timeout=60, input=stdin)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result

    def request(self, method, path, body=None, token=TOKEN, content_type="application/json",
                accept="application/json", timeout=10):
        """(status, headers, parsed body)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as response:
                return response.status, response.headers, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read() or b"null")

    def watch(self, path, timeout=10):
        """The events of one watch stream, read until the server ends it."""
        req = urllib.request.Request(self.url + path)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(req, context=self.context, timeout=timeout) as response:
            return [json.loads(line) for line in response if line.strip()]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()
