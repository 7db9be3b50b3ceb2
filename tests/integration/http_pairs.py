"""What the tests of one behaviour on all four HTTP version pairs share
(client HTTP/1.1 or HTTP/2 to mesh-proxy, mesh-proxy to an HTTP/1.1 or
HTTP/2 backend): the pairs, the misbehaving backend, real curl speaking
the client's version, and the proxy's access-log record of a request."""
import json
import subprocess
import time
from typing import NamedTuple

import pytest

import misbehaving_backend
from conftest import free_port

PAIRS = [("http1", "http1"), ("http1", "http2"), ("http2", "http1"), ("http2", "http2")]
PAIR_IDS = [f"{d}-to-{u}" for d, u in PAIRS]


def upstream_protocol(upstream):
    """The cluster fields that make the proxy speak `upstream` to the backend."""
    return {"protocol": "PROTOCOL_HTTP2"} if upstream == "http2" else {}


@pytest.fixture(scope="module")
def backend():
    """The misbehaving backend's port (misbehaving_backend.py), one per test module."""
    port, stop = misbehaving_backend.start()
    yield port
    stop()


def mesh_fixture(config):
    """A `mesh` fixture over every pair: (proxy, downstream version, base
    URL) of a proxy started with config(port, backend_port, upstream)."""

    @pytest.fixture(params=PAIRS, ids=PAIR_IDS)
    def mesh(request, start_proxy, backend):  # noqa: F811  (pytest's injection)
        downstream, upstream = request.param
        port = free_port()
        proxy = start_proxy(config(port, backend, upstream))
        return proxy, downstream, f"http://127.0.0.1:{port}"

    return mesh


class Answer(NamedTuple):
    status: int   # 0 when no status line came
    head: str     # status line and headers, lower-cased
    body: bytes
    exit_code: int  # curl's: not 0 when the response was cut short
    elapsed: float  # seconds


def curl(downstream, url, *args):
    """One request by real curl speaking `downstream` (http1 or http2)."""
    version = ["--http2-prior-knowledge"] if downstream == "http2" else ["--http1.1"]
    started = time.monotonic()
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "-i", *version, *args, url],
                            capture_output=True, timeout=20)
    elapsed = time.monotonic() - started
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    head = head.decode("latin-1").lower()
    fields = head.split("\r\n", 1)[0].split(" ")
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    return Answer(status, head, body, result.returncode, elapsed)


def access_log(proxy, needle):
    """The first access-log record holding `needle` (the proxy writes it
    when the exchange ends, so it is waited for)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in proxy.log_text().splitlines():
            if line.startswith("{") and needle in line:
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError(f"no access log record with {needle}")
