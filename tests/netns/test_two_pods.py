"""Two pods as network namespaces joined by a veth pair, each with mesh-init's
real iptables rules and a mesh-proxy sidecar running as UID 1337. The app in
pod A calls pod B's IP and port with a plain socket: A's sidecar captures it
on 15001 (SO_ORIGINAL_DST picks the route for B:8080), B's sidecar captures
it on 15006 and hands it to B's app from 127.0.0.6. Excluded ports bypass
both sidecars; the sidecars' own connections are not captured again. The
namespaces are deleted afterwards. Needs root."""
import json
import os
import secrets
import shutil
import subprocess
import tempfile

import pytest

from conftest import PROXY_BIN, ROOT
from netns_harness import PROXY_UID, Namespace, link, metric, run, wait_port

APP = ROOT / "deploy" / "examples" / "demo" / "app.py"
MESH_INIT = PROXY_BIN.parent / "mesh-init"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

# Answers every connection with the address it came from, then closes.
PEER_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8)
while True:
    c, peer = s.accept(); c.sendall(('peer=' + peer[0] + '\\n').encode()); c.close()
"""

# The app's client: an ordinary socket to the peer pod, no proxy settings.
HTTP_GET = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); s.settimeout(5)
s.sendall(b'GET /echo HTTP/1.1\\r\\nHost: b\\r\\nConnection: close\\r\\n\\r\\n')
data = b''
while chunk := s.recv(65536): data += chunk
print(data.decode())
"""

READ_LINE = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); s.settimeout(5)
print(s.recv(100).decode().strip())
"""


def admin():
    return {"address": {"host": "127.0.0.1", "port": 15000},
            "metrics_address": {"host": "0.0.0.0", "port": 15090},
            "health_address": {"host": "0.0.0.0", "port": 15021}}


def route_table(name, cluster, marker):
    """Every request to `cluster`, marked with a header naming the sidecar."""
    return {"name": name, "virtual_hosts": [{"domains": ["*"], "routes": [{
        "match": {"prefix": "/"}, "forward": {"clusters": [{"name": cluster}]},
        "request_headers": {"set": [{"name": "x-weft-" + marker, "value": "1"}]}}]}]}


def pod_a_config(b_ip):
    """A's sidecar: outbound to B:8080 is HTTP through the route table."""
    return {
        "admin": admin(),
        "listeners": [{"name": "outbound", "capture": "CAPTURE_OUTBOUND", "protocol": "PROTOCOL_AUTO",
                       "address": {"host": "0.0.0.0", "port": 15001},
                       "destinations": [{"address": b_ip, "port": 8080, "route_table": "to-b"}]}],
        "route_tables": [route_table("to-b", "b", "outbound")],
        "clusters": [{"name": "b", "endpoints": [{"address": b_ip, "port": 8080}]}],
    }


def pod_b_config():
    """B's sidecar: inbound to 8080 goes to the app on loopback, dialled from
    127.0.0.6 as the control plane configures it in a pod."""
    return {
        "admin": admin(),
        "listeners": [{"name": "inbound", "capture": "CAPTURE_INBOUND", "protocol": "PROTOCOL_AUTO",
                       "address": {"host": "0.0.0.0", "port": 15006},
                       "destinations": [{"port": 8080, "route_table": "inbound|8080"}]}],
        "route_tables": [route_table("inbound|8080", "inbound|8080", "inbound")],
        "clusters": [{"name": "inbound|8080", "source_address": "127.0.0.6",
                      "endpoints": [{"address": "127.0.0.1", "port": 8080}]}],
    }


def nat_rules(ns):
    """The namespace's nat rules, without counters."""
    lines = ns.exec("iptables-save", "-t", "nat").stdout.splitlines()
    return [line for line in lines if not line.startswith(("#", ":"))]


def start_sidecar(ns, workdir, name, config):
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    log = open(os.path.join(workdir, f"{name}.log"), "w")
    ns.spawn(str(PROXY_BIN), "--config", path, "--concurrency", "1", uid=PROXY_UID, log=log)


@pytest.fixture
def two_pods():
    workdir = tempfile.mkdtemp(prefix="weft-pods-")
    os.chmod(workdir, 0o755)  # the proxies run as UID 1337
    pods = []
    try:
        pods = [Namespace("weft-pod-a"), Namespace("weft-pod-b")]
        subnet = f"198.18.{secrets.randbelow(250) + 1}"
        link(pods[0], f"{subnet}.1", pods[1], f"{subnet}.2")
        yield pods[0], pods[1], f"{subnet}.1", f"{subnet}.2", workdir
    finally:
        for pod in pods:
            pod.close()
        names = run("ip", "netns", "list").stdout
        assert all(pod.name not in names for pod in pods), names
        shutil.rmtree(workdir, ignore_errors=True)


def test_pod_to_pod_through_both_sidecars(two_pods):
    a, b, a_ip, b_ip, workdir = two_pods
    b.spawn("/usr/bin/python3", str(APP), "--host", "0.0.0.0", "--port", "8080", "--name", "b")
    for port in (8082, 9999):
        b.spawn("/usr/bin/python3", "-c", PEER_SERVER, str(port))
    for port in (8080, 8082, 9999):
        wait_port(b, "127.0.0.1", port)

    # mesh-init in each pod, as its init container would: A keeps 9999
    # outbound out of capture, B keeps 9999 inbound out. Applying twice
    # leaves the same rules.
    a.exec(str(MESH_INIT), "--exclude-outbound-ports", "9999")
    first = nat_rules(a)
    a.exec(str(MESH_INIT), "--exclude-outbound-ports", "9999")
    assert nat_rules(a) == first and any("REDIRECT --to-ports 15001" in r for r in first)
    b.exec(str(MESH_INIT), "--exclude-inbound-ports", "9999")

    start_sidecar(a, workdir, "a", pod_a_config(b_ip))
    start_sidecar(b, workdir, "b", pod_b_config())
    # The classic sidecar's startup hold: returns once /ready answers 200.
    for pod in (a, b):
        held = pod.exec(str(PROXY_BIN), "--wait-ready", "--wait-ready-timeout", "20", check=False)
        assert held.returncode == 0, held.stderr

    # The app's plain socket to B:8080 goes through both sidecars: each
    # route's header reached the app, which saw the connection come from
    # 127.0.0.6 (B's sidecar), not from A.
    answer = a.python(HTTP_GET, b_ip, "8080")
    assert answer.startswith("HTTP/1.1 200"), answer
    echo = json.loads(answer.split("\n\n", 1)[1])  # (text mode turned CRLF into LF)
    assert echo["backend"] == "b" and echo["peer"] == "127.0.0.6", echo
    assert echo["headers"].get("x-weft-outbound") == "1", echo  # A's sidecar routed it
    assert echo["headers"].get("x-weft-inbound") == "1", echo  # B's sidecar routed it
    assert a_ip in echo["headers"].get("x-forwarded-for", ""), echo

    assert metric(a, 15090, "mesh_listener_requests_total", listener="outbound", status_class="2xx") == 1
    assert metric(b, 15090, "mesh_listener_requests_total", listener="inbound", status_class="2xx") == 1

    # No route for 8082: A passes it through to B (original destination), B
    # captures it inbound and passes it through to the app from 127.0.0.6.
    assert a.python(READ_LINE, b_ip, "8082") == "peer=127.0.0.6\n"
    assert metric(a, 15090, "mesh_passthrough_connections_total", listener="outbound") == 1
    assert metric(b, 15090, "mesh_passthrough_connections_total", listener="inbound") == 1

    # 9999 is excluded on both sides: B's server sees A's own address.
    assert a.python(READ_LINE, b_ip, "9999") == f"peer={a_ip}\n"
    assert metric(a, 15090, "mesh_downstream_connections_total", listener="outbound") == 2
    assert metric(b, 15090, "mesh_downstream_connections_total", listener="inbound") == 2

    # The sidecars' own connections were never captured again: no loops
    # back into a capture port, no connection without an original destination.
    for pod in (a, b):
        assert metric(pod, 15090, "mesh_capture_errors_total") == 0


GRPC_CLIENT = """
import sys
sys.path.insert(0, sys.argv[2])
import grpc, grpc_backend
client = grpc_backend.Client(sys.argv[1])
reply, call = client.unary().with_call(b'hello', metadata=[('x-tenant', 'blue')], timeout=10)
print(reply.decode(), dict(call.initial_metadata())['echo-x-tenant'])
print(sum(len(m) for m in client.spray()(b'50,100000', timeout=20)))
try:
    client.unary()(b'x', metadata=[('x-fail', 'PERMISSION_DENIED')], timeout=10)
except grpc.RpcError as e:
    print(e.code().name)
"""


def grpc_sidecars(b_ip):
    """A's outbound to B:50051 is an HTTP/2 cluster (a grpc Service port);
    B's inbound cluster speaks whatever arrived, as the control plane says."""
    a = pod_a_config(b_ip)
    a["listeners"][0]["destinations"] = [{"address": b_ip, "port": 50051, "route_table": "to-b"}]
    a["clusters"] = [{"name": "b", "protocol": "PROTOCOL_HTTP2",
                      "endpoints": [{"address": b_ip, "port": 50051}]}]
    b = pod_b_config()
    b["listeners"][0]["destinations"] = [{"port": 50051, "route_table": "inbound|8080"}]
    b["clusters"][0]["endpoints"] = [{"address": "127.0.0.1", "port": 50051}]
    b["clusters"][0]["protocol"] = "PROTOCOL_SAME_AS_DOWNSTREAM"
    return a, b


def test_grpc_pod_to_pod_through_both_sidecars(two_pods):
    a, b, a_ip, b_ip, workdir = two_pods
    integration = str(ROOT / "tests" / "integration")
    b.spawn("/usr/bin/python3", "-c",
            f"import sys, time; sys.path.insert(0, {integration!r}); import grpc_backend; "
            "s, _ = grpc_backend.start(50051, host='0.0.0.0'); time.sleep(600)")
    wait_port(b, "127.0.0.1", 50051)
    a.exec(str(MESH_INIT))
    b.exec(str(MESH_INIT))
    a_config, b_config = grpc_sidecars(b_ip)
    start_sidecar(a, workdir, "a", a_config)
    start_sidecar(b, workdir, "b", b_config)
    for pod in (a, b):
        assert pod.exec(str(PROXY_BIN), "--wait-ready", "--wait-ready-timeout", "20", check=False).returncode == 0

    # The app's own gRPC channel to B's address: captured by A, HTTP/2 to B,
    # captured by B, HTTP/2 to the server. Metadata, streams and status pass.
    lines = a.python(GRPC_CLIENT, f"{b_ip}:50051", integration).splitlines()
    assert lines == ["hello blue", "5000000", "PERMISSION_DENIED"], lines
    assert metric(a, 15090, "mesh_grpc_responses_total", listener="outbound", grpc_status="OK") == 2
    assert metric(b, 15090, "mesh_grpc_responses_total", listener="inbound",
                  grpc_status="PERMISSION_DENIED") == 1
    assert metric(b, 15090, "mesh_requests_by_protocol_total", listener="inbound", protocol="http2") == 3
