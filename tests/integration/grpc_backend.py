"""A gRPC service of ours for proxy tests, on Debian's python3-grpcio with
generic handlers (bytes in, bytes out: no generated code). Service
`weft.test.Echo`:

  Unary(bytes) -> bytes          echoes; metadata `x-fail: CODE` fails with
                                 that status, `x-sleep: SECONDS` sleeps first
  Collect(stream bytes) -> bytes the total length as text
  Spray(bytes) -> stream bytes   N messages of SIZE bytes, "N,SIZE"
  Chat(stream bytes) -> stream   echoes each message
  Hang(bytes) -> stream bytes    one message, then waits to be cancelled

Each call's invocation metadata is echoed back as initial metadata with an
`echo-` prefix, and the trailing metadata carries `x-served-by`."""
import threading
import time
from concurrent import futures

import grpc

SERVICE = "weft.test.Echo"


def identity(data):
    return data


class State:
    def __init__(self):
        self.cancelled = threading.Event()
        self.calls = 0


def _echo_metadata(context):
    context.send_initial_metadata(
        [("echo-" + k, v) for k, v in context.invocation_metadata()
         if not k.startswith(("grpc-", ":")) and k not in ("user-agent", "te", "content-type")
         and not k.endswith("-bin")])
    context.set_trailing_metadata([("x-served-by", "grpc-backend")])


def make_handlers(state):
    def unary(request, context):
        state.calls += 1
        metadata = dict(context.invocation_metadata())
        if "x-sleep" in metadata:
            time.sleep(float(metadata["x-sleep"]))
        _echo_metadata(context)
        if "x-fail" in metadata:
            context.abort(grpc.StatusCode[metadata["x-fail"]], "failed on request")
        return request

    def collect(requests, context):
        _echo_metadata(context)
        return str(sum(len(r) for r in requests)).encode()

    def spray(request, context):
        _echo_metadata(context)
        count, size = (int(x) for x in request.decode().split(","))
        block = b"x" * size
        for _ in range(count):
            yield block

    def chat(requests, context):
        _echo_metadata(context)
        for r in requests:
            yield r

    def hang(request, context):
        context.add_callback(state.cancelled.set)
        yield b"started"
        deadline = time.monotonic() + 20
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(0.02)

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity),
        "Collect": grpc.stream_unary_rpc_method_handler(collect, identity, identity),
        "Spray": grpc.unary_stream_rpc_method_handler(spray, identity, identity),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, identity, identity),
        "Hang": grpc.unary_stream_rpc_method_handler(hang, identity, identity),
    }
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


def start(port, host="127.0.0.1"):
    """Serves on `host`:`port`; returns (server, state)."""
    state = State()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((make_handlers(state),))
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, state


class Client:
    """Calls the Echo service through `target` ("127.0.0.1:PORT")."""

    def __init__(self, target):
        self.channel = grpc.insecure_channel(target)

    def method(self, kind, name):
        path = f"/{SERVICE}/{name}"
        factory = {"unary_unary": self.channel.unary_unary,
                   "stream_unary": self.channel.stream_unary,
                   "unary_stream": self.channel.unary_stream,
                   "stream_stream": self.channel.stream_stream}[kind]
        return factory(path, request_serializer=identity, response_deserializer=identity)

    def unary(self):
        return self.method("unary_unary", "Unary")

    def collect(self):
        return self.method("stream_unary", "Collect")

    def spray(self):
        return self.method("unary_stream", "Spray")

    def chat(self):
        return self.method("stream_stream", "Chat")

    def hang(self):
        return self.method("unary_stream", "Hang")

    def close(self):
        self.channel.close()
