#!/usr/bin/env bash
# bench_report on two quick binaries: a table row per figure with a ratio,
# an SVG with a bar per figure, and exit 1 for a binary it does not know.
set -euo pipefail
tool="$TEST_SRCDIR/$TEST_WORKSPACE/tools/bench_report"
export RUNFILES_DIR="$tool.runfiles"
out="$TEST_TMPDIR/report"
"$tool" --out="$out" --min_time=0.01 --repetitions=1 \
  --only=serialize/serialize_benchmark,shm/shared_memory_benchmark >"$TEST_TMPDIR/stdout"
table="$out/benchmarks.md"
grep -q '^| Figure | ours | baseline' "$table"
rows=$(grep -c '^| [A-Z].*×' "$table")
[[ $rows -eq 4 ]] || { echo "expected 4 measured rows, got $rows"; cat "$table"; exit 1; }
grep -q '| Dumps+Loads of a 1000-entry map of records | .* | hand-written protobuf: .* | .*×' "$table"
# A size row shows bytes, and says smaller or larger.
grep -q '| Serialized size of the same map .* | [0-9.]* KB | hand-written protobuf: [0-9.]* KB | .*× \(smaller\|larger\)' "$table"
grep -q '<svg' "$out/benchmarks.svg"
bars=$(grep -c '<rect x=' "$out/benchmarks.svg")
[[ $bars -eq 4 ]] || { echo "expected 4 bars, got $bars"; exit 1; }
cmp -s "$TEST_TMPDIR/stdout" "$table"
# A row on the slowest repetition says so, and is measured from them.
"$tool" --out="$out/slowest" --min_time=0.01 --repetitions=2 \
  --only=process/queue_benchmark >/dev/null
grep -q '| Queue of 8-byte items, 2 processes on 2 CPUs (ours: the slowest repetition) | .* | Boost.Interprocess message_queue: .* | .*×' \
  "$out/slowest/benchmarks.md" || { cat "$out/slowest/benchmarks.md"; exit 1; }
if "$tool" --out="$out" --only=no/such_benchmark 2>/dev/null; then
  echo "an unknown binary was accepted"; exit 1
fi
echo "bench_report_test: ok"
