"""Raw HTTP/2 frames for abuse tests: what a misbehaving client sends,
built by hand (RFC 9113 §4, HPACK literals of RFC 7541 §6.2), and a reader
that reports what the server answered."""
import socket
import struct
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ENHANCE_YOUR_CALM = 11
CANCEL = 8


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _length(n, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 §5.1)."""
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = [first | limit]
    n -= limit
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal field with a new name: without indexing, or with incremental
    indexing (it then enters the dynamic table at index 62)."""
    name, value = name.encode(), value.encode() if isinstance(value, str) else value
    first = b"\x40" if indexed else b"\x00"
    return first + _length(len(name), 7) + name + _length(len(value), 7) + value


def indexed(index):
    return _length(index, 7, 0x80)


def request_block(path="/", method="GET", extra=()):
    block = b"".join(literal(n, v) for n, v in
                     ((":method", method), (":scheme", "http"), (":authority", "test"), (":path", path)))
    return block + b"".join(literal(n, v) for n, v in extra)


def connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return s


class Reply:
    def __init__(self):
        self.frames = []  # (type, flags, stream, payload)
        self.closed = False
        self.fields = {}  # stream -> decoded header blocks, in order
        self._decoder = hpack.Decoder()

    def goaway_code(self):
        for kind, _, _, payload in self.frames:
            if kind == GOAWAY:
                return struct.unpack(">I", payload[4:8])[0]
        return None

    def resets(self):
        return {stream: struct.unpack(">I", payload)[0]
                for kind, _, stream, payload in self.frames if kind == RST_STREAM}

    def headers_on(self, stream):
        """The decoded header blocks (dicts) the server sent on `stream`."""
        return self.fields.get(stream, [])

    def decode(self, stream, block):
        fields = self._decoder.decode(block)
        self.fields.setdefault(stream, []).append(
            {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
             for k, v in fields})


def read_frames(s, seconds=3, until=None, reply=None):
    """Frames the server sends for up to `seconds`, until it closes or
    `until(reply)` is true; added to `reply` (its HPACK state goes on) when
    given."""
    reply = reply or Reply()
    buffer = b""
    deadline = time.monotonic() + seconds
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            reply.closed = True
            break
        if not chunk:
            reply.closed = True
            break
        buffer += chunk
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags = buffer[3], buffer[4]
            stream = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            payload = buffer[9:9 + length]
            reply.frames.append((kind, flags, stream, payload))
            if kind == HEADERS:  # the proxy sends no padding, priority or CONTINUATION
                reply.decode(stream, payload)
            buffer = buffer[9 + length:]
        if until and until(reply):
            break
    return reply
