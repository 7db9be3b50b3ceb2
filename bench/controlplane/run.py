#!/usr/bin/env python3
"""Control-plane benchmark: N simulated proxies (gRPC streams from this one
process, Debian's python3-grpcio) against one mesh-controlplane.

  /usr/bin/python3 bench/controlplane/run.py [--proxies 1000,10000] [--out docs/benchmarks.md]

For each N: writes a manifest directory with a few Services, an HTTPRoute and
N Pods (Kubernetes mode: each simulated proxy is one Pod), starts the control
plane on it, connects N streams that ACK every response, waits until all
have ACKed their first configuration, then changes the route's weights and
measures, per proxy, the time from the file write to its receiving the new
version (which it ACKs at once): p50, p99, max. Also: control-plane RSS per
connected proxy (RSS with N connected minus RSS before any connected, / N)
and control-plane CPU per push during the change."""
import argparse
import asyncio
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build"))
sys.path.insert(0, str(BUILD / "python"))
import grpc  # noqa: E402
from mesh.v1 import discovery_pb2, discovery_pb2_grpc  # noqa: E402

SERVICES = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_manifests(directory, proxies):
    docs = []
    for i in range(SERVICES):
        docs.append(f"""apiVersion: v1
kind: Service
metadata: {{name: svc{i}}}
spec: {{clusterIP: 10.96.0.{i + 10}, selector: {{app: svc{i}}}, ports: [{{name: http, port: 80, targetPort: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc{i}-a, labels: {{kubernetes.io/service-name: svc{i}}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [10.1.{i}.1]}}, {{addresses: [10.1.{i}.2]}}, {{addresses: [10.1.{i}.3]}}]""")
    (directory / "services.yaml").write_text("\n---\n".join(docs) + "\n")
    write_route(directory, 90, 10)
    with open(directory / "pods.yaml", "w") as out:
        for i in range(proxies):
            out.write(f"""---
apiVersion: v1
kind: Pod
metadata: {{name: pod-{i}, labels: {{app: svc{i % SERVICES}}}}}
spec: {{containers: [{{name: app, ports: [{{containerPort: 8080}}]}}]}}
status: {{podIP: 10.2.{i // 250}.{i % 250 + 1}}}
""")


def write_route(directory, w0, w1):
    tmp = directory / "route.tmp"
    tmp.write_text(f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: svc0}}
spec:
  parentRefs: [{{kind: Service, name: svc0, port: 80}}]
  rules: [{{backendRefs: [{{name: svc1, port: 80, weight: {w0}}}, {{name: svc2, port: 80, weight: {w1}}}]}}]
""")
    tmp.rename(directory / "route.yaml")


def proc_stat(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SimulatedProxy:
    def __init__(self, index, stub):
        self.name = f"pod-{index}"
        self.stub = stub
        self.queue = asyncio.Queue()
        self.versions = {}  # version -> monotonic receive time
        self.first = asyncio.get_running_loop().create_future()
        self.error = None

    async def requests(self):
        yield discovery_pb2.DiscoveryRequest(node=discovery_pb2.Node(name=self.name, namespace="default"))
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def run(self):
        try:
            async for response in self.stub.StreamConfig(self.requests()):
                self.versions[response.version] = time.monotonic()
                await self.queue.put(discovery_pb2.DiscoveryRequest(version=response.version,
                                                                    nonce=response.nonce))
                if not self.first.done():
                    self.first.set_result(response.version)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                self.error = e
                if not self.first.done():
                    self.first.set_exception(e)


async def measure(proxies, work):
    manifests = work / f"m{proxies}"
    manifests.mkdir()
    write_manifests(manifests, proxies)
    grpc_port, status_port = free_port(), free_port()
    log = open(work / f"cp{proxies}.log", "w")
    cp = subprocess.Popen([str(BUILD / "bin" / "mesh-controlplane"), "--manifests", str(manifests),
                           "--grpc-address", f"127.0.0.1:{grpc_port}",
                           "--status-address", f"127.0.0.1:{status_port}", "--log-level", "warning"],
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", status_port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        await asyncio.sleep(0.5)
        rss_before, _ = proc_stat(cp.pid)
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}",
                                              options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(max(1, proxies // 50))]
        sims = [SimulatedProxy(i, discovery_pb2_grpc.DiscoveryStub(channels[i % len(channels)]))
                for i in range(proxies)]
        tasks = [asyncio.create_task(s.run()) for s in sims]
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(s.first for s in sims)), timeout=300)
        print(f"  {proxies} proxies connected", file=sys.stderr, flush=True)
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(1.0)  # ACKs settle
        rss_connected, cpu_before = proc_stat(cp.pid)

        changed_at = time.monotonic()
        write_route(manifests, 50, 50)
        deadline = changed_at + 60
        while time.monotonic() < deadline:
            if all(len(s.versions) >= 2 for s in sims):
                break
            await asyncio.sleep(0.05)
        print(f"  updated: {sum(len(s.versions) >= 2 for s in sims)}", file=sys.stderr, flush=True)
        complete = all(len(s.versions) >= 2 for s in sims)
        await asyncio.sleep(0.5)
        _, cpu_after = proc_stat(cp.pid)
        delays = sorted(max(s.versions.values()) - changed_at for s in sims if len(s.versions) >= 2)
        errors = sum(1 for s in sims if s.error)
        # Streams end with the control plane; then the client side.
        stop(cp)
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=10)
        for c in channels:
            await asyncio.wait_for(c.close(grace=None), timeout=10)

        def pct(p):
            return delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")
        return {"proxies": proxies, "connect_s": connect_seconds, "complete": complete,
                "updated": len(delays), "p50_ms": pct(0.50) * 1000, "p99_ms": pct(0.99) * 1000,
                "max_ms": (delays[-1] * 1000) if delays else float("nan"),
                "rss_per_proxy_kib": (rss_connected - rss_before) / proxies,
                "rss_mib": rss_connected / 1024,
                "cpu_us_per_push": (cpu_after - cpu_before) * 1e6 / max(1, len(delays)),
                "errors": errors}
    finally:
        stop(cp)
        log.close()


def table(results):
    lines = ["| proxies | all connected in s | updated | change → ACK p50 ms | p99 ms | max ms | "
             "RSS per proxy KiB | control plane RSS MiB | CPU µs per push | stream errors |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['proxies']:,} | {r['connect_s']:.1f} | {r['updated']:,} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['max_ms']:.0f} | {r['rss_per_proxy_kib']:.1f} | "
                     f"{r['rss_mib']:.0f} | {r['cpu_us_per_push']:.0f} | {r['errors']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proxies", default="1000,10000")
    parser.add_argument("--out", help="docs/benchmarks.md to update between the control-plane markers")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        # One measurement per process: grpc.aio can hang in the event loop's
        # shutdown with thousands of finished streams, so the result is
        # printed and the process ends without that shutdown.
        with tempfile.TemporaryDirectory(prefix="weft-cp-bench-") as work:
            loop = asyncio.new_event_loop()
            result = loop.run_until_complete(measure(args.one, pathlib.Path(work)))
        print(json.dumps(result), flush=True)
        os._exit(0)
    results = []
    for n in (int(x) for x in args.proxies.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True,
                             text=True, timeout=1800)
        sys.stderr.write(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(r, flush=True)
        results.append(r)
    text = table(results)
    print(text)
    if args.out:
        path = pathlib.Path(args.out)
        doc = path.read_text()
        begin, end = "<!-- bench/controlplane: begin -->", "<!-- bench/controlplane: end -->"
        block = (f"{begin}\nRecorded by `make bench` on {time.strftime('%Y-%m-%d')}: one mesh-controlplane, "
                 f"simulated proxies as gRPC streams from one Python process on the same 2-core machine "
                 f"(so the client's own CPU competes with the control plane's). {SERVICES} Services, one "
                 f"HTTPRoute; the change rewrites its weights.\n\n{text}\n{end}")
        if begin in doc:
            doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
        else:
            doc += "\n## Control plane\n\n" + block + "\n"
        path.write_text(doc)


if __name__ == "__main__":
    main()
