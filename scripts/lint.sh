#!/usr/bin/env bash
# clang-format (check only) and clang-tidy over the project's own sources.
set -euo pipefail
build_dir=${1:-build}
files=$(git ls-files '*.cc' '*.h')
echo "lint: clang-format"
clang-format --dry-run --Werror $files
echo "lint: clang-tidy"
git ls-files '*.cc' | xargs -P 2 -n 4 clang-tidy -p "$build_dir" --quiet 2>/dev/null
echo "lint: ok"
