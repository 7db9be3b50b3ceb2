"""Slow and abusive clients (issue 20), run with the real slowhttptest
(Debian package) against mesh-proxy on 127.0.0.1: slow headers
(slowloris), slow body (R-U-Dead-Yet) and slow read, each beside a normal
client that must see no error, and connection caps. The limits and their
metrics are listed in docs/security.md."""
import http.client
import socket
import subprocess
import threading
import time

import pytest

from conftest import cluster, forward_to, free_port, listener

TEST_SECONDS = 12
RSS_LIMIT_KIB = 96 * 1024  # idle it is about 8 MiB; 100 slow connections must not add much


def config(port, backend_port, **listener_fields):
    route = {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}
    return {
        "listeners": [dict(listener("web", port, route_table="web"), **listener_fields)],
        "route_tables": [{"name": "web", "virtual_hosts": [{"domains": ["*"], "routes": [route]}]}],
        "clusters": [cluster("app", backend_port)],
    }


class NormalClient:
    """Keep-alive requests every 20 ms on one connection (a new one after
    any failure) until stopped; counts answers and failures."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/")
                response = connection.getresponse()
                body = response.read()
                if response.status == 200 and body == b"v1\n":
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status} {body[:40]!r}")
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                connection = None
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join(10)


def slowhttptest(port, path, mode_args):
    """Runs slowhttptest against the proxy for TEST_SECONDS; its own probe
    is not asserted on (the normal client is the measure)."""
    return subprocess.run(
        ["slowhttptest", *mode_args, "-c", "100", "-r", "50", "-l", str(TEST_SECONDS), "-p", "3",
         "-u", f"http://127.0.0.1:{port}{path}", "-v", "1"],
        capture_output=True, text=True, timeout=TEST_SECONDS + 60)


class Attack:
    """slowhttptest in a thread, with the proxy's RSS sampled meanwhile."""

    def __init__(self, proxy, port, mode_args, path):
        self.report = ""
        self.peak_rss = 0
        thread = threading.Thread(target=self._run, args=(port, path, mode_args), daemon=True)
        thread.start()
        while thread.is_alive():
            self.peak_rss = max(self.peak_rss, proxy.rss_kib())
            thread.join(0.5)

    def _run(self, port, path, mode_args):
        self.report = slowhttptest(port, path, mode_args).stdout

    def closed_every_connection(self):
        """slowhttptest ends before its time when the target closed all of
        its slow connections."""
        return "No open connections left" in self.report


def under_attack(proxy, port, *mode_args, path="/"):
    client = NormalClient(port)
    attack = Attack(proxy, port, mode_args, path)
    client.stop()
    # Shown with pytest -s: what the closing notes of issue 20 report.
    print(f"slowhttptest {' '.join(mode_args)}: normal client {client.ok} answered, "
          f"{len(client.failures)} failed; proxy peak RSS {attack.peak_rss} KiB")
    return client, attack


def test_slow_headers_get_408_after_the_headers_timeout(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(config(port, backend_port, request_headers_timeout="2s"))
    # A header line every 5 s: each slow connection is refused at 2 s.
    client, attack = under_attack(proxy, port, "-H", "-i", "5")
    assert client.failures == [] and client.ok > 50, (client.ok, client.failures[:5])
    assert attack.closed_every_connection(), attack.report[-500:]
    refused = proxy.metric("mesh_http1_parse_rejections_total", reason="request_headers_timeout")
    assert refused == 100, refused
    assert attack.peak_rss < RSS_LIMIT_KIB, attack.peak_rss


def test_slow_body_is_cut_by_the_idle_timeout(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(config(port, backend_port, idle_timeout="2s"))
    # A body piece every 5 s: longer than the listener's idle timeout.
    client, attack = under_attack(proxy, port, "-B", "-i", "5", "-s", "8192")
    assert client.failures == [] and client.ok > 50, (client.ok, client.failures[:5])
    assert attack.closed_every_connection(), attack.report[-500:]
    assert attack.peak_rss < RSS_LIMIT_KIB, attack.peak_rss


def test_slow_readers_are_held_to_bounded_memory(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(config(port, backend_port, idle_timeout="4s"))
    # Each asks for the same 1 MiB three times and reads 32 bytes a second
    # through a window of at most 1 KiB: the proxy must buffer little of it.
    client, attack = under_attack(
        proxy, port, "-X", "-k", "3", "-w", "512", "-y", "1024", "-n", "1", "-z", "32",
        path="/bytes?n=1048576")
    assert client.failures == [] and client.ok > 100, (client.ok, client.failures[:5])
    assert attack.peak_rss < RSS_LIMIT_KIB, attack.peak_rss


def open_idle(port, count):
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    return sockets


def closed_at_once(sock):
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_a_listener_cap_closes_connections_past_it(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(config(port, backend_port, max_connections=5))
    held = open_idle(port, 5)
    assert proxy.settled_metric("mesh_downstream_connections_active", 5, listener="web") == 5
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert closed_at_once(extra)
    assert proxy.settled_metric("mesh_downstream_connections_refused_total", 1, listener="web",
                                limit="listener") == 1
    held.pop().close()
    assert proxy.settled_metric("mesh_downstream_connections_active", 4, listener="web") == 4
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    client.request("GET", "/")
    assert client.getresponse().read() == b"v1\n"
    for sock in held + [extra]:
        sock.close()


def test_the_proxy_cap_covers_every_listener(start_proxy, backend_port):
    port, other = free_port(), free_port()
    cfg = config(port, backend_port)
    cfg["listeners"].append(listener("other", other, route_table="web"))
    proxy = start_proxy(cfg, concurrency=2, extra_args=("--max-connections", "4"))
    held = open_idle(port, 2) + open_idle(other, 2)
    assert proxy.settled_metric("mesh_downstream_connections_active", 2, listener="other") == 2
    extra = socket.create_connection(("127.0.0.1", other), timeout=5)
    assert closed_at_once(extra)
    assert proxy.settled_metric("mesh_downstream_connections_refused_total", 1, listener="other",
                                limit="proxy") == 1
    for sock in held + [extra]:
        sock.close()
