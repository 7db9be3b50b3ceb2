"""Clients that close before sending a request: every kind of listener must
close its side at once (no CLOSE-WAIT socket, no descriptor held until an
idle timeout), count connections ended before any byte, and stay flat in
memory and descriptors over many connect-and-close cycles."""
import os
import socket
import socketserver
import struct
import subprocess
import threading
import time

import pytest

from conftest import cluster, forward_to, free_port, listener

ROUTES = [{"name": "web", "virtual_hosts": [{"routes": [
    {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}]
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# The first 20 bytes of a TLS 1.2 ClientHello record: the head of a
# handshake whose rest never comes.
PARTIAL_CLIENT_HELLO = bytes.fromhex("16030100f4010000f00303") + os.urandom(9)


def close_wait(port):
    """The proxy's CLOSE-WAIT sockets on `port` (ss' state filter)."""
    out = subprocess.run(["ss", "-Htn", "state", "close-wait", f"sport = :{port}"],
                         capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines() if line.strip()]


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled(read, expected, timeout=1.0):
    """`read()` once it returns `expected` (a value or a predicate), or its
    last value at `timeout`."""
    matches = expected if callable(expected) else (lambda value: value == expected)
    deadline = time.monotonic() + timeout
    value = read()
    while not matches(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


def open_send_close(port, count, first_bytes=b"", reset=False):
    """Opens `count` connections, sends `first_bytes` on each, waits a moment
    (the proxy is waiting for more) and closes them all: FIN, or RST."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    for s in sockets:
        if first_bytes:
            s.sendall(first_bytes)
    time.sleep(0.3)
    for s in sockets:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


@pytest.fixture
def echo_port():
    """A TCP echo server that serves connections concurrently."""
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while chunk := self.request.recv(65536):
                self.request.sendall(chunk)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        request_queue_size = 256  # every dial is accepted: none waits for a SYN retry

    server = Server(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def proxy_with_every_listener(start_proxy, backend_port, echo_port, pki):
    ports = {name: free_port() for name in ("auto", "http", "tls", "tcp")}
    tls = {"cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key")}
    proxy = start_proxy({
        "listeners": [
            # Still sniffing when the clients close (they wait 0.3 s).
            listener("auto", ports["auto"], route_table="web", tcp_cluster="echo",
                     protocol="PROTOCOL_AUTO", sniff_timeout="2s"),
            listener("http", ports["http"], route_table="web"),
            listener("tls", ports["tls"], route_table="web", tls=tls),
            listener("tcp", ports["tcp"], tcp_cluster="echo"),
        ],
        "route_tables": ROUTES,
        "clusters": [cluster("app", backend_port), cluster("echo", echo_port)],
    })
    ports["admin"], ports["metrics"] = proxy.admin_port, proxy.metrics_port
    return proxy, ports


@pytest.mark.parametrize("first_bytes, reset", [
    (b"", False),                    # a TCP health check or a port scan
    (b"", True),                     # the same, ended by a reset
    (H2_PREFACE[:10], False),        # a partial HTTP/2 preface
    (PARTIAL_CLIENT_HELLO, False),   # a partial TLS ClientHello
    (b"GET / HTTP/1.1\r\nHo", False),  # a partial HTTP/1 head
], ids=["silent", "silent-reset", "partial-h2-preface", "partial-client-hello", "partial-head"])
def test_every_listener_closes_its_side_at_once(start_proxy, backend_port, echo_port, pki,
                                                first_bytes, reset):
    proxy, ports = proxy_with_every_listener(start_proxy, backend_port, echo_port, pki)
    pid = proxy.process.pid
    baseline = descriptors(pid)
    for port in ports.values():
        open_send_close(port, 30, first_bytes, reset)
    for name, port in ports.items():
        assert settled(lambda: close_wait(port), [], timeout=1.0) == [], name
    # At most the baseline: a connection of the readiness check may close too.
    assert settled(lambda: descriptors(pid), lambda n: n <= baseline, timeout=1.0) <= baseline
    if first_bytes == b"":
        for name in ("auto", "http", "tls", "tcp"):
            assert proxy.settled_metric("mesh_downstream_closed_before_data_total", 30,
                                        listener=name) == 30, name
        # Not failed handshakes, not sniffed as anything.
        assert proxy.metric("mesh_downstream_tls_handshake_failures_total", listener="tls") == 0
        assert proxy.metric("mesh_sniffed_connections_total", listener="auto", protocol="opaque") == 0
    else:
        for name in ("auto", "http", "tls"):
            assert proxy.metric("mesh_downstream_closed_before_data_total", listener=name) == 0, name


def test_still_serves_after_early_closes(start_proxy, backend_port, echo_port, pki):
    """The early close path ends only the connection that ended: requests on
    the same listeners keep working."""
    proxy, ports = proxy_with_every_listener(start_proxy, backend_port, echo_port, pki)
    open_send_close(ports["http"], 20)
    result = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{ports['http']}/"],
                            capture_output=True, text=True, timeout=10)
    assert result.stdout == "v1\n", result.stderr
    with socket.create_connection(("127.0.0.1", ports["tcp"]), timeout=5) as s:
        s.sendall(b"ping")
        assert s.recv(16) == b"ping"


def test_connect_and_close_cycles_leave_memory_and_descriptors_flat(start_proxy, backend_port):
    """20,000 connect-and-close cycles (as TCP health checkers make) on an HTTP
    listener: the proxy ends each at once, so RSS and descriptors stay flat."""
    port = free_port()
    proxy = start_proxy({"listeners": [listener("web", port, route_table="web")],
                         "route_tables": ROUTES, "clusters": [cluster("app", backend_port)]})
    pid = proxy.process.pid
    open_send_close(port, 200)  # warm: the first connections size the worker's buffers
    assert proxy.settled_metric("mesh_downstream_closed_before_data_total", 200, listener="web") == 200
    baseline_fds, baseline_rss = descriptors(pid), proxy.rss_kib()
    deadline = time.monotonic() + 120
    cycles = 0
    while cycles < 20_000 and time.monotonic() < deadline:
        batch = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
        for s in batch:
            s.close()
        cycles += len(batch)
    assert cycles == 20_000
    assert proxy.settled_metric("mesh_downstream_closed_before_data_total", 20_200, timeout=10,
                                listener="web") == 20_200
    assert settled(lambda: close_wait(port), [], timeout=2.0) == []
    assert settled(lambda: descriptors(pid), lambda n: n <= baseline_fds, timeout=2.0) <= baseline_fds
    # Flat: within 1 MiB of the baseline (one held connection is ~7 KiB, so
    # 20,000 held would be over 100 MiB).
    assert proxy.rss_kib() - baseline_rss < 1024
