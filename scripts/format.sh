#!/bin/sh
# Formats every tracked C++ source file with the repository's .clang-format.
# With --check, changes nothing and exits 1 if any file would change.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--check" ]; then
  # shellcheck disable=SC2086
  clang-format --dry-run --Werror $files
else
  # shellcheck disable=SC2086
  clang-format -i $files
fi
