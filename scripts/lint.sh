#!/usr/bin/env bash
# clang-format (check only) and clang-tidy over the project's own sources.
# Exit status is non-zero on any finding.
set -euo pipefail
build_dir=${1:-build}
cd "$(dirname "$0")/.."
echo "lint: clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "lint: clang-tidy"
# Our flags include GCC-only warnings clang does not know.
git ls-files '*.cc' | xargs -P 2 -n 4 clang-tidy -p "$build_dir" --quiet \
  --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-missing-field-initializers 2>/dev/null
echo "lint: ok"
