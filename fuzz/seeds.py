#!/usr/bin/python3
"""Writes the seed corpus of every harness into fuzz/corpus/<harness>/.

Seeds are small, valid (or nearly valid) inputs that reach deep into each
parser; libFuzzer mutates from them. They are committed, and this script
makes them again from the repository's own examples and testdata:

    /usr/bin/python3 fuzz/seeds.py build/bin/mesh-proxy

(mesh-proxy compiles the YAML examples into the binary ProxyConfig the
discovery seeds carry.)
"""
import json
import pathlib
import subprocess
import sys

import h2.config
import h2.connection
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(harness, name, data):
    path = CORPUS / harness / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def sniff():
    write("sniff", "http1", "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
    write("sniff", "http10", "POST / HTTP/1.0\r\n")
    write("sniff", "http2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    write("sniff", "bad-preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    write("sniff", "tls", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    write("sniff", "opaque", b"\x00\x01redis\r\n")
    write("sniff", "long-method", "PROPFINDEXTENDEDMETHOD / HTTP/1.1\r\n")


REQUESTS = {
    "get": "GET /a?b=c HTTP/1.1\r\nHost: svc\r\nAccept: */*\r\n\r\n",
    "post-length": "POST /up HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello",
    "chunked-trailers": "POST /up HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n"
    "\r\n5;ext=1\r\nhello\r\n0\r\nx-checksum: 1\r\n\r\n",
    "absolute-form": "GET http://svc:8080/p?q HTTP/1.1\r\nHost: svc:8080\r\n\r\n",
    "upgrade": "GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade, keep-alive\r\n"
    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "connection-named": "GET / HTTP/1.1\r\nHost: svc\r\nConnection: x-drop, close\r\n"
    "x-drop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\r\n",
    "http10": "GET / HTTP/1.0\r\nHost: svc\r\n\r\n",
    "length-and-chunked": "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n"
    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "repeated-length": "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
    "expect": "PUT /f HTTP/1.1\r\nHost: svc\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    "traceparent": "GET /call HTTP/1.1\r\nHost: reviews\r\n"
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    "tracestate: congo=t61rcWkgMzE\r\n\r\n",
    "b3": "GET / HTTP/1.1\r\nHost: reviews\r\nx-b3-traceid: a3ce929d0e0e4736\r\n"
    "x-b3-spanid: 00f067aa0ba902b7\r\nx-b3-sampled: 1\r\n"
    "b3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d-00f067aa0ba902b7\r\n\r\n",
}

RESPONSES = {
    "length": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: app\r\n\r\nok",
    "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: 1\r\n\r\n",
    "close-delimited": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    "no-content": "HTTP/1.1 204 No Content\r\n\r\n",
    "not-modified": "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "interim": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    "gzip-chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
    "keep-alive-fields": "HTTP/1.0 200 OK\r\nConnection: keep-alive, x-hop\r\nx-hop: 1\r\n"
    "Content-Length: 1\r\n\r\n!",
}


def http1():
    for name, text in REQUESTS.items():
        write("http1_request", name, text)
    for name, text in RESPONSES.items():
        # Flags byte: bit 0 a HEAD request, bit 1 an HTTP/1.0 client.
        write("http1_response", name, b"\x00" + text.encode())
        write("http1_response", name + "-http10", b"\x02" + text.encode())
    write("http1_response", "head", b"\x01" + RESPONSES["length"].encode())


def h2_client_bytes():
    """What an HTTP/2 client sends after the preface: two requests, a body, trailers, a reset."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "svc"),
                          (":path", "/")], end_stream=True)
    conn.send_headers(3, [(":method", "POST"), (":scheme", "http"), (":authority", "svc"),
                          (":path", "/up"), ("content-type", "application/grpc"), ("te", "trailers")])
    conn.send_data(3, b"\x00\x00\x00\x00\x02hi")
    conn.send_headers(3, [("x-trailer", "1")], end_stream=True)
    conn.send_headers(5, [(":method", "PUT"), (":scheme", "http"), (":authority", "svc"),
                          (":path", "/r")])
    conn.reset_stream(5)
    conn.ping(b"12345678")
    conn.increment_flow_control_window(65535)
    conn.close_connection()
    return conn.data_to_send()


def http2():
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    client = h2_client_bytes()
    if client.startswith(preface):
        client = client[len(preface):]
    # Byte 0: role (0 server, 1 client); byte 1: bytes per receive (0: all).
    write("http2_session", "server-requests", b"\x00\x00" + client)
    write("http2_session", "server-requests-split", b"\x00\x07" + client)

    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    peer.initiate_connection()
    for stream in (1, 3):
        peer.send_headers(stream, [(":method", "GET"), (":scheme", "http"), (":authority", "svc"),
                                   (":path", "/")], end_stream=stream == 1)
    server.initiate_connection()
    server.receive_data(peer.data_to_send())
    server.send_headers(1, [(":status", "200"), ("content-length", "2")])
    server.send_data(1, b"ok", end_stream=True)
    server.send_headers(3, [(":status", "200"), ("content-type", "application/grpc")])
    server.send_data(3, b"\x00\x00\x00\x00\x00")
    server.send_headers(3, [("grpc-status", "0")], end_stream=True)
    server.ping(b"abcdefgh")
    server.close_connection(last_stream_id=3)
    answer = server.data_to_send()
    write("http2_session", "client-responses", b"\x01\x00" + answer)
    write("http2_session", "client-responses-split", b"\x01\x05" + answer)


def protobuf_field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    out = bytearray()
    value = (number << 3) | 2
    for v in (value, len(payload)):
        while True:
            byte = v & 0x7F
            v >>= 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out) + payload


def configs(mesh_proxy):
    static = ROOT / "deploy/examples/static/proxy.yaml"
    write("proxy_config_yaml", "static", static.read_bytes())
    write("proxy_config_yaml", "minimal", "version: v1\nadmin:\n  address: {host: 127.0.0.1, port: 15000}\n")
    compiled = subprocess.run([mesh_proxy, "--compile-config", str(static)], check=True,
                              capture_output=True).stdout
    whole = protobuf_field(2, b"n1") + protobuf_field(3, compiled)
    empty_delta = protobuf_field(2, b"n2") + protobuf_field(4, b"")
    # Byte 0 bit 0: the harness announces the right content version.
    write("discovery_response", "whole", b"\x01" + whole)
    write("discovery_response", "whole-then-delta", b"\x01" + whole + b"\n--\n" + empty_delta)
    write("discovery_response", "wrong-version", b"\x00" + protobuf_field(1, b"bogus") + whole)


def manifests():
    sources = list((ROOT / "controlplane/translate/testdata").glob("*/manifests/*.yaml"))
    sources += list((ROOT / "deploy/examples/demo").glob("*.yaml"))
    for path in sorted(sources):
        write("manifests", f"{path.parent.parent.name}-{path.stem}", path.read_bytes())


def admission():
    for path in sorted((ROOT / "injector/testdata/pods").glob("*.yaml")):
        pod = yaml.safe_load(path.read_text())
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "u-1", "namespace": "shop", "operation": "CREATE",
                              "object": pod}}
        write("admission_review", path.stem, json.dumps(review))


def watch():
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "reviews", "namespace": "shop", "resourceVersion": "7",
                            "managedFields": [{}]},
               "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]},
               "status": {}}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "reviews-1", "namespace": "shop", "labels": {"app": "reviews"},
                        "resourceVersion": "8"},
           "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 9080}]}]},
           "status": {"podIP": "10.0.0.7", "phase": "Running"}}
    events = [
        {"type": "ADDED", "object": service},
        {"type": "MODIFIED", "object": pod},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
        {"type": "DELETED", "object": pod},
        {"type": "ERROR", "object": {"kind": "Status", "code": 410}},
    ]
    body = "\n".join(json.dumps(e) for e in events) + "\n"
    # Byte 0: bytes per chunk (0: all); byte 1: the kind (2 Service, 3 Pod).
    write("watch_stream", "service-events", b"\x00\x02" + body.encode())
    write("watch_stream", "pod-events-split", b"\x11\x03" + body.encode())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seeds.py MESH_PROXY")
    sniff()
    http1()
    http2()
    configs(sys.argv[1])
    manifests()
    admission()
    watch()


if __name__ == "__main__":
    main()
