#!/usr/bin/env bash
# tools/format_check.sh: every C++ file of the repository is as clang-format
# (.clang-format: Google's style) would write it. Prints the files that are
# not and exits 1; `tools/format_check.sh --fix` rewrites them instead.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.h' '*.cc')
if [[ ${1:-} == --fix ]]; then
  exec clang-format -i "${files[@]}"
fi
unformatted=()
for file in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    unformatted+=("$file")
  fi
done
if ((${#unformatted[@]} > 0)); then
  echo "format check: FAILED, not as clang-format writes them (tools/format_check.sh --fix):"
  printf '  %s\n' "${unformatted[@]}"
  exit 1
fi
echo "format check: PASSED, ${#files[@]} files"
