#!/usr/bin/env bash
# The README quotes no figure by hand: each table between its markers is
# the generated file exactly as the tool wrote both (docs/benchmarks.md by
# //tools:bench_report, docs/peers.md by tools/compare_peers.sh). Fails when
# someone edits one and not the other, or removes the markers.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
readme="$root/README.md"
for table in benchmarks peers; do
  generated="$root/docs/$table.md"
  grep -q "^<!-- $table.md" "$readme" || { echo "README.md: no <!-- $table.md --> marker"; exit 1; }
  grep -q "^<!-- /$table.md -->" "$readme" || { echo "README.md: no <!-- /$table.md --> marker"; exit 1; }
  quoted="$TEST_TMPDIR/$table.md"
  # The lines between the markers, less the blank line the tools leave
  # before the closing one.
  sed -n "/^<!-- $table.md/,/^<!-- \/$table.md -->/p" "$readme" | sed '1d;$d' | sed '${/^$/d}' >"$quoted"
  if ! diff -u "$generated" "$quoted"; then
    echo "README.md's $table table differs from docs/$table.md: run the tool that writes it"
    exit 1
  fi
  [[ $(grep -c '×' "$quoted") -gt 0 ]] || { echo "README.md quotes no measured $table row"; exit 1; }
done
echo "readme_figures_test: ok"
