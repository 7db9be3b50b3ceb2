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
`echo-` prefix, and the trailing metadata carries `x-served-by`.

`state.delay` and `state.fail_code` make every Unary call of one server
slow or failing.

It also serves `grpc.health.v1.Health/Check`, encoding its few bytes by
hand: `state.health` maps a service name to SERVING (1) or NOT_SERVING
(2); a service not in it is NOT_FOUND. `state.probes` counts the checks."""
import threading
import time
from concurrent import futures

import grpc

SERVICE = "weft.test.Echo"


def identity(data):
    return data


HEALTH_SERVICE = "grpc.health.v1.Health"
SERVING, NOT_SERVING = 1, 2


class State:
    def __init__(self):
        self.cancelled = threading.Event()
        self.calls = 0
        self.name = "grpc-backend"  # the trailing x-served-by
        # Every Unary call of this server: first sleeps `delay` seconds, and
        # fails with `fail_code` (a StatusCode name) trailers-only.
        self.delay = 0.0
        self.fail_code = None
        self.health = {"": SERVING, SERVICE: SERVING}
        self.probes = 0


def health_check_service(request):
    """HealthCheckRequest.service (field 1, a string) of a serialized request."""
    if not request:
        return ""
    assert request[0] == 0x0A and request[1] < 0x80 and len(request) == 2 + request[1], request
    return request[2:].decode()


def make_health_handler(state):
    def check(request, context):
        state.probes += 1
        status = state.health.get(health_check_service(request))
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return bytes([0x08, status])  # HealthCheckResponse{status}

    return grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
        "Check": grpc.unary_unary_rpc_method_handler(check, identity, identity)})


def _echo_metadata(context, state):
    context.send_initial_metadata(
        [("echo-" + k, v) for k, v in context.invocation_metadata()
         if not k.startswith(("grpc-", ":")) and k not in ("user-agent", "te", "content-type")
         and not k.endswith("-bin")])
    context.set_trailing_metadata([("x-served-by", state.name)])


def make_handlers(state):
    def unary(request, context):
        state.calls += 1
        metadata = dict(context.invocation_metadata())
        delay = float(metadata.get("x-sleep", state.delay))
        if delay:
            time.sleep(delay)
        if state.fail_code:  # before any metadata: a trailers-only answer
            context.abort(grpc.StatusCode[state.fail_code], "this server fails every call")
        _echo_metadata(context, state)
        if "x-fail" in metadata:
            context.abort(grpc.StatusCode[metadata["x-fail"]], "failed on request")
        return request

    def collect(requests, context):
        _echo_metadata(context, state)
        return str(sum(len(r) for r in requests)).encode()

    def spray(request, context):
        _echo_metadata(context, state)
        count, size = (int(x) for x in request.decode().split(","))
        block = b"x" * size
        for _ in range(count):
            yield block

    def chat(requests, context):
        _echo_metadata(context, state)
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
    server.add_generic_rpc_handlers((make_handlers(state), make_health_handler(state)))
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


def main():
    """Serves until interrupted: a gRPC workload for docs/tasks pages run
    under `meshctl up` (`--not-serving SERVICE` makes its health service
    say NOT_SERVING for that service)."""
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--name", default="grpc-backend", help="sent as x-served-by")
    parser.add_argument("--not-serving", action="append", default=[], metavar="SERVICE")
    args = parser.parse_args()
    server, state = start(args.port, args.host)
    state.name = args.name
    for service in args.not_serving:
        state.health[service] = NOT_SERVING
    server.wait_for_termination()


if __name__ == "__main__":
    main()
