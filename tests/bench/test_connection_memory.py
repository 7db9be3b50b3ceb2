"""What an idle downstream connection costs mesh-proxy in resident memory
(issue 20): plaintext HTTP/1.1 and TLS after one request (so the buffers
a request needs have been used once), and prior-knowledge HTTP/2 after
the SETTINGS exchange. The budgets are the issue's targets (HTTP/2 has
none there: ours); the assertions allow 3 times them, so noise on a
shared machine cannot fail CI. docs/benchmarks.md has the exact figures;
pytest -s prints them.

HTTP/1.1 and TLS are over their budgets today (about 20 KiB and 82 KiB):
an idle connection keeps its request's buffers, header arena and parser,
and Asio's TLS stream holds two 17 KiB buffers of its own. Those two are
strict xfails, so the marker has to go when the proxy meets the budget.

Counts are the issue's (10,000 HTTP/1.1, 1,000 HTTP/2 and TLS) when the
open-file limit allows; a lower hard limit scales them down, which the
printed line says."""
import resource
import socket
import ssl
import time

import pytest

from conftest import cluster, forward_to, free_port, listener

KIB = 1024
BUDGET_HTTP1 = 2 * KIB
BUDGET_TLS = 10 * KIB
BUDGET_HTTP2 = 16 * KIB  # ours: the issue sets none
SLACK = 3
REQUEST = b"GET / HTTP/1.1\r\nHost: app\r\n\r\n"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")


def connection_count(wanted):
    """`wanted`, or as many as this process and the proxy can both hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return min(wanted, (hard - 200) // 2)


def config(port, backend_port, **listener_fields):
    route = {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}
    return {
        "listeners": [listener("web", port, route_table="web", **listener_fields)],
        "route_tables": [{"name": "web", "virtual_hosts": [{"domains": ["*"], "routes": [route]}]}],
        "clusters": [cluster("app", backend_port)],
    }


def read_response(sock):
    """One small response (the demo app's 'v1\\n'), headers and body."""
    data = b""
    while not data.endswith(b"v1\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def read_h2_settings(sock):
    """Waits for the proxy's SETTINGS frame, then acknowledges it."""
    data = b""
    while len(data) < 9:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before SETTINGS")
        data += chunk
    assert data[3] == 0x4, data[:9].hex()  # the first frame is SETTINGS
    sock.sendall(bytes.fromhex("000000040100000000"))


def settled_rss(proxy):
    """RSS once it stops moving (the proxy settles new connections within a
    few event-loop turns)."""
    last = proxy.rss_kib()
    for _ in range(40):
        time.sleep(0.1)
        now = proxy.rss_kib()
        if abs(now - last) < 16:
            return now
        last = now
    return last


def per_connection(proxy, count, open_one):
    """Bytes of RSS per connection left open by `open_one`, measured
    against a baseline after a warm-up that opened and closed as many."""
    warm = [open_one() for _ in range(min(count, 200))]
    for sock in warm:
        sock.close()
    before = settled_rss(proxy)
    held = [open_one() for _ in range(count)]
    after = settled_rss(proxy)
    active = proxy.metric("mesh_downstream_connections_active", listener="web")
    for sock in held:
        sock.close()
    assert active == count, active
    return (after - before) * KIB / count


def idle_cost(start_proxy, backend_port, kind, wanted, budget, open_one, **listener_fields):
    """Starts a proxy, measures `open_one(port)` connections held idle,
    prints the figure and returns bytes per connection."""
    count = connection_count(wanted)
    port = free_port()
    proxy = start_proxy(config(port, backend_port, **listener_fields),
                        extra_args=("--max-connections", str(count + 500)))
    per = per_connection(proxy, count, lambda: open_one(port))
    print(f"\nidle {kind}: {count} connections, {per:.0f} bytes each "
          f"(budget {budget}, asserted under {SLACK * budget})")
    return per


def http1_after_one_request(port, wrap=lambda sock: sock):
    sock = wrap(socket.create_connection(("127.0.0.1", port), timeout=10))
    sock.sendall(REQUEST)
    read_response(sock)
    return sock


def http2_after_settings(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(H2_PREFACE)
    read_h2_settings(sock)
    return sock


OVER_BUDGET = pytest.mark.xfail(
    strict=True, reason="over budget: idle connections keep per-request state (docs/benchmarks.md)")


@OVER_BUDGET
def test_idle_http1_connection_memory(start_proxy, backend_port):
    per = idle_cost(start_proxy, backend_port, "HTTP/1.1", 10_000, BUDGET_HTTP1,
                    http1_after_one_request)
    assert per < SLACK * BUDGET_HTTP1


def test_idle_http2_connection_memory(start_proxy, backend_port):
    per = idle_cost(start_proxy, backend_port, "HTTP/2", 1_000, BUDGET_HTTP2, http2_after_settings)
    assert per < SLACK * BUDGET_HTTP2


@OVER_BUDGET
def test_idle_tls_connection_memory(start_proxy, backend_port, pki):
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.set_alpn_protocols(["http/1.1"])
    tls = {"cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key")}

    def open_one(port):
        return http1_after_one_request(
            port, lambda raw: context.wrap_socket(raw, server_hostname="localhost"))

    per = idle_cost(start_proxy, backend_port, "TLS (HTTP/1.1)", 1_000, BUDGET_TLS, open_one,
                    tls=tls)
    assert per < SLACK * BUDGET_TLS


if __name__ == "__main__":
    pytest.main([__file__, "-s"])
