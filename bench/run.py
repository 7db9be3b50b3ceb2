#!/usr/bin/python3
"""make bench: mesh-proxy side by side with HAProxy and nginx on loopback.

Layout (2 cores): the backend (nginx, one worker, fixed 1 KiB 200 response)
and the load generators on core 0; the proxy under test alone on core 1, one
worker thread, keep-alive to the backend. Targets: direct (no proxy),
mesh-proxy, haproxy, nginx. Tests:
  h1max  wrk -t1 -c50: saturation requests/s and proxy CPU per request
  lat1k  h2load --h1 -c10, 100 req/s per connection: p50/p90/p99 at 1,000 req/s
  lat5k  h2load --h1 -c50, 100 req/s per connection: p50/p90/p99 at 5,000 req/s
CPU per request = utime+stime of the proxy process over the run / requests.
Each (target, test) runs --reps times; the table shows medians and ratios.
Writes docs/benchmarks.md (or --out).
"""
import argparse
import datetime
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HZ = os.sysconf("SC_CLK_TCK")
LOADGEN_CPU, PROXY_CPU = "0", "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def process_tree(pid):
    """`pid` and its descendants (nginx forks its worker)."""
    children = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def cpu_seconds(pid):
    total = 0
    for p in process_tree(pid):
        try:
            fields = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / HZ


def smaps_kib(pid, field):
    """`field` (Pss, Anonymous, ...) from smaps_rollup, summed over the tree."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_kib(pid):
    total = 0
    for p in process_tree(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def pinned(cpu, *cmd):
    return ["taskset", "-c", cpu, *cmd]


def write_nginx_conf(d, http_block):
    """Writes d/nginx.conf: one worker, no daemon, files kept in `d`, long
    keep-alive; `http_block` is the rest of the http {} block."""
    (d / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 20000; }}
http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
{http_block} }}
""")


def write_haproxy_cfg(d, bind, server):
    """Writes d/haproxy.cfg: one thread, HTTP mode, connection reuse; `bind`
    and `server` are the frontend's and the backend's lines."""
    (d / "haproxy.cfg").write_text(f"""
global
  nbthread 1
  maxconn 5000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  {bind}
  default_backend backend
backend backend
  {server}
""")


class Backend:
    def __init__(self, work):
        self.port = free_port()
        d = work / "backend"
        d.mkdir(exist_ok=True)
        body = "x" * 1024
        write_nginx_conf(d, f"""  server {{ listen 127.0.0.1:{self.port};
    location / {{ default_type text/plain; return 200 "{body}"; }} }}""")
        self.process = subprocess.Popen(pinned(LOADGEN_CPU, "nginx", "-p", str(d), "-c", str(d / "nginx.conf"),
                                               "-e", str(d / "error.log")))
        wait_port(self.port)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


# mesh-proxy as a sidecar's outbound side with the mesh's observability on:
# a workload (request metrics with workload labels, x-weft-peer to a meshed
# endpoint) and tracing at 1% sampling, the spans exported as OTLP JSON to
# the backend (which answers 200). Issue 19's bar: within 5% of mesh-proxy's
# CPU per request.
OBSERVED = "mesh-proxy-observed"


def mesh_proxy_config(port, backend_port, observed):
    workload = tracing = direction = service = endpoint_workload = ""
    if observed:
        workload = "workload: {name: bench-client, namespace: bench, app: bench, version: v1}"
        tracing = (f"tracing: {{sampling_percent: 1, "
                   f"otlp_endpoint: \"http://127.0.0.1:{backend_port}/v1/traces\"}}")
        direction = ", direction: DIRECTION_OUTBOUND"
        service = ", service: backend.bench.svc.cluster.local"
        endpoint_workload = ", workload: {name: backend, namespace: bench}"
    return f"""
{workload}
{tracing}
admin: {{address: {{host: 127.0.0.1, port: {free_port()}}}, metrics_address: {{host: 127.0.0.1, port: {free_port()}}}}}
listeners: [{{name: bench, address: {{host: 127.0.0.1, port: {port}}}, route_table: bench{direction}}}]
route_tables: [{{name: bench, virtual_hosts: [{{routes: [{{match: {{prefix: /}}, forward: {{clusters: [{{name: backend}}]}}}}]}}]}}]
clusters: [{{name: backend{service}, pool: {{max_idle_per_endpoint: 256}}, endpoints: [{{address: 127.0.0.1, port: {backend_port}{endpoint_workload}}}]}}]
"""


def start_target(name, work, backend_port, build_dir):
    """Starts the proxy named `name` on core 1; returns (port, process) or
    (backend_port, None) for direct."""
    if name == "direct":
        return backend_port, None
    port = free_port()
    d = work / name
    d.mkdir(exist_ok=True)
    if name in ("mesh-proxy", OBSERVED):
        (d / "proxy.yaml").write_text(mesh_proxy_config(port, backend_port, observed=name == OBSERVED))
        cmd = [str(build_dir / "bin" / "mesh-proxy"), "--config", str(d / "proxy.yaml"), "--concurrency", "1",
               "--log-level", "warning"]
    elif name == "haproxy":
        write_haproxy_cfg(d, f"bind 127.0.0.1:{port}", f"server b1 127.0.0.1:{backend_port}")
        cmd = ["haproxy", "-db", "-f", str(d / "haproxy.cfg")]
    elif name == "nginx":
        write_nginx_conf(d, f"""  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 256; keepalive_requests 100000000; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}""")
        cmd = ["nginx", "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]
    else:
        raise ValueError(name)
    process = subprocess.Popen(pinned(PROXY_CPU, *cmd), stdout=subprocess.DEVNULL, stderr=open(d / "stderr", "w"))
    wait_port(port)
    return port, process


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_load(test, port, duration, work):
    """Returns dict(requests, errors, rps, p50, p90, p99) for one run."""
    url = f"http://127.0.0.1:{port}/"
    if test == "h1max":
        out = subprocess.run(pinned(LOADGEN_CPU, "wrk", "-t1", "-c50", f"-d{duration}s", url),
                             capture_output=True, text=True, timeout=duration + 30).stdout
        requests = int(out.split(" requests in ")[0].split()[-1])
        errors = 0
        for line in out.splitlines():
            if "Non-2xx" in line or "Socket errors" in line:
                errors += sum(int(x) for x in line.replace(",", " ").split() if x.isdigit())
        rps = float(out.split("Requests/sec:")[1].split()[0])
        return {"requests": requests, "errors": errors, "rps": rps}
    latencies, errors, summary = fixed_rate(port, {"lat1k": 1000, "lat5k": 5000}[test], duration, work)
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / duration,
            "p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99), "latencies": latencies, "summary": summary}


PER_CONNECTION_RATE = 100


def fixed_rate(port, rate, duration, work):
    """One run of h2load --h1 at `rate` req/s (100 per connection) for
    `duration` s. Returns (sorted latencies of the 2xx answers in ms, the
    count of other answers, h2load's "requests:" line)."""
    connections = max(1, rate // PER_CONNECTION_RATE)
    log = work / f"rate{rate}-{port}-{time.monotonic_ns()}.log"
    out = subprocess.run(pinned(LOADGEN_CPU, "h2load", "--h1", "-t1", f"-c{connections}",
                                "--rps", str(PER_CONNECTION_RATE), "-r", str(max(1, connections // 10)),
                                "--rate-period", "1ms", "-n", str(rate * duration), f"--log-file={log}",
                                f"http://127.0.0.1:{port}/"),
                         capture_output=True, text=True, timeout=duration + 60).stdout
    latencies, errors = [], 0
    for line in log.read_text().splitlines():
        _, status, micros = line.split("\t")
        if status.startswith("2"):
            latencies.append(int(micros) / 1000)
        else:
            errors += 1
    latencies.sort()
    summary = [line for line in out.splitlines() if line.startswith("requests:")]
    return latencies, errors, summary[0] if summary else ""


def measure(target, test, port, process, duration, work):
    before = cpu_seconds(process.pid) if process else 0.0
    peak = [rss_kib(process.pid) if process else 0]
    result = run_load(test, port, duration, work)
    if process:
        result["cpu_us_per_req"] = (cpu_seconds(process.pid) - before) * 1e6 / max(1, result["requests"])
        peak.append(rss_kib(process.pid))
        result["rss_loaded_kib"] = max(peak)
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def cpu_ratios(runs, targets):
    """Each target's saturation CPU per request over the best peer's in the
    same run, median over runs: adjacent cells share the machine's state,
    which moves more between runs than proxies differ."""
    peers = [t for t in targets if t in ("haproxy", "nginx")]
    ratios = {}
    for t in targets:
        per_run = []
        for rep, result in enumerate(runs.get((t, "h1max"), [])):
            cpu = result.get("cpu_us_per_req")
            peer_cpus = [runs[(p, "h1max")][rep].get("cpu_us_per_req") for p in peers
                         if len(runs.get((p, "h1max"), [])) > rep]
            peer_cpus = [c for c in peer_cpus if c]
            if cpu and peer_cpus:
                per_run.append(cpu / min(peer_cpus))
        if per_run:
            ratios[(t, "cpu_vs_best_peer")] = median(per_run)
    observed = [o.get("cpu_us_per_req") / m.get("cpu_us_per_req")
                for o, m in zip(runs.get((OBSERVED, "h1max"), []), runs.get(("mesh-proxy", "h1max"), []))
                if o.get("cpu_us_per_req") and m.get("cpu_us_per_req")]
    if observed:
        ratios[(OBSERVED, "cpu_vs_mesh_proxy")] = median(observed)
    return ratios


def pooled_p99s(runs):
    """p99 over every run's latencies together, per (target, latency test).
    A run's p99 rests on its slowest 1% (about 50 requests at 1,000 req/s
    for 5 s), so the median of per-run p99s moves with one slow second;
    pooled, the same percentile rests on all runs' tails."""
    pooled = {}
    for (target, test), values in runs.items():
        if test.startswith("lat") and isinstance(values, list):
            latencies = sorted(l for v in values for l in v.get("latencies", []))
            if latencies:
                pooled[(target, f"{test}_pooled_p99")] = percentile(latencies, 99)
    return pooled


def report(results, targets, tests, args, environment):
    lines = [
        "# Benchmarks",
        "",
        f"Recorded by `make bench` on {environment['date']}: {environment['cpu']}, "
        f"{environment['cores']} cores, loopback only. {args.reps} runs of {args.duration} s per cell; "
        "medians shown. The backend (nginx, 1 worker, 1 KiB 200) and the load generators run on core 0; "
        "each proxy runs alone on core 1 with one worker thread and upstream keep-alive. "
        "This machine is shared, so absolute numbers move between runs: compare the ratios. "
        "CPU vs best peer is taken within each run (its cells are a minute apart, so they share "
        "the machine's state) and the median of those ratios is shown. In the latency tables, "
        "\"runs pooled\" is the p99 of all runs' latencies taken together (a single run's p99 rests "
        "on about 50 requests).",
        "",
        f"Versions: {environment['versions']}",
        "",
        "Reproduce: `make bench` (or `/usr/bin/python3 bench/run.py --reps 5 --duration 5`).",
        "",
        "## HTTP/1.1 saturation (wrk -t1 -c50)",
        "",
        "| target | req/s | proxy CPU µs/req | CPU vs best peer | idle RSS MiB | idle PSS MiB | "
        "idle anonymous MiB | loaded RSS MiB | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        r = results.get((t, "h1max"))
        if not r:
            continue
        cpu = r.get("cpu_us_per_req")
        cpu_ratio = results.get((t, "cpu_vs_best_peer"))
        ratio = f"{cpu_ratio:.2f}x" if cpu_ratio else "-"
        idle = results.get((t, "idle_rss_kib"))
        pss = results.get((t, "idle_pss_kib"))
        anon = results.get((t, "idle_anon_kib"))
        lines.append(f"| {t} | {fmt(r['rps'], 0)} | {fmt(cpu)} | {ratio} | "
                     f"{fmt(idle / 1024 if idle else None)} | {fmt(pss / 1024 if pss else None)} | "
                     f"{fmt(anon / 1024 if anon else None)} | "
                     f"{fmt(r['rss_loaded_kib'] / 1024 if r.get('rss_loaded_kib') else None)} | {r['errors']} |")
    observed = results.get((OBSERVED, "cpu_vs_mesh_proxy"))
    if observed:
        lines += ["", f"{OBSERVED} is mesh-proxy as a sidecar's outbound side with workload-labelled "
                  "request metrics and tracing at 1% sampling (spans exported as OTLP JSON): its "
                  f"CPU per request is **{observed:.3f}x** mesh-proxy's (median of the per-run "
                  "ratios)."]
    for test, rate in (("lat1k", "1,000"), ("lat5k", "5,000")):
        if test not in tests:
            continue
        direct = results.get(("direct", test), {})
        lines += ["", f"## Latency at {rate} req/s (h2load --h1, fixed rate)", "",
                  "| target | p50 ms | p90 ms | p99 ms | p99 added over direct ms | "
                  "p99 added, runs pooled ms | proxy CPU µs/req | errors |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for t in targets:
            r = results.get((t, test))
            if not r:
                continue
            added = r["p99"] - direct["p99"] if direct.get("p99") is not None and t != "direct" else None
            pooled = results.get((t, f"{test}_pooled_p99"))
            direct_pooled = results.get(("direct", f"{test}_pooled_p99"))
            pooled_added = pooled - direct_pooled if None not in (pooled, direct_pooled) and t != "direct" else None
            lines.append(f"| {t} | {fmt(r['p50'], 3)} | {fmt(r['p90'], 3)} | {fmt(r['p99'], 3)} | "
                         f"{fmt(added, 3)} | {fmt(pooled_added, 3)} | {fmt(r.get('cpu_us_per_req'))} | "
                         f"{r['errors']} |")
    lines += ["", "Memory: RSS counts every resident page, including shared-library code that other "
              "processes share; PSS divides shared pages among their users; anonymous is the "
              "process's own heap and stacks.", "",
              "Targets from issue #3: CPU per request below the best peer's (aim 12 µs), idle RSS "
              "at most 8 MiB, p99 added latency at 1,000 req/s at or below HAProxy's.", ""]
    return "\n".join(lines)


BEGIN = "<!-- bench/run.py: measured tables begin -->"
END = "<!-- bench/run.py: measured tables end -->"


def write_report(path, tables):
    """Replaces the measured tables in `path`, keeping the prose around them
    (between the markers; the whole file when it has none)."""
    block = f"{BEGIN}\n{tables}\n{END}"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        path.write_text(head + block + tail)
    else:
        path.write_text(block + "\n")


def environment_info():
    cpu = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = [subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0] if
                subprocess.run(cmd, capture_output=True, text=True).stdout else
                subprocess.run(cmd, capture_output=True, text=True).stderr.splitlines()[0]
                for cmd in (["haproxy", "-v"], ["nginx", "-v"], ["wrk", "-v"], ["h2load", "--version"])]
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "versions": "; ".join(v.strip() for v in versions)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=str(ROOT / "build"))
    parser.add_argument("--targets", default=f"direct,mesh-proxy,{OBSERVED},haproxy,nginx")
    parser.add_argument("--tests", default="h1max,lat1k,lat5k")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    targets, tests = args.targets.split(","), args.tests.split(",")
    work = pathlib.Path(tempfile.mkdtemp(prefix="weft-bench-"))
    backend = Backend(work)
    runs = {}
    try:
        for rep in range(args.reps):
            for target in targets:
                port, process = start_target(target, work, backend.port, pathlib.Path(args.build_dir))
                try:
                    time.sleep(0.5)
                    if process:
                        runs.setdefault((target, "idle_rss_kib"), []).append(rss_kib(process.pid))
                        runs.setdefault((target, "idle_pss_kib"), []).append(smaps_kib(process.pid, "Pss"))
                        runs.setdefault((target, "idle_anon_kib"), []).append(
                            smaps_kib(process.pid, "Anonymous"))
                    for test in tests:
                        result = measure(target, test, port, process, args.duration, work)
                        runs.setdefault((target, test), []).append(result)
                        print(f"rep {rep + 1} {target:10} {test:6} rps={result['rps']:,.0f} "
                              f"cpu={fmt(result.get('cpu_us_per_req'))}us/req "
                              f"p99={fmt(result.get('p99'), 3)}ms errors={result['errors']}", flush=True)
                finally:
                    if process:
                        process.terminate()
                        process.wait(10)
    finally:
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    results = {}
    for key, values in runs.items():
        if key[1].startswith("idle_"):
            results[key] = median(values)
            continue
        results[key] = {field: median([v.get(field) for v in values])
                        for field in ("requests", "errors", "rps", "p50", "p90", "p99", "cpu_us_per_req",
                                      "rss_loaded_kib")}
    results.update(cpu_ratios(runs, targets))
    results.update(pooled_p99s(runs))
    text = report(results, targets, tests, args, environment_info())
    write_report(pathlib.Path(args.out), text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
