"""Transparent capture in a real network namespace: iptables REDIRECT sends
the namespace's outbound TCP to mesh-proxy's capture listener, which recovers
the original destination with SO_ORIGINAL_DST (IPv4 and IPv6), sniffs the
protocol, and routes HTTP by destination or passes traffic through.

Everything runs inside a namespace this test creates and deletes; all
addresses are the namespace's own loopback. Needs root."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PROXY_BIN, ROOT, free_port
from netns_harness import PROXY_UID, Namespace, metric, run, wait_port

APP = ROOT / "deploy" / "examples" / "demo" / "app.py"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


BANNER_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b'220 banner from ' + sys.argv[2].encode() + b'\\r\\n')  # server speaks first
    c.close()
"""


@pytest.fixture
def mesh_namespace():
    ns = Namespace()
    workdir = tempfile.mkdtemp(prefix="weft-netns-")
    os.chmod(workdir, 0o755)  # the proxy runs as UID 1337
    try:
        yield ns, workdir
    finally:
        ns.close()
        shutil.rmtree(workdir, ignore_errors=True)


def capture_config(admin_port, metrics_port):
    return {
        "admin": {"address": {"host": "127.0.0.1", "port": admin_port},
                  "metrics_address": {"host": "127.0.0.1", "port": metrics_port}},
        "listeners": [{
            "name": "outbound", "capture": "CAPTURE_OUTBOUND",
            "address": {"host": "::", "port": 15001},
            "sniff_timeout": "1s",
            "opaque_ports": [8083],
            "destinations": [
                {"port": 8080, "route_table": "reviews"},
                {"port": 8083, "route_table": "reviews"},  # opaque: never sniffed
                {"port": 8084, "route_table": "reviews"},  # sniff times out: server speaks first
            ],
        }],
        "route_tables": [{"name": "reviews", "virtual_hosts": [{"domains": ["*"], "routes": [{
            "match": {"prefix": "/"}, "forward": {"clusters": [{"name": "reviews"}]},
            "response_headers": {"set": [{"name": "x-weft-route", "value": "reviews"}]}}]}]}],
        "clusters": [{"name": "reviews", "endpoints": [{"address": "127.0.0.1", "port": 9080}]}],
    }


HTTP_GET = """
import socket, sys
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family); s.settimeout(5); s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b'GET / HTTP/1.1\\r\\nHost: reviews\\r\\nConnection: close\\r\\n\\r\\n')
data = b''
while chunk := s.recv(65536): data += chunk
print(data.decode())
"""

READ_BANNER = """
import socket, sys, time
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family); s.settimeout(5); start = time.monotonic()
s.connect((sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode().strip(), round(time.monotonic() - start, 3))
"""


CONNECT_AND_CLOSE = """
import socket, sys, time
sockets = [socket.create_connection((sys.argv[1], int(sys.argv[2])), 5) for _ in range(int(sys.argv[3]))]
time.sleep(0.3)
for s in sockets: s.close()
"""


def test_capture_routes_by_original_destination(mesh_namespace):
    ns, workdir = mesh_namespace
    ns.spawn("/usr/bin/python3", str(APP), "--port", "9080", "--name", "reviews-via-mesh")
    ns.spawn("/usr/bin/python3", str(APP), "--port", "8081", "--name", "direct-8081")
    ns.spawn("/usr/bin/python3", str(APP), "--host", "::1", "--port", "8081", "--name", "direct-v6")
    for port in (8082, 8083, 8084):
        ns.spawn("/usr/bin/python3", "-c", BANNER_SERVER, "127.0.0.1", str(port))
    for host, port in (("127.0.0.1", 9080), ("127.0.0.1", 8081), ("::1", 8081),
                       ("127.0.0.1", 8082), ("127.0.0.1", 8083), ("127.0.0.1", 8084)):
        wait_port(ns, host, port)  # before the redirect rules exist
    # The pod's rules: outbound TCP to the service ports goes to 15001, except
    # the proxy's own traffic (UID 1337).
    for tables, dst in (("iptables", "127.0.0.1"), ("ip6tables", "::1")):
        ns.exec(tables, "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", dst,
                "-m", "multiport", "--dports", "8080:8084",
                "-m", "owner", "!", "--uid-owner", str(PROXY_UID),
                "-j", "REDIRECT", "--to-ports", "15001")
    config_path = os.path.join(workdir, "proxy.yaml")
    with open(config_path, "w") as f:
        json.dump(capture_config(15000, 15090), f)
    log = open(os.path.join(workdir, "proxy.log"), "w")
    ns.spawn(str(PROXY_BIN), "--config", config_path, "--concurrency", "1", "--access-log",
             uid=PROXY_UID, log=log)
    wait_port(ns, "127.0.0.1", 15000)

    # HTTP to a destination with a route table: routed (the route's header
    # proves the proxy handled it) to the cluster, not to 8080 itself.
    answer = ns.exec("/usr/bin/python3", "-c", HTTP_GET, "127.0.0.1", "8080").stdout
    assert answer.startswith("HTTP/1.1 200"), answer
    assert "x-weft-route: reviews" in answer.lower() and "reviews-via-mesh" in answer

    # IPv6: the same destination port over ::1 (IP6T_SO_ORIGINAL_DST).
    answer6 = ns.exec("/usr/bin/python3", "-c", HTTP_GET, "::1", "8080").stdout
    assert "x-weft-route: reviews" in answer6.lower(), answer6

    # No destination for 8081: passed through to the original address, v4 and v6.
    passthrough = ns.exec("/usr/bin/python3", "-c", HTTP_GET, "127.0.0.1", "8081").stdout
    assert "direct-8081" in passthrough and "x-weft-route" not in passthrough.lower()
    passthrough6 = ns.exec("/usr/bin/python3", "-c", HTTP_GET, "::1", "8081").stdout
    assert "direct-v6" in passthrough6

    # Server-speaks-first on an opaque port: no sniffing, the banner is immediate.
    banner, delay = ns.exec("/usr/bin/python3", "-c", READ_BANNER, "127.0.0.1", "8083").stdout.rsplit(" ", 1)
    assert banner == "220 banner from 8083" and float(delay) < 0.5, (banner, delay)
    # ... on a sniffed port: the client waits for the sniff timeout, then TCP.
    banner, delay = ns.exec("/usr/bin/python3", "-c", READ_BANNER, "127.0.0.1", "8084").stdout.rsplit(" ", 1)
    assert banner == "220 banner from 8084" and 1.0 <= float(delay) < 3, (banner, delay)
    # ... with no destination at all: passthrough, immediate.
    banner, delay = ns.exec("/usr/bin/python3", "-c", READ_BANNER, "127.0.0.1", "8082").stdout.rsplit(" ", 1)
    assert banner == "220 banner from 8082" and float(delay) < 0.5

    assert metric(ns, 15090, "mesh_sniffed_connections_total", listener="outbound", protocol="http1") == 2
    assert metric(ns, 15090, "mesh_sniffed_connections_total", listener="outbound", protocol="opaque") == 1
    # The opaque one is 8084's banner wait: the sniff ran out of time.
    assert metric(ns, 15090, "mesh_sniff_timeouts_total", listener="outbound") == 1
    # 8081 (v4 and v6) and 8082 have no destination; 8083 and 8084 have one
    # with a route table but were not HTTP and have no tcp_cluster.
    assert metric(ns, 15090, "mesh_passthrough_connections_total", listener="outbound") == 5
    assert metric(ns, 15090, "mesh_listener_requests_total", listener="outbound", status_class="2xx") == 2

    # Dialling the capture port directly is refused, not looped.
    direct = ns.exec("/usr/bin/python3", "-c",
                     "import socket; s=socket.create_connection(('127.0.0.1',15001),2); s.settimeout(2); print(repr(s.recv(10)))").stdout
    assert direct.strip() == "b''"
    assert metric(ns, 15090, "mesh_capture_errors_total", listener="outbound", reason="direct_connection") == 1

    # Connect-and-close to a sniffed destination (a TCP health check): the
    # proxy closes its side at once instead of holding CLOSE-WAIT sockets
    # until the idle timeout, and counts them.
    ns.exec("/usr/bin/python3", "-c", CONNECT_AND_CLOSE, "127.0.0.1", "8080", "25")
    deadline = time.monotonic() + 1.0
    while True:
        held = ns.exec("ss", "-Htn", "state", "close-wait", "sport = :15001").stdout.strip()
        if not held or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert held == ""
    assert metric(ns, 15090, "mesh_downstream_closed_before_data_total", listener="outbound") == 25
