#!/usr/bin/python3
"""Latency at a fixed rate, proxies interleaved, percentiles pooled.

`make bench` measures each proxy's latency cells one after another, so a
slow minute on this shared machine lands on one proxy; and a cell's p99 rests
on its slowest 1% (about 50 requests). To compare tails between proxies,
this runs the same fixed-rate test as bench/run.py (h2load --h1, 100 req/s
per connection, load generator and backend on core 0, proxy alone on core 1)
for each target in turn, `--rounds` times over, and reports percentiles over
all rounds' latencies together, with the median of the per-round p99s and
the proxy's CPU per request beside them.

    /usr/bin/python3 bench/latency.py [--targets direct,mesh-proxy,haproxy]
                                      [--rounds 20] [--rate 1000]

Not part of `make bench`: it explains the latency cells of that table, it
does not add to them.
"""
import argparse
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: targets, the fixed-rate run, percentiles)

PERCENTILES = (50, 75, 90, 95, 99, 99.9)
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=str(run.ROOT / "build"))
    parser.add_argument("--targets", default="direct,mesh-proxy,haproxy")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    targets = args.targets.split(",")
    work = pathlib.Path(tempfile.mkdtemp(prefix="weft-latency-"))
    backend = run.Backend(work)
    pooled = {t: [] for t in targets}
    p99s = {t: [] for t in targets}
    cpu = {t: [] for t in targets}
    try:
        for _ in range(args.rounds):
            for target in targets:
                port, process = run.start_target(target, work, backend.port, pathlib.Path(args.build_dir))
                try:
                    time.sleep(0.5)
                    before = run.cpu_seconds(process.pid) if process else 0.0
                    values, _, _ = run.fixed_rate(port, args.rate, args.duration, work)
                    if process:
                        cpu[target].append((run.cpu_seconds(process.pid) - before) * 1e6 / max(1, len(values)))
                finally:
                    if process:
                        process.terminate()
                        process.wait(10)
                pooled[target] += values
                p99s[target].append(run.percentile(values, 99))
    finally:
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.rounds} rounds of {args.duration} s at {args.rate} req/s, latencies in ms, pooled over rounds")
    print("| target | " + " | ".join(f"p{p}" for p in PERCENTILES) + " | median of round p99s | CPU µs/req |")
    print("|---|" + "---:|" * (len(PERCENTILES) + 2))
    for target in targets:
        values = sorted(pooled[target])
        cells = [f"{run.percentile(values, p):.3f}" for p in PERCENTILES]
        cpu_cell = f"{statistics.median(cpu[target]):.1f}" if cpu[target] else "-"
        print(f"| {target} | " + " | ".join(cells) + f" | {statistics.median(p99s[target]):.3f} | {cpu_cell} |")


if __name__ == "__main__":
    sys.exit(main())
