#!/usr/bin/env bash
# Runs every test tier and prints one summary line:
#   lint         clang-format and clang-tidy (counted as one check)
#   unit         ctest on the regular build
#   sanitizers   ctest on the ASan+UBSan build (when its directory is given),
#                which replays every fuzz harness's corpus
#   fuzzing      each libFuzzer harness searching briefly (fuzz/run.sh --ci)
#   integration  pytest with Debian's /usr/bin/python3: the real binaries on
#                loopback, and capture in network namespaces; also the
#                benchmark harness's statistics (tests/bench)
# Exit status: non-zero if any tier failed.
set -uo pipefail
build_dir=$(cd "${1:-build}" && pwd)
asan_dir=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0
failed=0
status=0

# Adds a ctest log's counts to the totals.
count_ctest() {
  local total failures
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -1)
  failures=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$1" | tail -1)
  passed=$((passed + ${total:-0} - ${failures:-0}))
  failed=$((failed + ${failures:-0}))
}

echo "== lint (clang-format, clang-tidy)"
if bash scripts/lint.sh "$build_dir" "$asan_dir"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

echo "== unit tests (ctest)"
(cd "$build_dir" && ctest --output-on-failure -j 2 -L unit) | tee "$build_dir/unit.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
count_ctest "$build_dir/unit.log"

if [ -n "$asan_dir" ]; then
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (ctest)"
  # Reads of a returned stack frame are found only with fake stacks
  # (docs/security.md, finding 10).
  (cd "$asan_dir" && ASAN_OPTIONS=detect_stack_use_after_return=1 ctest --output-on-failure -j 2 -L unit) \
    | tee "$build_dir/asan.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  count_ctest "$build_dir/asan.log"
fi

if [ -n "$asan_dir" ] && [ -d "$asan_dir/fuzz" ]; then
  # The replays of every harness's corpus ran with the unit tests above;
  # this searches for new inputs, briefly (make fuzz searches longer).
  echo "== fuzzing (fuzz/run.sh --ci: the input counts of fuzz/ci-runs, seed 1)"
  bash fuzz/run.sh --ci "$asan_dir" | tee "$build_dir/fuzz.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  passed=$((passed + $(grep -c '^fuzz: .* ok ' "$build_dir/fuzz.log")))
  failed=$((failed + $(grep -c '^fuzz: .* FOUND ' "$build_dir/fuzz.log")))
fi

echo "== integration tests (pytest)"
WEFT_BUILD_DIR="$build_dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bench tests/integration tests/netns tests/kubernetes \
  | tee "$build_dir/integration.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
py_passed=$(grep -Eo '[0-9]+ passed' "$build_dir/integration.log" | tail -1 | grep -Eo '[0-9]+')
passed=$((passed + ${py_passed:-0}))
for n in $(grep -Eo '[0-9]+ (failed|errors?)' "$build_dir/integration.log" | grep -Eo '[0-9]+'); do
  failed=$((failed + n))
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
