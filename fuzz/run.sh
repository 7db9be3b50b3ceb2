#!/usr/bin/env bash
# Runs the libFuzzer harnesses (all, or those named) and reports what they
# found. Two modes:
#
#   fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]   a search (make fuzz)
#   fuzz/run.sh --ci BUILD_DIR [HARNESS...]      CI's short search
#
# BUILD_DIR is the sanitizer tree (make build-asan). A search runs each
# harness for SECONDS from its committed seeds (fuzz/corpus/NAME), its
# regression inputs (fuzz/regressions/NAME) and what earlier searches
# found (BUILD_DIR/fuzz/work/NAME, kept between runs, never committed), with
# a random seed unless FUZZ_SEED sets one.
#
# CI's search starts from the committed inputs alone, with seed 1, and runs
# the number of inputs fuzz/ci-runs gives each harness (about 20 s each
# here), so a slower machine explores as much, only slower; it stops at
# FUZZ_BACKSTOP_SECONDS (default 120) per harness regardless. libFuzzer's
# search still depends on timing, so two runs do not explore exactly the
# same inputs: searches here before a commit run far longer than CI's.
#
# A crash, a sanitizer report, a failed property, a timeout (10 s for one
# input) or an input that needs more than 2 GiB is a finding: its input is
# saved under BUILD_DIR/fuzz/findings/NAME/, and the run fails. Two
# harnesses run at a time (one per core).
set -uo pipefail
ci=false
if [ "${1:-}" = --ci ]; then
  ci=true
  shift
fi
build_dir=$(cd "$1" && pwd)
shift
if ! $ci; then
  seconds=$1
  shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for binary in "$build_dir"/fuzz/fuzz_*; do harnesses+=("${binary##*/fuzz_}"); done
fi
if [ ${#harnesses[@]} -eq 0 ]; then
  echo "fuzz: no harnesses in $build_dir/fuzz (configure with -DWEFT_FUZZ=ON)" >&2
  exit 1
fi

dictionary() {
  case "$1" in
    http1_*) echo "-dict=$root/fuzz/dict/http1.dict" ;;
    http2_*) echo "-dict=$root/fuzz/dict/http2.dict" ;;
    proxy_config_yaml | manifests) echo "-dict=$root/fuzz/dict/yaml.dict" ;;
  esac
}

committed_inputs() {
  local name=$1
  printf '%s\n' "$root/fuzz/corpus/$name"
  [ -d "$root/fuzz/regressions/$name" ] && printf '%s\n' "$root/fuzz/regressions/$name"
}

# The libFuzzer flags of one harness's run.
mode_flags() {
  local name=$1
  if $ci; then
    local runs
    runs=$(awk -v n="$name" '$1 == n { print $2 }' "$root/fuzz/ci-runs")
    if [ -z "$runs" ]; then
      echo "fuzz: $name has no line in fuzz/ci-runs" >&2
      return 1
    fi
    echo "-seed=1 -runs=$runs -max_total_time=${FUZZ_BACKSTOP_SECONDS:-120}"
  else
    echo "-max_total_time=$seconds ${FUZZ_SEED:+-seed=$FUZZ_SEED}"
  fi
}

run_one() {
  local name=$1
  local work="$build_dir/fuzz/work/$name" findings="$build_dir/fuzz/findings/$name"
  local log="$build_dir/fuzz/logs/$name.log"
  if $ci; then
    work="$build_dir/fuzz/ci/$name"
    rm -rf "$work"
  fi
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  local flags inputs=("$work")  # libFuzzer writes what it finds to the first folder
  flags=$(mode_flags "$name") || return 1
  mapfile -t -O 1 inputs < <(committed_inputs "$name")
  # shellcheck disable=SC2046,SC2086
  "$build_dir/fuzz/fuzz_$name" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" $(dictionary "$name") $flags "${inputs[@]}" >"$log" 2>&1
  local status=$?
  local runs cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
  if [ "$status" -eq 0 ]; then
    printf 'fuzz: %-20s ok     %8s inputs  coverage %s\n' "$name" "${runs:-0}" "${cov:-?}"
  else
    printf 'fuzz: %-20s FOUND  see %s and %s\n' "$name" "$log" "$findings"
    grep -m 5 -E 'ERROR:|property failed|runtime error' "$log" | sed 's/^/      /'
  fi
  return "$status"
}

status=0
pids=()
for name in "${harnesses[@]}"; do
  run_one "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit "$status"
