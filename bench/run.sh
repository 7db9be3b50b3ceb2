#!/usr/bin/env bash
# `make bench`: the data-plane benchmarks (bench/run.py: HTTP/1.1, mesh-proxy
# vs HAProxy and nginx; bench/http2.py: HTTP/2, TLS and gRPC, also vs
# nghttpx) and the control-plane benchmark (bench/controlplane/run.py: 1,000
# and 10,000 simulated proxies) on the current build; both write their
# tables into docs/benchmarks.md.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
here=$(dirname "$0")
/usr/bin/python3 "$here/run.py" --build-dir "$build_dir" "${@:2}"
/usr/bin/python3 "$here/http2.py" --build-dir "$build_dir"
WEFT_BUILD_DIR="$build_dir" /usr/bin/python3 "$here/controlplane/run.py" \
  --out "$here/../docs/benchmarks.md"
