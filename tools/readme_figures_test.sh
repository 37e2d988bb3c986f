#!/usr/bin/env bash
# The README quotes no figure by hand: its table between the markers is
# docs/benchmarks.md exactly as //tools:bench_report wrote both. Fails when
# someone edits one and not the other, or removes the markers.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
readme="$root/README.md"
generated="$root/docs/benchmarks.md"
grep -q '^<!-- benchmarks.md' "$readme" || { echo "README.md: no <!-- benchmarks.md --> marker"; exit 1; }
grep -q '^<!-- /benchmarks.md -->' "$readme" || { echo "README.md: no <!-- /benchmarks.md --> marker"; exit 1; }
quoted="$TEST_TMPDIR/quoted.md"
# The lines between the markers, less the blank line bench_report leaves
# before the closing one.
sed -n '/^<!-- benchmarks.md/,/^<!-- \/benchmarks.md -->/p' "$readme" | sed '1d;$d' | sed '${/^$/d}' >"$quoted"
if ! diff -u "$generated" "$quoted"; then
  echo "README.md's table differs from docs/benchmarks.md: run ./bazelw run -c opt //tools:bench_report"
  exit 1
fi
[[ $(grep -c '×' "$quoted") -gt 0 ]] || { echo "README.md quotes no measured row"; exit 1; }
echo "readme_figures_test: ok"
