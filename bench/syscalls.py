"""Syscalls per proxied request, by kind, for each proxy at saturation.

Runs the same setup as bench/run.py (nginx backend and the load generator on
core 0, one proxy alone on core 1), then counts the proxy's syscalls with
perf's syscall tracepoints while h2load sends a fixed number of requests
over 50 keep-alive connections, and divides by that number. Receives that failed (EAGAIN: nothing to read yet) are
counted separately: they are the cost of trying a read before the peer
has answered.

    /usr/bin/python3 bench/syscalls.py [--targets mesh-proxy,nginx,haproxy]
                                       [--requests N] [--rate REQUESTS_PER_S]

Needs perf (Debian: linux-perf) and root. Not part of `make bench`: it
explains the CPU cells of that table, it does not add to them.
"""
import argparse
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as bench  # noqa: E402


# The syscalls a proxy receives with: nginx and HAProxy use recvfrom,
# mesh-proxy recvmsg (net::receive asks for TCP_INQ).
RECEIVES = ("recvfrom", "recvmsg")
FAILED = "receives that failed (EAGAIN)"


def counted_pid(target, process):
    """nginx serves from a worker process; the others from the process itself."""
    if target != "nginx":
        return process.pid
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    return int(children[0])


def count_during(pid, action):
    """Runs `action` while perf counts `pid`'s syscalls: ({syscall: count}, failed receives)."""
    failures = []
    for call in RECEIVES:
        failures += ["-e", f"syscalls:sys_exit_{call}", "--filter", "ret < 0"]
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_*", *failures,
                             "-p", str(pid)], stderr=subprocess.PIPE, text=True)
    time.sleep(2)  # perf opens a few hundred tracepoints before it counts
    try:
        action()
    finally:
        perf.send_signal(signal.SIGINT)
    calls, failed = {}, 0
    for line in perf.communicate(timeout=30)[1].splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        if fields[2].startswith("syscalls:sys_enter_"):
            calls[fields[2].removeprefix("syscalls:sys_enter_")] = int(fields[0])
        elif fields[2].removeprefix("syscalls:sys_exit_") in RECEIVES:
            failed += int(fields[0])
    return calls, failed


def measure(target, work, backend_port, build_dir, requests, rate):
    """Syscalls per request by name, plus failed receives, for one target."""
    port, process = bench.start_target(target, work, backend_port, build_dir)
    try:
        time.sleep(0.5)
        # Saturation: 50 connections as fast as they go; or `rate` requests/s
        # from 10 connections, as the latency rows of make bench send them.
        shape = ["-c50"] if rate == 0 else ["-c10", "--rps", str(max(1, rate // 10))]
        load = bench.pinned(bench.LOADGEN_CPU, "h2load", "--h1", "-t1", *shape, "-n", str(requests),
                            f"http://127.0.0.1:{port}/")
        subprocess.run(load, capture_output=True, timeout=120)  # warm-up: connections, pools
        calls, failed = count_during(counted_pid(target, process),
                                     lambda: subprocess.run(load, capture_output=True, timeout=120))
    finally:
        process.terminate()
        process.wait(10)
    per_request = {name: n / requests for name, n in calls.items() if n > 0}
    per_request[FAILED] = failed / requests
    return per_request


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=str(bench.ROOT / "build"))
    parser.add_argument("--targets", default="mesh-proxy,nginx,haproxy")
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=0, help="requests/s (default: saturation)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="weft-syscalls-"))
    backend = bench.Backend(work)
    try:
        for target in args.targets.split(","):
            per_request = measure(target, work, backend.port, pathlib.Path(args.build_dir), args.requests,
                                  args.rate)
            print(target)
            for name, n in sorted(per_request.items(), key=lambda item: -item[1]):
                if n >= 0.005 or name == FAILED:  # a zero there is the point
                    print(f"  {n:6.2f} per request  {name}")
    finally:
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
