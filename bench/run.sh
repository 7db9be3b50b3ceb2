#!/usr/bin/env bash
# `make bench`: the benchmark driver (bench/run.py) on the current build.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
exec /usr/bin/python3 "$(dirname "$0")/run.py" --build-dir "$build_dir" "${@:2}"
