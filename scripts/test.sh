#!/usr/bin/env bash
# Runs the unit tier (ctest) and the integration tier (pytest with Debian's
# /usr/bin/python3), then prints one summary line. Exit status: non-zero if
# either tier failed.
set -uo pipefail
build_dir=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)

echo "== unit tests (ctest)"
(cd "$build_dir" && ctest --output-on-failure -j 2 -L unit) | tee "$build_dir/unit.log"
unit_rc=${PIPESTATUS[0]}

echo "== integration tests (pytest)"
cd "$root"
WEFT_BUILD_DIR="$build_dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration tests/netns \
  | tee "$build_dir/integration.log"
integration_rc=${PIPESTATUS[0]}

# "N passed, N failed" over both tiers.
unit_total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$build_dir/unit.log" | tail -1)
unit_failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$build_dir/unit.log" | tail -1)
py_passed=$(grep -Eo '[0-9]+ passed' "$build_dir/integration.log" | tail -1 | grep -Eo '[0-9]+')
py_failed=0
for n in $(grep -Eo '[0-9]+ (failed|errors?)' "$build_dir/integration.log" | grep -Eo '[0-9]+'); do
  py_failed=$((py_failed + n))
done
passed=$(( ${unit_total:-0} - ${unit_failed:-0} + ${py_passed:-0} ))
failed=$(( ${unit_failed:-0} + ${py_failed:-0} ))
if [ "$unit_rc" -ne 0 ] || [ "$integration_rc" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1
fi
echo "tests: $passed passed, $failed failed"
[ "$unit_rc" -eq 0 ] && [ "$integration_rc" -eq 0 ]
