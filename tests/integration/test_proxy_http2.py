"""HTTP/2 and gRPC through mesh-proxy, run as a user would: the real binary,
Python grpcio client and server, nghttp, h2load and curl, backends of ours;
h1<->h2 translation with trailers; everything on 127.0.0.1."""
import json
import socket
import subprocess
import threading
import time

import grpc
import pytest

import grpc_backend
import h2_frames as h2
from conftest import backend, cluster, forward_to, free_port, listener, tcp_server

CURL = ["curl", "-sS", "--max-time", "20"]


def route_config(port, clusters, timeout="30s", listener_extra=None):
    return {
        "listeners": [listener("front", port, route_table="front", **(listener_extra or {}))],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": forward_to((clusters[0]["name"], 1)),
             "timeout": timeout}]}]}],
        "clusters": clusters,
    }


@pytest.fixture
def grpc_server():
    port = free_port()
    server, state = grpc_backend.start(port)
    yield port, state
    server.stop(0)


def grpc_proxy(start_proxy, upstream_port, **kwargs):
    port = free_port()
    proxy = start_proxy(route_config(
        port, [cluster("grpc", upstream_port, protocol="PROTOCOL_HTTP2")], **kwargs))
    return proxy, grpc_backend.Client(f"127.0.0.1:{port}"), port


def test_grpc_four_kinds_with_metadata_and_status(start_proxy, grpc_server):
    proxy, client, _ = grpc_proxy(start_proxy, grpc_server[0])
    reply, call = client.unary().with_call(b"ping", metadata=[("x-tenant", "blue")])
    assert reply == b"ping"
    initial = dict(call.initial_metadata())
    assert initial["echo-x-tenant"] == "blue"
    assert initial["echo-x-forwarded-for"] == "127.0.0.1"
    assert len(initial["echo-x-request-id"]) == 36
    assert dict(call.trailing_metadata())["x-served-by"] == "grpc-backend"
    assert client.collect()(iter([b"a" * 10] * 7)) == b"70"
    assert [len(m) for m in client.spray()(b"5,3000")] == [3000] * 5
    assert list(client.chat()(iter([b"1", b"22", b"333"]))) == [b"1", b"22", b"333"]
    with pytest.raises(grpc.RpcError) as failed:
        client.unary()(b"x", metadata=[("x-fail", "NOT_FOUND")])
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert failed.value.details() == "failed on request"
    client.close()
    assert proxy.settled_metric("mesh_grpc_responses_total", 4, listener="front", grpc_status="OK") == 4
    assert proxy.metric("mesh_grpc_responses_total", listener="front", grpc_status="NOT_FOUND") == 1
    assert proxy.metric("mesh_requests_by_protocol_total", listener="front", protocol="http2") == 5
    # Five calls multiplexed on one upstream connection.
    assert proxy.metric("mesh_upstream_connections_total", cluster="grpc", kind="new") == 1


def test_grpc_route_timeout_is_deadline_exceeded(start_proxy, grpc_server):
    proxy, client, _ = grpc_proxy(start_proxy, grpc_server[0], timeout="0.3s")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        client.unary()(b"x", metadata=[("x-sleep", "2")], timeout=10)
    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert failed.value.details() == "request timeout"
    assert time.monotonic() - started < 1.5
    client.close()
    assert proxy.metric("mesh_local_replies_total", reason="request_timeout") == 1
    assert proxy.settled_metric("mesh_grpc_responses_total", 1, listener="front",
                                grpc_status="DEADLINE_EXCEEDED") == 1


def test_grpc_timeout_header_caps_the_route_timeout(start_proxy):
    """A raw client that sends grpc-timeout and never cancels, to an
    upstream that never answers: the proxy answers when the call's deadline
    passes, not the route's 30 s."""
    silent, close = tcp_server(lambda conn: time.sleep(3))
    port = free_port()
    start_proxy(route_config(port, [cluster("silent", silent)], timeout="30s"))
    s = h2.connect(port)
    block = h2.request_block("/weft.test.Echo/Unary", "POST", (
        ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "300m")))
    message = b"\x00\x00\x00\x00\x01x"  # uncompressed, length 1
    started = time.monotonic()
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, block) + h2.frame(h2.DATA, h2.END_STREAM, 1, message))
    reply = h2.read_frames(s, seconds=5, until=lambda r: any(
        kind == h2.HEADERS and flags & h2.END_STREAM for kind, flags, _, _ in r.frames))
    elapsed = time.monotonic() - started
    s.close()
    close()
    blocks = reply.headers_on(1)
    assert blocks, reply.frames
    assert blocks[-1]["grpc-status"] == "4"  # DEADLINE_EXCEEDED
    assert blocks[-1]["grpc-message"] == "request timeout"
    assert 0.25 < elapsed < 1.5, elapsed


def test_grpc_unavailable_when_the_upstream_is_down(start_proxy):
    proxy, client, _ = grpc_proxy(start_proxy, free_port())
    with pytest.raises(grpc.RpcError) as failed:
        client.unary()(b"x", timeout=10)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert failed.value.details() == "upstream connect failure"
    client.close()
    assert proxy.settled_metric("mesh_grpc_responses_total", 1, listener="front",
                                grpc_status="UNAVAILABLE") == 1


def test_grpc_cancellation_reaches_the_server(start_proxy, grpc_server):
    _, client, _ = grpc_proxy(start_proxy, grpc_server[0])
    stream = client.hang()(b"x")
    assert next(stream) == b"started"
    stream.cancel()
    assert grpc_server[1].cancelled.wait(5), "the server never saw the cancellation"
    client.close()


def test_grpc_100_mib_streams_both_ways_with_flat_memory(start_proxy, grpc_server):
    proxy, client, _ = grpc_proxy(start_proxy, grpc_server[0])
    idle = proxy.rss_kib()
    mib = 1024 * 1024
    assert sum(len(m) for m in client.spray()(b"100,1048576", timeout=60)) == 100 * mib
    assert client.collect()(iter([b"y" * mib] * 100), timeout=60) == str(100 * mib).encode()
    client.close()
    grown = proxy.rss_kib() - idle
    assert grown < 32 * 1024, f"RSS grew by {grown} KiB moving 200 MiB"


def test_h2c_prior_knowledge_to_an_http1_backend(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(route_config(port, [cluster("app", backend_port)]))
    verbose = subprocess.run(["nghttp", "-v", f"http://127.0.0.1:{port}/echo"],
                             capture_output=True, text=True, timeout=20)
    assert verbose.returncode == 0, verbose.stderr
    assert ":status: 200" in verbose.stdout
    echo = json.loads(verbose.stdout[verbose.stdout.index("{"):verbose.stdout.rindex("}") + 1])
    assert echo["headers"]["host"] == f"127.0.0.1:{port}"
    assert echo["headers"]["x-forwarded-proto"] == "http"
    load = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", f"http://127.0.0.1:{port}/"],
                          capture_output=True, text=True, timeout=60)
    assert "2000 succeeded, 0 failed" in load.stdout, load.stdout
    assert "status codes: 2000 2xx" in load.stdout
    assert proxy.settled_metric("mesh_requests_by_protocol_total", 2001, listener="front",
                                protocol="http2") == 2001


def test_hundreds_of_concurrent_streams_spread_over_upstream_connections(start_proxy, tmp_path):
    """One worker, 400 streams in flight to an upstream that allows 100 per
    connection: the pool opens more connections, every request succeeds."""
    (tmp_path / "index.html").write_text("ok\n")
    upstream = free_port()
    nghttpd = subprocess.Popen(["nghttpd", "--no-tls", "-d", str(tmp_path), "--max-concurrent-streams=100",
                                str(upstream)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = free_port()
        proxy = start_proxy(route_config(port, [cluster("h2", upstream, protocol="PROTOCOL_HTTP2")]))
        load = subprocess.run(["h2load", "-n", "8000", "-c", "20", "-m", "20", f"http://127.0.0.1:{port}/"],
                              capture_output=True, text=True, timeout=60)
        assert "8000 succeeded, 0 failed" in load.stdout, load.stdout
        opened = proxy.metric("mesh_upstream_connections_total", cluster="h2", kind="new")
        assert 4 <= opened <= 8, opened
    finally:
        nghttpd.terminate()
        nghttpd.wait(10)


def test_one_gib_each_way_over_http2_with_flat_memory(start_proxy, backend_port, tmp_path):
    port = free_port()
    proxy = start_proxy(route_config(port, [cluster("app", backend_port)]))
    gib = 1 << 30
    baseline = proxy.rss_kib()
    download = subprocess.run([*CURL, "--http2-prior-knowledge", "--max-time", "120", "-o", "/dev/null",
                               "-w", "%{size_download} %{http_version}", f"http://127.0.0.1:{port}/bytes?n={gib}"],
                              capture_output=True, text=True, timeout=150)
    assert download.stdout == f"{gib} 2", download.stderr
    sparse = tmp_path / "gib"
    with open(sparse, "wb") as f:
        f.truncate(gib)  # a GiB of zeros without a GiB of disk
    upload = subprocess.run([*CURL, "--http2-prior-knowledge", "--max-time", "120", "-T", str(sparse),
                             f"http://127.0.0.1:{port}/upload"], capture_output=True, text=True, timeout=150)
    assert json.loads(upload.stdout)["received"] == gib, upload.stderr
    growth = proxy.rss_kib() - baseline
    assert growth < 16 * 1024, f"RSS grew by {growth} KiB while streaming 2 GiB"


def test_a_reader_that_stops_throttles_the_upstream(start_proxy, backend_port):
    """A client that never opens its window: the proxy holds about one
    stream window, not the 256 MiB the backend would send."""
    port = free_port()
    proxy = start_proxy(route_config(port, [cluster("app", backend_port)]))
    baseline = proxy.rss_kib()
    s = h2.connect(port)
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, h2.request_block(f"/bytes?n={256 << 20}")))
    reply = h2.read_frames(s, seconds=3)
    received = sum(len(p) for kind, _, _, p in reply.frames if kind == h2.DATA)
    growth = proxy.rss_kib() - baseline
    s.close()
    assert received <= 65_535, received  # the default window the client never reopened
    assert growth < 8 * 1024, f"RSS grew by {growth} KiB behind a stalled reader"


def serve_h2(conn, on_request):
    """Serves one connection as an HTTP/2 server (python3-h2): each request
    head goes to on_request(h2c, event), which queues the answer and returns
    False to end the connection. Ends when the peer closes or goes quiet for
    the socket's timeout (the proxy keeps pooled connections open)."""
    import h2.config
    import h2.connection
    import h2.events

    h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    h2c.initiate_connection()
    conn.sendall(h2c.data_to_send())
    try:
        while data := conn.recv(65536):
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.RequestReceived) and on_request(h2c, event) is False:
                    conn.sendall(h2c.data_to_send())
                    return
            conn.sendall(h2c.data_to_send())
    except OSError:
        pass


def goaway_then_answer_server():
    """An HTTP/2 upstream whose first connection answers its first request
    with GOAWAY(last_stream_id=0): "not processed". The next connection
    answers 200 "retried". Returns (port, connections, close)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(10)
    connections = []

    def refuse(h2c, event):
        h2c.close_connection(last_stream_id=0)
        return False

    def answer(h2c, event):
        h2c.send_headers(event.stream_id, [(":status", "200"), ("content-length", "7")])
        h2c.send_data(event.stream_id, b"retried", end_stream=True)

    def serve_one(conn, on_request):
        with conn:
            conn.settimeout(10)
            serve_h2(conn, on_request)

    def serve():
        for on_request in (refuse, answer):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=serve_one, args=(conn, on_request), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close():
        server.close()
        thread.join(5)

    return server.getsockname()[1], connections, close


def resetting_server():
    """An HTTP/2 upstream that starts a response, sends some DATA, then
    resets the stream with CANCEL. Returns (port, close)."""
    import h2.errors

    def answer_then_reset(h2c, event):
        h2c.send_headers(event.stream_id, [(":status", "200")])
        h2c.send_data(event.stream_id, b"partial")
        h2c.reset_stream(event.stream_id, h2.errors.ErrorCodes.CANCEL)

    return tcp_server(lambda conn: (conn.settimeout(1), serve_h2(conn, answer_then_reset)))


def test_an_upstream_reset_reaches_the_client(start_proxy):
    upstream, close = resetting_server()
    port = free_port()
    start_proxy(route_config(port, [cluster("h2", upstream, protocol="PROTOCOL_HTTP2")]))
    s = h2.connect(port)
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, h2.request_block("/stream")))
    reply = h2.read_frames(s, seconds=5, until=lambda r: 1 in r.resets())
    s.close()
    close()
    assert reply.headers_on(1) and reply.headers_on(1)[0][":status"] == "200"
    assert reply.resets().get(1) == h2.CANCEL, reply.frames


def test_requests_the_upstream_did_not_process_are_retried(start_proxy):
    upstream, connections, close = goaway_then_answer_server()
    port = free_port()
    proxy = start_proxy(route_config(port, [cluster("h2", upstream, protocol="PROTOCOL_HTTP2")]))
    result = subprocess.run([*CURL, "--http2-prior-knowledge", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=30)
    close()
    assert result.stdout == "retried", result.stderr
    assert len(connections) == 2
    assert proxy.metric("mesh_upstream_connections_total", cluster="h2", kind="new") == 2


def test_h2_over_tls_by_alpn(start_proxy, backend_port, pki):  # noqa: F811
    port = free_port()
    start_proxy(route_config(port, [cluster("app", backend_port)], listener_extra={"tls": {
        "cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key")}}))
    result = subprocess.run([*CURL, "--http2", "-w", "\n%{http_version}", "--cacert", str(pki / "ca.pem"),
                             f"https://localhost:{port}/echo"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    body, version = result.stdout.rsplit("\n", 1)
    assert version == "2"
    assert json.loads(body)["headers"]["x-forwarded-proto"] == "https"
    http1 = subprocess.run([*CURL, "--http1.1", "-w", "%{http_version}", "-o", "/dev/null", "--cacert",
                            str(pki / "ca.pem"), f"https://localhost:{port}/echo"],
                           capture_output=True, text=True, timeout=20)
    assert http1.stdout == "1.1"
    load = subprocess.run(["h2load", "-n", "500", "-c", "2", "-m", "10", f"https://127.0.0.1:{port}/"],
                          capture_output=True, text=True, timeout=60)
    assert "500 succeeded, 0 failed" in load.stdout, load.stdout
    assert "Application protocol: h2" in load.stdout


def test_http1_client_to_grpc_upstream_gets_trailers_as_chunked_trailers(start_proxy, grpc_server):
    _, client, port = grpc_proxy(start_proxy, grpc_server[0])
    client.close()
    message = b"\x00\x00\x00\x00\x05hello"
    request = (b"POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: echo\r\nContent-Type: application/grpc\r\n"
               b"TE: trailers\r\nContent-Length: %d\r\n\r\n" % len(message)) + message
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        response = b""
        while not response.endswith(b"\r\n\r\n") or b"\r\n0\r\n" not in response:
            chunk = s.recv(65536)
            if not chunk:
                break
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"hello" in body
    trailers = body[body.index(b"\r\n0\r\n") + 5:]
    assert b"grpc-status: 0" in trailers
    assert b"x-served-by: grpc-backend" in trailers


def test_h2_client_to_http1_upstream_carries_trailers_both_ways(start_proxy):
    seen = {}

    def backend_once(conn):
        data = b""
        while b"\r\n0\r\n" not in data or not data.endswith(b"\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        seen["request"] = data
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-digest\r\n\r\n"
                     b"5\r\nworld\r\n0\r\nx-digest: abc\r\n\r\n")

    upstream, close = tcp_server(backend_once)
    port = free_port()
    start_proxy(route_config(port, [cluster("app", upstream)]))
    s = h2.connect(port)
    block = h2.request_block("/upload", "POST", (("te", "trailers"),))
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, block) + h2.frame(h2.DATA, 0, 1, b"hello")
              + h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, h2.literal("x-checksum", "42")))
    reply = h2.read_frames(s, seconds=10, until=lambda r: any(
        kind == h2.HEADERS and flags & h2.END_STREAM for kind, flags, _, _ in r.frames))
    s.close()
    close()
    request = seen["request"]
    assert request.startswith(b"POST /upload HTTP/1.1\r\n")
    assert b"transfer-encoding: chunked" in request.lower()
    assert request.endswith(b"5\r\nhello\r\n0\r\nx-checksum: 42\r\n\r\n"), request
    body = b"".join(p for kind, _, _, p in reply.frames if kind == h2.DATA)
    assert body == b"world"
    blocks = reply.headers_on(1)
    assert blocks[0][":status"] == "200"
    assert blocks[-1] == {"x-digest": "abc"}


class WellBehaved:
    """curl over HTTP/2 in a loop beside an attack: every request must pass."""

    def __init__(self, port):
        self.port, self.failures, self.done = port, [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set() and self.done < 200:
            result = subprocess.run([*CURL, "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                     f"http://127.0.0.1:{self.port}/"], capture_output=True, text=True, timeout=30)
            if result.stdout != "200":
                self.failures.append(result.stdout + result.stderr)
            self.done += 1

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert self.done > 0 and not self.failures, self.failures


def abuse_proxy(start_proxy, backend_port, **http2_limits):
    port = free_port()
    extra = {"http2": http2_limits} if http2_limits else None
    proxy = start_proxy(route_config(port, [cluster("app", backend_port)], listener_extra=extra))
    return proxy, port


def flood(kind):
    """Bytes of a flood of `kind` after the preface."""
    if kind == "rapid_reset":
        return b"".join(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, i, h2.request_block())
                        + h2.frame(h2.RST_STREAM, 0, i, (h2.CANCEL).to_bytes(4, "big"))
                        for i in range(1, 2001, 2))
    if kind == "continuation_flood":
        return h2.frame(h2.HEADERS, 0, 1, h2.request_block()) + b"".join(
            h2.frame(h2.CONTINUATION, 0, 1, h2.literal("x-a", "1")) for _ in range(200))
    if kind == "empty_frame_flood":
        return h2.frame(h2.HEADERS, h2.END_HEADERS, 1, h2.request_block(method="POST")) + b"".join(
            h2.frame(h2.DATA, 0, 1) for _ in range(200))
    if kind == "control_frame_flood":  # PING, WINDOW_UPDATE and PRIORITY alike
        return b"".join(h2.frame(h2.PING, 0, 0, b"12345678") + h2.frame(h2.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x01")
                        + h2.frame(h2.PRIORITY, 0, 3, b"\x00\x00\x00\x00\x10") for _ in range(2000))
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["rapid_reset", "continuation_flood", "empty_frame_flood",
                                  "control_frame_flood"])
def test_floods_end_the_connection_and_spare_others(start_proxy, backend_port, kind):
    proxy, port = abuse_proxy(start_proxy, backend_port)
    bystander = WellBehaved(port)
    s = h2.connect(port)
    try:
        s.sendall(flood(kind))
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed mid-flood: what we want
    reply = h2.read_frames(s, seconds=5)
    s.close()
    bystander.finish()
    assert reply.goaway_code() == h2.ENHANCE_YOUR_CALM
    assert reply.closed
    assert proxy.metric("mesh_http2_connection_errors_total", reason=kind) == 1


def test_unread_control_frame_acks_are_bounded(start_proxy, backend_port):
    """PINGs answered but never read: the proxy stops queueing acks."""
    proxy, port = abuse_proxy(start_proxy, backend_port, max_queued_control_frames=100,
                              control_frame_burst=10_000_000, control_frames_per_second=10_000_000)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    pings = h2.frame(h2.PING, 0, 0, b"12345678") * 20_000
    try:
        s.sendall(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0))
        for _ in range(50):
            s.sendall(pings)
            if proxy.metric("mesh_http2_connection_errors_total", reason="control_queue_full"):
                break
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert proxy.settled_metric("mesh_http2_connection_errors_total", 1, reason="control_queue_full") == 1


def test_hpack_bomb_and_oversized_headers_get_431(start_proxy, backend_port):
    proxy, port = abuse_proxy(start_proxy, backend_port)
    s = h2.connect(port)
    # One 4 KiB field enters the dynamic table, then 40 one-byte references
    # to it decode to 160 KiB: over the 64 KiB header list limit.
    block = h2.request_block() + h2.literal("x-bomb", "b" * 4000, indexed=True) + h2.indexed(62) * 40
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, block))
    reply = h2.read_frames(s, seconds=5, until=lambda r: r.headers_on(1))
    s.close()
    assert reply.headers_on(1), reply.frames
    assert reply.headers_on(1)[0][":status"] == "431"
    assert proxy.metric("mesh_http2_stream_errors_total", reason="header_list_too_large") == 1


def test_invalid_header_is_a_stream_error_not_a_request(start_proxy, backend_port):
    proxy, port = abuse_proxy(start_proxy, backend_port)
    s = h2.connect(port)
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1,
                       h2.request_block(extra=(("X-Upper", "1"),)))
              + h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 3,
                         h2.request_block(extra=(("x-a", "1\r\nx-b: 2"),)))
              + h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 5,
                         h2.request_block(extra=(("connection", "close"),)))
              + h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 7, h2.request_block("/ok")))
    reply = h2.read_frames(s, seconds=5, until=lambda r: r.headers_on(7))
    s.close()
    assert reply.resets() == {1: 1, 3: 1, 5: 1}  # PROTOCOL_ERROR
    assert reply.headers_on(7), "the connection still serves good requests"
    assert proxy.metric("mesh_http2_stream_errors_total", reason="invalid_header") == 3
    assert proxy.settled_metric("mesh_requests_by_protocol_total", 1, listener="front", protocol="http2") == 1


def test_streams_beyond_the_limit_are_refused(start_proxy, backend_port):
    proxy, port = abuse_proxy(start_proxy, backend_port, max_concurrent_streams=5)
    s = h2.connect(port)
    # Seven requests whose bodies never end: five are served, two refused.
    s.sendall(b"".join(h2.frame(h2.HEADERS, h2.END_HEADERS, i, h2.request_block(method="POST"))
                       for i in range(1, 15, 2)))
    reply = h2.read_frames(s, seconds=3, until=lambda r: len(r.resets()) >= 2)
    s.close()
    assert sorted(reply.resets()) == [11, 13]
    assert set(reply.resets().values()) == {7}  # REFUSED_STREAM
    assert proxy.metric("mesh_http2_stream_errors_total", reason="max_concurrent_streams") == 2


def test_idle_connection_closes_despite_pings(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(route_config(port, [cluster("app", backend_port)],
                                     listener_extra={"idle_timeout": "1s"}))
    s = h2.connect(port)
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 6:
        try:
            s.sendall(h2.frame(h2.PING, 0, 0, b"keepme!!"))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        reply = h2.read_frames(s, seconds=0.3)
        if reply.closed:
            closed = True
            break
    s.close()
    assert closed, "PINGs kept an idle connection open"
    assert time.monotonic() - started < 4
    assert proxy.metric("mesh_http2_connection_errors_total", reason="idle_timeout") == 1


@pytest.mark.parametrize("preface", [
    h2.PREFACE.replace(b"SM", b"XX") + h2.frame(h2.SETTINGS, 0, 0),  # a broken magic
    b"PRI * HTTP/2.0\r\nHost: a\r\n\r\n",                             # its request line only
    h2.PREFACE + h2.frame(h2.PING, 0, 0, b"12345678"),                # no SETTINGS first
])
def test_an_invalid_preface_gets_goaway_protocol_error_before_the_close(start_proxy, backend_port,
                                                                         preface):
    """RFC 9113 §3.4: an invalid connection preface is a connection error of
    type PROTOCOL_ERROR; the client is told so in a GOAWAY, then closed. A
    well-behaved client on the same listener is unaffected."""
    proxy, port = abuse_proxy(start_proxy, backend_port)
    bystander = WellBehaved(port)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(preface)
    reply = h2.read_frames(s, seconds=5)
    s.close()
    bystander.finish()
    assert reply.goaway_code() == 1, reply.frames  # PROTOCOL_ERROR
    assert reply.closed
    assert [kind for kind, *_ in reply.frames][0] == h2.SETTINGS, "our preface comes first"
    errors = sum(proxy.metric("mesh_http2_connection_errors_total", reason=reason)
                 for reason in ("bad_preface", "protocol_error"))
    assert errors == 1


def test_headers_on_a_lower_stream_id_is_a_connection_error(start_proxy, backend_port):
    """RFC 9113 §5.1.1: after stream 7, HEADERS opening stream 5 is a
    connection error (GOAWAY PROTOCOL_ERROR); trailers on a stream still
    open, whatever its identifier, are not."""
    proxy, port = abuse_proxy(start_proxy, backend_port)
    s = h2.connect(port)
    reply = h2.Reply()

    def answered(stream):
        return lambda r: any(kind == h2.HEADERS and sid == stream for kind, _, sid, _ in r.frames)

    # Stream 1: a POST whose body is still coming; stream 3: a GET, answered.
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, h2.request_block(path="/echo", method="POST"))
              + h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 3, h2.request_block()))
    h2.read_frames(s, seconds=5, until=answered(3), reply=reply)
    # Trailers end stream 1: still open, so allowed, and answered.
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, h2.literal("x-trailer", "1")))
    h2.read_frames(s, seconds=5, until=answered(1), reply=reply)
    assert reply.goaway_code() is None, reply.frames
    assert reply.headers_on(1)[0][":status"] == "200"
    # Stream 7 answered, then HEADERS opening stream 5, never used but lower
    # (nghttp2 alone would ignore it).
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 7, h2.request_block()))
    h2.read_frames(s, seconds=5, until=answered(7), reply=reply)
    s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 5, h2.request_block()))
    h2.read_frames(s, seconds=5, reply=reply)
    s.close()
    assert reply.goaway_code() == 1, reply.frames  # PROTOCOL_ERROR
    assert reply.closed
    assert proxy.metric("mesh_http2_connection_errors_total", reason="protocol_error") == 1


def test_an_http10_request_without_host_gets_the_cluster_as_its_authority(start_proxy):
    """HTTP/1.0 allows a request without Host; translated for an HTTP/2
    cluster it needs an :authority, and gets the cluster's name, as it
    gets Host over HTTP/1.1."""
    import h2.config
    import h2.connection
    import h2.events
    seen = {}

    def h2_backend_once(conn):
        server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        server.initiate_connection()
        conn.sendall(server.data_to_send())
        conn.settimeout(10)
        while "headers" not in seen:
            data = conn.recv(65536)
            if not data:
                return
            for event in server.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    seen["headers"] = dict(event.headers)
                    server.send_headers(event.stream_id, [(":status", "200")], end_stream=True)
            conn.sendall(server.data_to_send())

    upstream, close = tcp_server(h2_backend_once)
    port = free_port()
    start_proxy(route_config(port, [cluster("h2", upstream, protocol="PROTOCOL_HTTP2")]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /a HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert seen["headers"][b":authority"] == b"h2", seen
