#!/usr/bin/python3
"""Weft's demo app, also the backend of the integration tests: a small
HTTP/1.1 server on the Python standard library.

  GET  /            -> "<name>\n" (the demo app answers with its version)
  (--delay-ms N: every answer comes N ms late; --fail-status N: every GET
  is answered with status N; slow and broken replicas for demos)
  GET  /echo        -> JSON: method, path, headers as received, peer address
  GET  /call?to=URL -> calls URL (through http_proxy: its sidecar) passing on
                       the trace context it received, and answers as it did
  GET  /status/N    -> status N
  GET  /slow?ms=N   -> answers after N ms
  GET  /bytes?n=N   -> N bytes, chunked, streamed in 64 KiB pieces
  POST /upload      -> reads the body (any framing), answers its length
  POST /status/N    -> reads the body, answers status N with its length
  GET  /garbage     -> an invalid HTTP response
  GET  /ws          -> 101 Switching Protocols, then echoes bytes
  GET  /close       -> HTTP/1.0-style body delimited by close
"""
import argparse
import http.server
import json
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


# What an instrumented application passes on to the calls a request makes,
# so that the mesh's spans of both join one trace.
PROPAGATED_FIELDS = ("traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
                     "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "x-request-id")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = "backend"
    delay = 0.0  # seconds added to every answer (--delay-ms)
    fail_status = 0  # every GET answered with it (--fail-status)
    # Head and body go out in two writes; without TCP_NODELAY the second
    # waits ~40 ms for a delayed ACK on every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    # A request counts as in flight from its parsed head to its answer, so
    # a graceful stop waits for those and not for idle keep-alive reads.
    def parse_request(self):
        parsed = super().parse_request()
        if parsed:
            self.server.count_request(+1)
            self.counted = True
        return parsed

    def handle_one_request(self):
        self.counted = False
        try:
            super().handle_one_request()
        finally:
            if self.counted:
                self.server.count_request(-1)

    def _send(self, status, body, content_type="text/plain", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-backend", self.name)
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower().endswith("chunked"):
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                remaining = size
                while remaining:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
                self.rfile.readline()
                total += size
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        return length - remaining

    def do_GET(self):
        if self.delay:
            time.sleep(self.delay)
        if self.fail_status:
            return self._send(self.fail_status, "failing on purpose\n")
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/echo":
            body = {"method": self.command, "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "backend": self.name,
                    "peer": self.client_address[0]}
            return self._send(200, json.dumps(body), "application/json")
        if url.path.startswith("/status/"):
            return self._send(int(url.path.split("/")[2]), "status\n")
        if url.path == "/call":
            return self._call(query.get("to", ""))
        if url.path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            return self._send(200, "slow\n")
        if url.path == "/bytes":
            return self._stream(int(query.get("n", "0")))
        if url.path == "/garbage":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: zebra\r\n\r\n")
            self.close_connection = True
            return
        if url.path == "/ws":
            return self._websocket_echo()
        if url.path == "/close":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close\n")
            self.close_connection = True
            return
        return self._send(200, self.name + "\n")

    do_HEAD = do_GET

    def _call(self, target):
        headers = {k: v for k, v in self.headers.items() if k.lower() in PROPAGATED_FIELDS}
        try:
            with urllib.request.urlopen(urllib.request.Request(target, headers=headers),
                                        timeout=10) as response:
                return self._send(response.status, response.read(),
                                  response.headers.get("Content-Type", "text/plain"))
        except urllib.error.HTTPError as error:
            return self._send(error.code, error.read())
        except (OSError, ValueError) as error:
            return self._send(502, f"call to {target!r} failed: {error}\n")

    def do_POST(self):
        received = self._read_body()
        if self.path.startswith("/status/"):
            return self._send(int(self.path.split("/")[2]), f"received {received}\n")
        self._send(200, json.dumps({"received": received, "backend": self.name}), "application/json")

    do_PUT = do_POST

    def _stream(self, total):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"x" * (1 << 16)
        remaining = total
        while remaining:
            n = min(remaining, len(piece))
            self.wfile.write(b"%x\r\n" % n + piece[:n] + b"\r\n")
            remaining -= n
        self.wfile.write(b"0\r\n\r\n")

    def _websocket_echo(self):
        self.send_response(101)
        self.send_header("Upgrade", self.headers.get("Upgrade", "websocket"))
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        while True:
            data = self.connection.recv(65536)
            if not data:
                break
            self.connection.sendall(data)
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = 0  # requests read and not yet answered
        self.in_flight_changed = threading.Condition()

    def count_request(self, delta):
        with self.in_flight_changed:
            self.in_flight += delta
            self.in_flight_changed.notify_all()

    def wait_idle(self, timeout):
        """Waits until no request is in flight, for up to `timeout` seconds."""
        with self.in_flight_changed:
            return self.in_flight_changed.wait_for(lambda: self.in_flight == 0, timeout)


def make_server(host, port, name, cert=None, key=None, delay_ms=0, fail_status=0):
    handler = type("NamedHandler", (Handler,),
                   {"name": name, "delay": delay_ms / 1000, "fail_status": fail_status})
    server_class = Server
    if ":" in host:
        server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), handler)
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def start(port, name="backend", host="127.0.0.1", cert=None, key=None):
    """Starts a backend in a thread of this process; returns the server."""
    server = make_server(host, port, name, cert, key)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="backend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    parser.add_argument("--delay-ms", type=int, default=0, help="answer every GET this much later")
    parser.add_argument("--fail-status", type=int, default=0, help="answer every GET with this status")
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.name, args.cert, args.key, args.delay_ms,
                         args.fail_status)
    # SIGTERM stops gracefully, as a Pod's container should: no new
    # connections, requests in flight answered (up to 10 s), then exit.
    # shutdown() must run beside serve_forever(), not in its thread.
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"backend {args.name} on {args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.socket.close()
    answered = server.wait_idle(timeout=10)
    print(f"backend {args.name}: stopped" + ("" if answered else " with requests unanswered"),
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
