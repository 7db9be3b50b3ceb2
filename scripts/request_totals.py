#!/usr/bin/python3
"""`make demo`'s summary of mesh_requests_total: every sidecar of a
`meshctl up` mesh scraped, its series summed by reporter, source workload,
destination Service and response code. Exits 1 when the source and
destination reporters disagree about a hop (a request counted by one
sidecar and not the other).

  scripts/request_totals.py STATE_DIR/mesh.json"""
import collections
import json
import re
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^mesh_requests_total\{(.*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="([^"]*)"')


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/prometheus", timeout=5) as r:
        return r.read().decode()


def totals(workloads):
    """{(reporter, source, service, code): count} over every sidecar."""
    out = collections.Counter()
    for w in workloads:
        for line in scrape(w["metrics"]).splitlines():
            match = SAMPLE.match(line)
            if not match:
                continue
            labels = dict(LABEL.findall(match.group(1)))
            key = (labels["reporter"], labels["source_workload"], labels["destination_service"],
                   labels["response_code"])
            out[key] += int(float(match.group(2)))
    return out


def hops(counts):
    """Both reporters' counts of each hop between meshed workloads."""
    out = collections.defaultdict(lambda: [0, 0])
    for (reporter, source, service, code), n in counts.items():
        if source == "unknown" or service == "unknown":
            continue  # no sidecar on one side: nothing to agree with
        out[(source, service, code)][reporter == "destination"] += n
    return out


def main():
    workloads = json.load(open(sys.argv[1]))["workloads"]
    # A worker counts a request once its last byte is out: settle briefly.
    deadline = time.monotonic() + 5
    while True:
        counts = totals(workloads)
        agree = all(s == d for s, d in hops(counts).values())
        if agree or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for (reporter, source, service, code), n in sorted(counts.items()):
        print(f"  {reporter:<11} {source} -> {service} {code}: {n}")
    for (source, service, code), (s, d) in sorted(hops(counts).items()):
        if s != d:
            print(f"  DISAGREE {source} -> {service} {code}: source {s}, destination {d}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
