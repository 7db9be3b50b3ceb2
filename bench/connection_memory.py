#!/usr/bin/python3
"""Memory and descriptors per downstream connection of mesh-proxy, measured
as an operator would: RSS (/proc/PID/status) and open descriptors of one
mesh-proxy (--concurrency 1) on an HTTP listener, with the demo app as its
backend, all on 127.0.0.1.

  silent     N connections that send nothing, held open
  closed     the same N closed by the client after a second: what the proxy
             still holds one second later (CLOSE-WAIT sockets, descriptors)
  keepalive  N connections after one request each, held idle
  cycles     M connect-and-close cycles: RSS and descriptors after

Prints a markdown table (KiB per connection = RSS growth / N).
Usage: bench/connection_memory.py [--build build] [-n 300] [--cycles 4000]
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "examples" / "demo"))
import app as backend  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def close_wait(port):
    out = subprocess.run(["ss", "-Htn", "state", "close-wait", f"sport = :{port}"],
                         capture_output=True, text=True, timeout=10).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def one_request(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: web\r\n\r\n")
    data = b""
    while not data.endswith(b"v1\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("closed before the answer")
        data += chunk


def start_proxy(build, port, backend_port, workdir):
    config = {
        "admin": {"address": {"host": "127.0.0.1", "port": free_port()}},
        "listeners": [{"name": "web", "address": {"host": "127.0.0.1", "port": port},
                       "route_table": "web", "idle_timeout": "300s"}],
        "route_tables": [{"name": "web", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": {"clusters": [{"name": "app"}]}}]}]}],
        "clusters": [{"name": "app", "endpoints": [{"address": "127.0.0.1", "port": backend_port}]}],
    }
    path = workdir / "proxy.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen([str(build / "bin" / "mesh-proxy"), "--config", str(path),
                                "--concurrency", "1"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            time.sleep(0.3)
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mesh-proxy did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=4000)
    args = parser.parse_args()
    n = args.n
    backend_port, port = free_port(), free_port()
    server = backend.start(backend_port, "v1")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        proxy = start_proxy(pathlib.Path(args.build), port, backend_port, pathlib.Path(workdir))
        pid = proxy.pid
        try:
            warm = socket.create_connection(("127.0.0.1", port))
            one_request(warm)
            warm.close()
            time.sleep(0.5)
            base_rss, base_fds = rss_kib(pid), descriptors(pid)
            rows.append(("idle proxy", f"{base_rss} KiB RSS", f"{base_fds} descriptors", ""))

            silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
            time.sleep(1)
            grown = rss_kib(pid) - base_rss
            rows.append((f"{n} silent connections open", f"+{grown} KiB",
                         f"+{descriptors(pid) - base_fds}", f"{grown / n:.1f} KiB"))
            for s in silent:
                s.close()
            time.sleep(1)
            rows.append((f"the same {n} closed by the client, 1 s later",
                         f"+{rss_kib(pid) - base_rss} KiB", f"+{descriptors(pid) - base_fds}",
                         f"{close_wait(port)} in CLOSE-WAIT"))

            before = rss_kib(pid)
            kept = []
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port))
                one_request(s)
                kept.append(s)
            time.sleep(1)
            grown = rss_kib(pid) - before
            rows.append((f"{n} idle keep-alive connections after one request", f"+{grown} KiB",
                         f"+{descriptors(pid) - base_fds}", f"{grown / n:.1f} KiB"))
            for s in kept:
                s.close()
            time.sleep(1)

            for _ in range(args.cycles // 100):
                batch = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
                for s in batch:
                    s.close()
            time.sleep(1)
            rows.append((f"after {args.cycles} connect-and-close cycles",
                         f"{rss_kib(pid)} KiB RSS", f"+{descriptors(pid) - base_fds}",
                         f"{close_wait(port)} in CLOSE-WAIT"))
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
            server.shutdown()
    print("| measurement | RSS | descriptors | per connection |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
