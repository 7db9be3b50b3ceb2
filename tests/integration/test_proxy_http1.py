"""mesh-proxy HTTP/1.1 proxying, run as a user would: the real binary, real
curl and wrk, backends of ours, everything on 127.0.0.1."""
import json
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import cluster, forward_to, free_port, http_get, listener, tcp_server

CURL = ["curl", "-sS", "--max-time", "20"]


def curl(*args):
    return subprocess.run([*CURL, *args], capture_output=True, text=True, timeout=60)


def one_route_config(port, clusters, route=None, listeners=None):
    route = route or {"match": {"prefix": "/"}, "forward": forward_to((clusters[0]["name"], 1))}
    return {
        "listeners": listeners or [listener("web", port, route_table="web")],
        "route_tables": [{"name": "web", "virtual_hosts": [{"domains": ["*"], "routes": [route]}]}],
        "clusters": clusters,
    }


def raw_exchange(port, data, timeout=5):
    """Sends raw bytes and returns everything the proxy answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_forwards_with_proxy_headers(start_proxy, backend_port):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    result = curl("-H", "x-forwarded-for: 10.1.2.3", "-H", "Connection: keep-alive, x-secret",
                  "-H", "x-secret: 1", "-H", "Keep-Alive: timeout=5", f"http://127.0.0.1:{port}/echo")
    assert result.returncode == 0, result.stderr
    echo = json.loads(result.stdout)
    headers = echo["headers"]
    assert echo["backend"] == "v1"
    assert headers["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert len(headers["x-request-id"]) == 36
    assert "x-secret" not in headers, "a field named by Connection is hop-by-hop"
    assert "keep-alive" not in headers


def test_keeps_upstream_connections_alive(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    urls = [f"http://127.0.0.1:{port}/"] * 50
    result = curl(*urls)
    assert result.returncode == 0
    assert result.stdout.count("v1") == 50
    assert proxy.settled_metric("mesh_upstream_connections_total", lambda v: v >= 49, cluster="app", kind="reused") >= 49
    assert proxy.settled_metric("mesh_upstream_connections_total", 1, cluster="app", kind="new") == 1
    assert proxy.settled_metric("mesh_listener_requests_total", 50, listener="web", status_class="2xx") == 50


def test_routes_by_path_method_header_and_query(start_proxy, backend_port):
    from conftest import backend
    v2_port = free_port()
    v2 = backend.start(v2_port, "v2")
    try:
        port = free_port()
        routes = [
            {"match": {"exact": "/health"}, "direct_response": {"status": 200, "body": "ok\n"},
             "response_headers": {"set": [{"name": "x-served-by", "value": "proxy"}]}},
            {"match": {"prefix": "/old"}, "redirect": {"path": "/new", "status": 301}},
            {"match": {"prefix": "/", "headers": [{"name": "x-canary", "exact": "1"}]},
             "forward": forward_to(("v2", 1))},
            {"match": {"prefix": "/", "query_params": [{"name": "version", "exact": "2"}]},
             "forward": forward_to(("v2", 1))},
            {"match": {"prefix": "/", "method": "DELETE"}, "direct_response": {"status": 405}},
            {"match": {"regex": "/users/[0-9]+"}, "forward": forward_to(("v1", 1))},
        ]
        config = {
            "listeners": [listener("web", port, route_table="web")],
            "route_tables": [{"name": "web", "virtual_hosts": [
                {"name": "shop", "domains": ["shop.example"], "routes": routes}]}],
            "clusters": [cluster("v1", backend_port), cluster("v2", v2_port)],
        }
        proxy = start_proxy(config)
        base = f"http://127.0.0.1:{port}"
        host = ["-H", "Host: shop.example"]

        health = curl("-i", *host, f"{base}/health").stdout
        assert health.startswith("HTTP/1.1 200") and "x-served-by: proxy" in health.lower()
        redirect = curl("-i", *host, f"{base}/old?x=1").stdout
        assert redirect.startswith("HTTP/1.1 301") and "location: http://shop.example/new" in redirect.lower()
        assert curl(*host, "-H", "x-canary: 1", f"{base}/").stdout == "v2\n"
        assert curl(*host, f"{base}/?version=2").stdout == "v2\n"
        assert curl(*host, "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", f"{base}/x").stdout == "405"
        assert curl(*host, f"{base}/users/42").stdout == "v1\n"
        assert curl(*host, "-o", "/dev/null", "-w", "%{http_code}", f"{base}/users/x").stdout == "404"
        unknown = curl("-i", "-H", "Host: other.example", f"{base}/").stdout
        assert unknown.startswith("HTTP/1.1 404") and "x-weft-error: route_not_found" in unknown
        assert proxy.settled_metric("mesh_local_replies_total", 2, reason="route_not_found") == 2
    finally:
        v2.shutdown()
        v2.server_close()


def test_request_header_edits_reach_upstream(start_proxy, backend_port):
    port = free_port()
    route = {"match": {"prefix": "/"}, "forward": forward_to(("app", 1)),
             "request_headers": {"set": [{"name": "x-env", "value": "prod"}],
                                 "add": [{"name": "x-route", "value": "users"}],
                                 "remove": ["x-drop-me"]},
             "response_headers": {"add": [{"name": "x-edited", "value": "yes"}]}}
    start_proxy(one_route_config(port, [cluster("app", backend_port)], route))
    result = curl("-D", "-", "-H", "x-drop-me: 1", "-H", "x-env: dev", f"http://127.0.0.1:{port}/echo")
    head, _, body = result.stdout.partition("\n\n")  # text mode folds CRLF
    headers = json.loads(body)["headers"]
    assert headers["x-env"] == "prod" and headers["x-route"] == "users"
    assert "x-drop-me" not in headers
    assert "x-edited: yes" in head.lower()


def test_weighted_split_follows_weights(start_proxy, backend_port):
    from conftest import backend
    v2_port = free_port()
    v2 = backend.start(v2_port, "v2")
    try:
        port = free_port()
        route = {"match": {"prefix": "/"}, "forward": forward_to(("v1", 90), ("v2", 10))}
        start_proxy(one_route_config(port, [cluster("v1", backend_port), cluster("v2", v2_port)], route))
        out = curl(*([f"http://127.0.0.1:{port}/"] * 1000)).stdout
        v2_count = out.count("v2\n")
        assert out.count("v1\n") + v2_count == 1000
        # Smooth weighted round robin on the proxy's one worker: exactly 10 in
        # every 100, and spread out rather than in a run of ten.
        assert v2_count == 100, v2_count
        answers = out.split()
        to_v2 = [i for i, answer in enumerate(answers) if answer == "v2"]
        assert {b - a for a, b in zip(to_v2, to_v2[1:])} == {10}
    finally:
        v2.shutdown()
        v2.server_close()


def test_connect_failure_is_503_with_reason(start_proxy):
    port, closed = free_port(), free_port()
    proxy = start_proxy(one_route_config(port, [cluster("gone", closed)]))
    result = curl("-i", f"http://127.0.0.1:{port}/")
    assert result.stdout.startswith("HTTP/1.1 503")
    assert "x-weft-error: upstream_connect_failure" in result.stdout
    assert proxy.settled_metric("mesh_upstream_connect_failures_total", 1, cluster="gone", reason="refused") == 1
    assert proxy.access_records(1)[-1]["error"] == "upstream_connect_failure"


def test_cluster_without_endpoints_is_503(start_proxy):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("empty")]))
    result = curl("-i", f"http://127.0.0.1:{port}/")
    assert result.stdout.startswith("HTTP/1.1 503") and "x-weft-error: no_healthy_upstream" in result.stdout


def test_route_timeout_is_504(start_proxy, backend_port):
    port = free_port()
    route = {"match": {"prefix": "/"}, "forward": forward_to(("app", 1)), "timeout": "0.3s"}
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)], route))
    started = time.monotonic()
    result = curl("-i", f"http://127.0.0.1:{port}/slow?ms=3000")
    assert time.monotonic() - started < 2.5
    assert result.stdout.startswith("HTTP/1.1 504")
    assert "x-weft-error: request_timeout" in result.stdout
    assert proxy.settled_metric("mesh_local_replies_total", 1, reason="request_timeout") == 1


def test_invalid_upstream_response_is_502(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    result = curl("-i", f"http://127.0.0.1:{port}/garbage")
    assert result.stdout.startswith("HTTP/1.1 502")
    assert "x-weft-error: upstream_protocol_error" in result.stdout
    # The connection that carried garbage is not reused: the next request works.
    assert curl(f"http://127.0.0.1:{port}/").stdout == "v1\n"
    assert proxy.settled_metric("mesh_local_replies_total", 1, reason="upstream_protocol_error") == 1


def test_close_delimited_upstream_body_is_rechunked(start_proxy, backend_port):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    result = curl("-i", f"http://127.0.0.1:{port}/close", f"http://127.0.0.1:{port}/")
    assert "transfer-encoding: chunked" in result.stdout.lower()
    assert "until close\n" in result.stdout and result.stdout.endswith("v1\n")


def test_malformed_requests_are_rejected_and_counted(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    cases = [
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         b"400", "bad_transfer_encoding"),
        (b"GET / HTTP/1.1\r\nX: 1\r\n\r\n", b"400", "missing_host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"400", "duplicate_host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", b"400", "bad_header_name"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"x%d: v\r\n" % i for i in range(120)) + b"\r\n",
         b"431", "too_many_headers"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", b"414", "uri_too_long"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", b"400", "bad_transfer_encoding"),
    ]
    for raw, status, reason in cases:
        answer = raw_exchange(port, raw)
        assert answer.startswith(b"HTTP/1.1 " + status), (reason, answer[:80])
        assert f"x-weft-error: {reason}".encode() in answer.lower()
    assert proxy.settled_metric("mesh_http1_parse_rejections_total", 2, reason="bad_transfer_encoding") == 2
    assert proxy.settled_metric("mesh_http1_parse_rejections_total", 1, reason="missing_host") == 1
    assert proxy.settled_metric("mesh_http1_parse_rejections_total", 1, reason="too_many_headers") == 1
    # The proxy is unharmed.
    assert curl(f"http://127.0.0.1:{port}/").stdout == "v1\n"


def test_expect_100_continue_and_chunked_upload(start_proxy, backend_port, tmp_path):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    body = tmp_path / "body"
    body.write_bytes(b"x" * 200_000)
    result = curl("-H", "Expect: 100-continue", "-H", "Transfer-Encoding: chunked",
                  "--data-binary", f"@{body}", "-w", "\n%{time_total}", f"http://127.0.0.1:{port}/upload")
    answer, elapsed = result.stdout.rsplit("\n", 1)
    assert json.loads(answer)["received"] == 200_000
    assert float(elapsed) < 0.9, "curl waited for a 100 Continue that never came"


def test_one_gib_each_way_streams_with_flat_memory(start_proxy, backend_port, tmp_path):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    gib = 1 << 30
    baseline = proxy.rss_kib()
    download = curl("-o", "/dev/null", "-w", "%{size_download}", "--max-time", "120",
                    f"http://127.0.0.1:{port}/bytes?n={gib}")
    assert download.stdout == str(gib), download.stderr
    sparse = tmp_path / "gib"
    with open(sparse, "wb") as f:
        f.truncate(gib)  # a GiB of zeros without a GiB of disk
    upload = curl("--max-time", "120", "-T", str(sparse), f"http://127.0.0.1:{port}/upload")
    assert json.loads(upload.stdout)["received"] == gib, upload.stderr
    growth = proxy.rss_kib() - baseline
    assert growth < 16 * 1024, f"RSS grew by {growth} KiB while streaming 2 GiB"


def test_websocket_upgrade_becomes_a_tunnel(start_proxy, backend_port):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        assert b"upgrade: websocket" in head.lower()
        for message in (b"hello", b"\x81\x05frame", b"x" * 100_000):
            s.sendall(message)
            got = b""
            while len(got) < len(message):
                got += s.recv(65536)
            assert got == message


def test_tcp_listener_relays_with_half_close(start_proxy):
    def answer_after_eof(conn):
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.sendall(data[::-1])  # answers only after the client's half-close

    echo_port, close_echo = tcp_server(answer_after_eof)
    port = free_port()
    proxy = start_proxy({"listeners": [listener("db", port, tcp_cluster="db")],
                         "clusters": [cluster("db", echo_port)]})
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"abcdef" * 1000)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got == (b"abcdef" * 1000)[::-1]
    close_echo()
    deadline = time.monotonic() + 5
    while proxy.metric("mesh_tcp_bytes_total", listener="db", direction="sent") < 6000:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proxy.settled_metric("mesh_tcp_bytes_total", 6000, listener="db", direction="received") == 6000


def test_wrk_load_has_no_errors(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]), concurrency=2)
    result = subprocess.run(["wrk", "-t1", "-c8", "-d2s", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=30)
    assert "Non-2xx" not in result.stdout and "Socket errors" not in result.stdout, result.stdout
    total = int(result.stdout.split(" requests in ")[0].split()[-1])
    assert total > 100
    assert proxy.metric("mesh_listener_requests_total", listener="web", status_class="5xx") == 0


def test_auto_listener_sniffs_http_and_tcp(start_proxy, backend_port):
    echo_port, close_echo = tcp_server(lambda conn: conn.sendall(conn.recv(100)), connections=2)
    port = free_port()
    proxy = start_proxy({
        "listeners": [listener("mixed", port, route_table="web", tcp_cluster="echo",
                               protocol="PROTOCOL_AUTO")],
        "route_tables": [{"name": "web", "virtual_hosts": [{"routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}],
        "clusters": [cluster("app", backend_port), cluster("echo", echo_port)],
    })
    assert curl(f"http://127.0.0.1:{port}/").stdout == "v1\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x00\x01binary hello")
        assert s.recv(100) == b"\x00\x01binary hello"
    assert proxy.settled_metric("mesh_sniffed_connections_total", 1, listener="mixed", protocol="http1") == 1
    assert proxy.settled_metric("mesh_sniffed_connections_total", 1, listener="mixed", protocol="opaque") == 1
    assert proxy.metric("mesh_sniff_timeouts_total", listener="mixed") == 0  # decided by its bytes
    # A client that waits for the server to speak first: after sniff_timeout
    # (100 ms by default) the connection is relayed as TCP and counted.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert proxy.settled_metric("mesh_sniff_timeouts_total", 1, listener="mixed") == 1
        s.sendall(b"late")
        assert s.recv(100) == b"late"
    close_echo()
    assert proxy.metric("mesh_sniffed_connections_total", listener="mixed", protocol="opaque") == 2


def test_head_response_has_no_body_and_keeps_the_connection(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    result = curl("-I", f"http://127.0.0.1:{port}/", "-I", f"http://127.0.0.1:{port}/")
    assert result.stdout.count("HTTP/1.1 200") == 2 and "content-length: 3" in result.stdout.lower()
    assert proxy.settled_metric("mesh_downstream_connections_total", 1, listener="web") == 1


def test_pipelined_requests_are_answered_in_order(start_proxy, backend_port):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    requests = b"".join(b"GET /status/%d HTTP/1.1\r\nHost: a\r\n\r\n" % code for code in (200, 404, 201))
    answer = raw_exchange(port, requests + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"404", b"201", b"200"], answer


def test_upstream_connection_close_is_not_reused(start_proxy):
    """A response with `Connection: close` ends that upstream connection: the
    next request opens a new one instead of failing on the closed socket."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)

    def serve():
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nok\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", server.getsockname()[1])]))
    for _ in range(2):
        assert curl(f"http://127.0.0.1:{port}/").stdout == "ok\n"
    thread.join(10)
    server.close()
    assert proxy.settled_metric("mesh_upstream_connections_total", 2, cluster="app", kind="new") == 2
    assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="reused") == 0


def keep_alive_backend(after_answer):
    """A one-connection upstream that answers one request with keep-alive,
    then calls `after_answer(conn)`; returns (port, close)."""
    def handle(conn):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        after_answer(conn)
    return tcp_server(handle)


def close_wait_sockets(port):
    out = subprocess.run(["ss", "-Htn", "state", "close-wait", f"dport = :{port}"],
                         capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_pool_closes_an_idle_connection_its_upstream_closed(start_proxy):
    # The upstream closes its idle keep-alive connection (as Node does after
    # 5 s). The proxy's pool closes its side within its 1 s sweep instead of
    # holding it in CLOSE_WAIT until the next request to that endpoint.
    upstream, close_upstream = keep_alive_backend(lambda conn: time.sleep(0.3))
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", upstream)]))
    assert curl(f"http://127.0.0.1:{port}/").stdout == "ok\n"
    close_upstream()
    assert proxy.settled_metric("mesh_upstream_idle_closed_total", 1, cluster="app", reason="peer_closed") == 1
    assert close_wait_sockets(upstream) == []
    assert proxy.metric("mesh_upstream_idle_closed_total", cluster="app", reason="idle_timeout") == 0


def test_pool_closes_connections_past_its_idle_timeout(start_proxy):
    closed_by_proxy = threading.Event()

    def wait_for_close(conn):
        conn.settimeout(5)
        if conn.recv(1) == b"":
            closed_by_proxy.set()
    upstream, close_upstream = keep_alive_backend(wait_for_close)
    port = free_port()
    proxy = start_proxy(one_route_config(
        port, [cluster("app", upstream, pool={"max_idle_per_endpoint": 4, "idle_timeout": "0.2s"})]))
    assert curl(f"http://127.0.0.1:{port}/").stdout == "ok\n"
    assert closed_by_proxy.wait(5), "the proxy kept the idle connection past its idle timeout"
    close_upstream()
    assert proxy.settled_metric("mesh_upstream_idle_closed_total", 1, cluster="app", reason="idle_timeout") == 1


def test_pool_full_closes_the_oldest_idle_connection(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port, pool={"max_idle_per_endpoint": 1})]))
    # Two requests at once need two upstream connections; only one fits the pool.
    slow = [subprocess.Popen([*CURL, f"http://127.0.0.1:{port}/slow?ms=300"], stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    assert [p.communicate(timeout=30)[0] for p in slow] == ["slow\n", "slow\n"]
    assert proxy.settled_metric("mesh_upstream_connections_total", 2, cluster="app", kind="new") == 2
    assert proxy.settled_metric("mesh_upstream_idle_closed_total", 1, cluster="app", reason="pool_full") == 1
    assert curl(f"http://127.0.0.1:{port}/").stdout == "v1\n"  # the one kept is reused
    assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="reused") == 1


def lingering_config(port):
    route = {"match": {"prefix": "/"}, "direct_response": {"status": 403, "body": "no\n"}}
    return one_route_config(port, [], route=route)


def test_an_answer_before_the_body_is_read_survives_the_upload(start_proxy):
    """The proxy answers before reading a large upload, then closes. Closing
    with bytes unread would reset the connection, so the client's next
    write fails and it never reads the answer. The proxy drains instead."""
    port = free_port()
    proxy = start_proxy(lingering_config(port))
    body_size = 16 << 20  # more than both sockets' buffers hold
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {body_size}\r\n\r\n".encode())
        chunk = b"x" * 65536
        for _ in range(body_size // len(chunk)):
            s.sendall(chunk)  # a reset would raise here
        answer = b""
        while data := s.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:100]
    assert b"connection: close" in answer.lower()
    assert proxy.settled_metric("mesh_http1_lingering_closes_total", 1, end="client_closed") == 1
    assert proxy.metric("mesh_http1_lingering_closes_total", end="time_limit") == 0


def test_a_lingering_close_is_cut_at_five_seconds(start_proxy):
    """A client that neither finishes its body nor closes is dropped after the
    lingering limit."""
    port = free_port()
    proxy = start_proxy(lingering_config(port))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nxx")
        answer = b""
        while data := s.recv(65536):  # ends at the proxy's FIN, sent with the answer
            answer += data
        assert answer.startswith(b"HTTP/1.1 403 ")
        started = time.monotonic()
        assert proxy.settled_metric("mesh_http1_lingering_closes_total", 1, timeout=8,
                                    end="time_limit") == 1
        assert 4 < time.monotonic() - started < 7


@pytest.mark.parametrize("framing, body, expected", [
    (b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello", [b"content-length: 5"]),
    (b"Content-Length: 5, 5\r\n", b"hello", [b"content-length: 5"]),
    (b"Transfer-Encoding: Chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n", [b"transfer-encoding: chunked"]),
])
def test_upstream_gets_exactly_one_framing_field(start_proxy, framing, body, expected):
    """Whatever framing the client sent that was accepted (a repeated or
    listed Content-Length, chunked in any case), the upstream receives one
    field: no two hops can read the body's length differently."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    received = []

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while not data.endswith(b"hello") and not data.endswith(b"0\r\n\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            received.append(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nok\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", server.getsockname()[1])]))
    answer = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + framing
                          + b"\r\n" + body)
    thread.join(10)
    server.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    head = received[0].split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    framing_fields = [line for line in head
                      if line.startswith((b"content-length:", b"transfer-encoding:"))]
    assert framing_fields == expected, head


def test_a_transfer_coding_besides_chunked_is_refused_501(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    answer = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n"
                                b"\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 501"), answer
    assert b"x-weft-error: unsupported_transfer_coding" in answer
    assert proxy.metric("mesh_http1_parse_rejections_total",
                        reason="unsupported_transfer_coding") == 1


# What the fuzz harnesses found (docs/security.md), end to end.

def test_a_folded_header_line_is_joined_not_fatal(start_proxy, backend_port):
    """obs-fold: Beast joins the lines in a buffer of its own; copying the
    fields out of the input once took the proxy down with this request."""
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    answer = raw_exchange(port, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n"
                                b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    echo = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert echo["headers"]["x-a"] == "a b"
    assert proxy.process.poll() is None
    assert curl(f"http://127.0.0.1:{port}/").stdout == "v1\n"


def test_an_http10_request_without_host_goes_upstream_with_one(start_proxy, backend_port):
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    answer = raw_exchange(port, b"GET /echo HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["headers"]["host"] == "app"


def test_an_absolute_target_with_an_empty_host_is_refused(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(one_route_config(port, [cluster("app", backend_port)]))
    answer = raw_exchange(port, b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"x-weft-error: bad_target" in answer
    assert proxy.settled_metric("mesh_http1_parse_rejections_total", 1, reason="bad_target") == 1


def test_a_chunked_head_answer_gets_no_last_chunk(start_proxy):
    """An upstream answering HEAD with `Transfer-Encoding: chunked` (as most
    do): the client gets the head and nothing after it, so the next
    response on its connection is read from its first byte."""
    def handle(conn):
        conn.settimeout(5)
        pending = b""
        for answer in (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                       b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"):
            while b"\r\n\r\n" not in pending:
                pending += conn.recv(65536)
            pending = pending.split(b"\r\n\r\n", 1)[1]
            conn.sendall(answer)
    upstream, close = tcp_server(handle)
    port = free_port()
    start_proxy(one_route_config(port, [cluster("app", upstream)]))
    answer = raw_exchange(port, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    close()
    first, second = answer.split(b"\r\n\r\n", 1)
    assert b"transfer-encoding: chunked" in first.lower()
    assert second.startswith(b"HTTP/1.1 200"), answer
    assert second.endswith(b"\r\n\r\nok\n"), answer
