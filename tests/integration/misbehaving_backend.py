"""A backend that misbehaves on request, over HTTP/1.1 or HTTP/2 (h2c with
prior knowledge, sniffed from the preface) on the same port:

  .../hang?ms=N             waits N ms before the response head, then 200
  .../drip?chunks=N&ms=M    the head at once, then N body pieces, M ms apart
  .../status/N              status N
  .../refuse                HTTP/2: the stream is reset with REFUSED_STREAM
  .../close-soon            HTTP/1.1: 200 as keep-alive, then the connection
                            is closed 100 ms later without saying so (a stale
                            pooled connection for the next request)
  .../flaky?key=K&fail=N[&status=S][&retry_after=T][&how=reset][&grpc=G]
                            the first N requests with key K fail (status S,
                            default 503, with retry-after T; or how=reset:
                            the connection or stream is reset before a head;
                            or grpc=G: a gRPC answer of 200 with grpc-status G
                            in its head and no body, as trailers-only),
                            later ones get 200; requests(K) counts them
                            and bodies(K) lists the SHA-256 of each
                            request body
  anything else             200 "ok"
(the last path segments decide, so routes can be chosen by prefix)

A request with a body is answered once the body is in (as most
applications do). Each HTTP/2 stream is timed on its own (a scheduler per connection), so a
hanging stream does not hold up the others, and a stream the proxy resets
is dropped. Everything binds to 127.0.0.1."""
import hashlib
import heapq
import itertools
import select
import socket
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
RESET = "reset"  # a plan's status: no response, the stream or connection is reset

_counts = {}
_bodies = {}
_counts_lock = threading.Lock()


def requests(key):
    """How many requests with this flaky key arrived."""
    with _counts_lock:
        return _counts.get(key, 0)


def bodies(key):
    """The SHA-256 (hex) of each request body with this flaky key, in order."""
    with _counts_lock:
        return list(_bodies.get(key, []))


def flaky(query, body):
    with _counts_lock:
        _counts[query["key"]] = seen = _counts.get(query["key"], 0) + 1
        _bodies.setdefault(query["key"], []).append(hashlib.sha256(body).hexdigest())
    if seen > int(query.get("fail", "1")):
        return 0, 200, [(0, b"ok\n")], []
    if query.get("how") == "reset":
        return 0, RESET, [], []
    if "grpc" in query:
        return 0, 200, [], [("content-type", "application/grpc"), ("grpc-status", query["grpc"])]
    headers = [("retry-after", query["retry_after"])] if "retry_after" in query else []
    return 0, int(query.get("status", "503")), [(0, b"flaky\n")], headers


def plan(path, body=b""):
    """The response for a path: (seconds before the head, status, body
    pieces as (seconds after the previous one, bytes), extra header fields)."""
    url = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(url.query))
    name = url.path.rsplit("/", 1)[-1]
    if name == "hang":
        return int(query.get("ms", "1000")) / 1000, 200, [(0, b"ok\n")], []
    if name == "drip":
        gap = int(query.get("ms", "100")) / 1000
        return 0, 200, [(gap, b"x\n")] * int(query.get("chunks", "10")), []
    if name == "flaky":
        return flaky(query, body)
    if name.isdigit() and url.path.endswith("/status/" + name):
        return 0, int(name), [(0, b"status\n")], []
    return 0, 200, [(0, b"ok\n")], []


def read_chunked(conn, buffer):
    """(body, bytes after it) of a chunked body; (None, b"") if the peer left."""
    body = b""
    while True:
        while b"\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                return None, b""
            buffer += data
        line, buffer = buffer.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        if size == 0:
            while b"\r\n\r\n" not in b"\r\n" + buffer:  # trailers end with a blank line
                data = conn.recv(65536)
                if not data:
                    return None, b""
                buffer += data
            _, buffer = (b"\r\n" + buffer).split(b"\r\n\r\n", 1)
            return body, buffer
        while len(buffer) < size + 2:
            data = conn.recv(65536)
            if not data:
                return None, b""
            buffer += data
        body, buffer = body + buffer[:size], buffer[size + 2:]


def serve_http1(conn, first):
    buffer = first
    while True:
        while b"\r\n\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                return
            buffer += data
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body, buffer = read_chunked(conn, buffer)
            if body is None:
                return
        else:
            length = int(fields.get("content-length", "0"))
            while len(buffer) < length:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            body, buffer = buffer[:length], buffer[length:]
        path = lines[0].split(" ")[1]
        delay, status, pieces, headers = plan(path, body)
        time.sleep(delay)
        if status == RESET:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        extra = "".join(f"{n}: {v}\r\n" for n, v in headers)
        conn.sendall(f"HTTP/1.1 {status} X\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode())
        for gap, piece in pieces:
            time.sleep(gap)
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")
        if urllib.parse.urlsplit(path).path.endswith("/close-soon"):
            time.sleep(0.1)
            return


def serve_http2(conn, first):
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    actions = []  # (when, sequence, stream, kind, payload), soonest first
    sequence = itertools.count()
    gone = set()
    uploading = {}  # stream: (path, body so far) of a request whose body is coming

    def schedule(at, stream, kind, payload):
        heapq.heappush(actions, (at, next(sequence), stream, kind, payload))

    def answer(stream, path, body):
        delay, status, pieces, headers = plan(path, body)
        if status == RESET:
            h2conn.reset_stream(stream, error_code=2)  # INTERNAL_ERROR
            gone.add(stream)
            return
        at = time.monotonic() + delay
        schedule(at, stream, "head", (status, headers))
        for gap, piece in pieces:
            at += gap
            schedule(at, stream, "data", piece)
        schedule(at, stream, "end", None)

    def received(data):
        for event in h2conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers)[b":path"].decode()
                if urllib.parse.urlsplit(path).path.endswith("/refuse"):
                    h2conn.reset_stream(event.stream_id, error_code=7)  # REFUSED_STREAM
                    gone.add(event.stream_id)
                elif event.stream_ended is None:
                    uploading[event.stream_id] = (path, b"")
                else:
                    answer(event.stream_id, path, b"")
            elif isinstance(event, h2.events.StreamReset):
                gone.add(event.stream_id)
                uploading.pop(event.stream_id, None)
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id not in gone:
                    h2conn.acknowledge_received_data(event.flow_controlled_length,
                                                     event.stream_id)
                if event.stream_id in uploading:
                    path, body = uploading[event.stream_id]
                    uploading[event.stream_id] = (path, body + event.data)
            elif isinstance(event, h2.events.StreamEnded):
                if event.stream_id in uploading:
                    answer(event.stream_id, *uploading.pop(event.stream_id))

    received(first)
    while True:
        conn.sendall(h2conn.data_to_send())
        timeout = max(0.0, actions[0][0] - time.monotonic()) if actions else None
        readable, _, _ = select.select([conn], [], [], timeout)
        if readable:
            data = conn.recv(65536)
            if not data:
                return
            received(data)
        now = time.monotonic()
        while actions and actions[0][0] <= now:
            _, _, stream, kind, payload = heapq.heappop(actions)
            if stream in gone:
                continue
            try:
                if kind == "head":
                    status, headers = payload
                    h2conn.send_headers(stream, [(":status", str(status))] + headers)
                elif kind == "data":
                    h2conn.send_data(stream, payload)
                else:
                    h2conn.end_stream(stream)
            except h2.exceptions.StreamClosedError:
                gone.add(stream)


def handle(conn):
    with conn:
        try:
            first = conn.recv(65536)
            if first and PREFACE.startswith(first[:len(PREFACE)]):
                while len(first) < len(PREFACE):
                    more = conn.recv(65536)
                    if not more:
                        return
                    first += more
                serve_http2(conn, first)
            elif first:
                serve_http1(conn, first)
        except (OSError, h2.exceptions.ProtocolError):
            pass


def start():
    """Starts the backend on a free loopback port; returns (port, stop)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    stopped = threading.Event()

    def accept():
        while not stopped.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def stop():
        stopped.set()
        server.close()

    return server.getsockname()[1], stop
