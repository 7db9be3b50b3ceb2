#!/usr/bin/env bash
# Runs every libFuzzer harness (or those named) for a bounded time each and
# reports what it found. Usage:
#   fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]
# BUILD_DIR is the sanitizer tree (make build-asan). Each harness starts
# from its committed seeds (fuzz/corpus/NAME), the regression inputs
# (fuzz/regressions/NAME) and what earlier runs found (BUILD_DIR/fuzz/work/
# NAME, kept between runs, never committed). A crash, a sanitizer report, a
# failed property, a timeout (10 s for one input) or an input that needs
# more than 2 GiB is a finding: its input is saved under
# BUILD_DIR/fuzz/findings/NAME/, and the run fails. Two harnesses run at a
# time (one per core). FUZZ_SEED fixes libFuzzer's random seed (CI does,
# so a run explores the same inputs every time it gets as far).
set -uo pipefail
build_dir=$(cd "$1" && pwd)
seconds=$2
shift 2
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

run_one() {
  local name=$1
  local work="$build_dir/fuzz/work/$name" findings="$build_dir/fuzz/findings/$name"
  local log="$build_dir/fuzz/logs/$name.log"
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  local inputs=("$work" "$root/fuzz/corpus/$name")
  [ -d "$root/fuzz/regressions/$name" ] && inputs+=("$root/fuzz/regressions/$name")
  # shellcheck disable=SC2046
  "$build_dir/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
    $(dictionary "$name") "${inputs[@]}" \
    >"$log" 2>&1
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
