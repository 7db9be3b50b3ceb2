#!/usr/bin/env python3
"""Control-plane benchmark: N simulated proxies (gRPC streams from one
process, build/bin/weft-bench-proxies, gRPC C++) against one
mesh-controlplane.

  /usr/bin/python3 bench/controlplane/run.py [--proxies 1000,10000] [--out docs/benchmarks.md]

For each N: writes a manifest directory with a few Services, an HTTPRoute and
N Pods (Kubernetes mode: each simulated proxy is one Pod), starts the control
plane on it, connects N streams that ACK every response, waits until all
have ACKed their first configuration, then changes the route's weights and
measures, per proxy, the time from the file write to its ACK of the new
version (it ACKs each response as soon as it is read): p50, p99, max. Also: control-plane RSS per
connected proxy (RSS with N connected minus RSS before any connected, / N)
and control-plane CPU per push during the change."""
import argparse
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


def measure(proxies, work):
    manifests = work / f"m{proxies}"
    manifests.mkdir()
    write_manifests(manifests, proxies)
    grpc_port, status_port = free_port(), free_port()
    log = open(work / f"cp{proxies}.log", "w")
    cp = subprocess.Popen([str(BUILD / "bin" / "mesh-controlplane"), "--manifests", str(manifests),
                           "--grpc-address", f"127.0.0.1:{grpc_port}",
                           "--status-address", f"127.0.0.1:{status_port}",
                           "--log-level", os.environ.get("WEFT_BENCH_CP_LOG", "warning")],
                          stdout=log, stderr=subprocess.STDOUT)
    sims = None
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", status_port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        rss_before, _ = proc_stat(cp.pid)
        sims = subprocess.Popen([str(BUILD / "bin" / "weft-bench-proxies"),
                                 "--target", f"127.0.0.1:{grpc_port}", "--proxies", str(proxies)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        connected = sims.stdout.readline().split()
        if not connected or connected[0] != "connected":
            raise RuntimeError(f"simulated proxies did not connect: {connected}")
        print(f"  {proxies} proxies connected", file=sys.stderr, flush=True)
        connect_seconds = float(connected[1])
        time.sleep(1.0)  # ACKs settle
        rss_connected, cpu_before = proc_stat(cp.pid)
        _, client_cpu_before = proc_stat(sims.pid)

        # WEFT_BENCH_PERF=FILE: a perf profile of the control plane during the change.
        perf = None
        if os.environ.get("WEFT_BENCH_PERF"):
            perf = subprocess.Popen(["perf", "record", *os.environ.get("WEFT_BENCH_PERF_ARGS", "-g").split(),
                                     "-q", "-o", os.environ["WEFT_BENCH_PERF"], "-p", str(cp.pid)])
            time.sleep(0.5)
        changed_at = time.monotonic()
        write_route(manifests, 50, 50)
        sims.stdin.write("wait 2 60\n")
        sims.stdin.flush()
        report = json.loads(sims.stdout.readline())
        print(f"  updated: {report['updated']}", file=sys.stderr, flush=True)
        time.sleep(0.5)
        _, cpu_after = proc_stat(cp.pid)
        _, client_cpu_after = proc_stat(sims.pid)
        if perf:
            perf.send_signal(2)
            perf.wait(timeout=60)
        delays = sorted(t - changed_at for t in report["acked_at"])

        def pct(p):
            return delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")
        return {"proxies": proxies, "connect_s": connect_seconds,
                "complete": report["updated"] == proxies, "updated": report["updated"],
                "p50_ms": pct(0.50) * 1000, "p99_ms": pct(0.99) * 1000,
                "max_ms": (delays[-1] * 1000) if delays else float("nan"),
                "rss_per_proxy_kib": (rss_connected - rss_before) / proxies,
                "rss_mib": rss_connected / 1024,
                "cpu_us_per_push": (cpu_after - cpu_before) * 1e6 / max(1, len(delays)),
                "client_cpu_us_per_push": (client_cpu_after - client_cpu_before) * 1e6 / max(1, len(delays)),
                "errors": report["errors"]}
    finally:
        stop(cp)  # streams end with the control plane
        if sims:
            sims.stdin.close()  # ends its command loop
            stop(sims)
        log.close()
        if os.environ.get("WEFT_BENCH_CP_LOG"):  # e.g. info: load/compile/offer times per change
            lines = (work / f"cp{proxies}.log").read_text().splitlines()
            sys.stderr.write("".join(f"  cp: {line}\n" for line in lines if "proxy " not in line))


def table(results):
    lines = ["| proxies | all connected in s | updated | change → ACK p50 ms | p99 ms | max ms | "
             "RSS per proxy KiB | control plane RSS MiB | CPU µs per push | client CPU µs per push | "
             "stream errors |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['proxies']:,} | {r['connect_s']:.1f} | {r['updated']:,} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['max_ms']:.0f} | {r['rss_per_proxy_kib']:.1f} | "
                     f"{r['rss_mib']:.0f} | {r['cpu_us_per_push']:.0f} | {r['client_cpu_us_per_push']:.0f} | "
                     f"{r['errors']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proxies", default="1000,10000")
    parser.add_argument("--out", help="docs/benchmarks.md to update between the control-plane markers")
    args = parser.parse_args()
    results = []
    for n in (int(x) for x in args.proxies.split(",")):
        with tempfile.TemporaryDirectory(prefix="weft-cp-bench-") as work:
            r = measure(n, pathlib.Path(work))
        print(r, flush=True)
        results.append(r)
    text = table(results)
    print(text)
    if args.out:
        path = pathlib.Path(args.out)
        doc = path.read_text()
        begin, end = "<!-- bench/controlplane: begin -->", "<!-- bench/controlplane: end -->"
        block = (f"{begin}\nRecorded by `make bench` on {time.strftime('%Y-%m-%d')}: one mesh-controlplane, "
                 f"simulated proxies as gRPC streams from one process (`weft-bench-proxies`, gRPC C++, 50 "
                 f"streams per connection) on the same 2-core machine, so the client's CPU competes "
                 f"with the control plane's. {SERVICES} Services, one "
                 f"HTTPRoute; the change rewrites its weights.\n\n{text}\n{end}")
        if begin in doc:
            doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
        else:
            doc += "\n## Control plane\n\n" + block + "\n"
        path.write_text(doc)


if __name__ == "__main__":
    main()
