#!/usr/bin/env bash
# clang-format (check only) and clang-tidy over the project's own sources.
# Exit status is non-zero on any finding.
set -euo pipefail
build_dir=${1:-build}
# The sanitizer tree (optional): the fuzz harnesses are built there only,
# so its compilation database is the one that knows their flags.
fuzz_dir=${2:-}
cd "$(dirname "$0")/.."
echo "lint: clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "lint: clang-tidy"
# Our flags include GCC-only warnings clang does not know.
tidy() {
  xargs -P 2 -n 4 clang-tidy -p "$1" --quiet \
    --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-missing-field-initializers 2>/dev/null
}
git ls-files '*.cc' ':!fuzz/' | tidy "$build_dir"
if [ -n "$fuzz_dir" ] && [ -f "$fuzz_dir/compile_commands.json" ]; then
  git ls-files 'fuzz/*.cc' | tidy "$fuzz_dir"
fi
echo "lint: ok"
