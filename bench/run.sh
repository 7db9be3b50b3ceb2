#!/usr/bin/env bash
# `make bench`: the data-plane benchmark (bench/run.py: mesh-proxy vs HAProxy
# and nginx) and the control-plane benchmark (bench/controlplane/run.py: 1,000
# and 10,000 simulated proxies) on the current build; both write their
# tables into docs/benchmarks.md.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
here=$(dirname "$0")
/usr/bin/python3 "$here/run.py" --build-dir "$build_dir" "${@:2}"
WEFT_BUILD_DIR="$build_dir" /usr/bin/python3 "$here/controlplane/run.py" \
  --out "$here/../docs/benchmarks.md"
