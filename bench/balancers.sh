#!/usr/bin/env bash
# Instructions per HTTP/1.1 request (bench/instructions.sh: one worker,
# callgrind) for each load balancer with 10, 100 and 1,000 endpoints, as a
# Markdown table for docs/benchmarks.md. The endpoints are loopback
# addresses of one nginx, so the balancer is the only thing that changes.
#
#   bench/balancers.sh [build-dir] [requests]
set -euo pipefail
build_dir=${1:-build}
requests=${2:-3000}
here=$(dirname "$0")
counts=(10 100 1000)
echo "| balancer | ${counts[*]/%/ endpoints |}"
echo "|---|---|---|---|"
for lb in LB_ROUND_ROBIN LB_RANDOM LB_LEAST_REQUEST LB_PEAK_EWMA LB_RING_HASH LB_MAGLEV; do
  row="| $lb |"
  for n in "${counts[@]}"; do
    line=$(WEFT_LB=$lb WEFT_ENDPOINTS=$n bash "$here/instructions.sh" "$build_dir" "$requests" | tail -1)
    row+=" $(echo "$line" | awk '{print $2}') |"
  done
  echo "$row"
done
