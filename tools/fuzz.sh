#!/usr/bin/env bash
# tools/fuzz.sh SECONDS [TARGET...]: builds the fuzz targets with clang and
# libFuzzer (--config=fuzz, in an output base of its own so that the gcc
# build is untouched) and runs each for SECONDS, two at a time. Each starts
# from its seed corpus (copied: what a run discovers stays in
# $FUZZ_WORK/<target>/corpus, not in the tree); crashes land in
# $FUZZ_WORK/<target>/crashes. Prints one line per target, "PASSED" or
# "FAILED" with its executions and crashes, and exits non-zero if any target
# failed: it crashed, it exited with an error (it could not start, say), or
# it ran fewer than FUZZ_MIN_EXECUTIONS inputs (default 100), so a fuzzer
# that did not really run never passes. Copy a crash into the target's
# testdata corpus once fixed: the replay test then keeps it fixed.
#
#   tools/fuzz.sh 600                      # every target, ten minutes each
#   tools/fuzz.sh 60 //serialize:loads_fuzzer
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: tools/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(//serialize:loads_fuzzer //manager:request_fuzzer //manager:call_area_fuzzer
           //shm:shareable_list_fuzzer)
fi
work=${FUZZ_WORK:-/tmp/fuzz-work-mp}
min_executions=${FUZZ_MIN_EXECUTIONS:-100}
base=${FUZZ_OUTPUT_BASE:-$HOME/.cache/mp-fuzz}
bazel=(./bazelw --output_base="$base")

# No convenience symlinks: bazel-bin stays the ordinary build's.
"${bazel[@]}" build --config=fuzz --symlink_prefix=/ "${targets[@]}" >&2
bin=$("${bazel[@]}" info --config=fuzz bazel-bin 2>/dev/null)

run() {
  local target=$1 package=${1#//} name
  name=${package#*:}
  package=${package%%:*}
  local dir="$work/$name"
  # The seed corpus of x_fuzzer is testdata/x_corpus (tests/testing/fuzz.bzl).
  mkdir -p "$dir/corpus" "$dir/crashes"
  rm -f "$dir/verdict"
  cp -n "$package/testdata/${name%_fuzzer}_corpus"/* "$dir/corpus/" 2>/dev/null || true
  local code=0
  "$bin/$package/$name" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/" -timeout=60 -rss_limit_mb=4096 \
      "$dir/corpus" >"$dir/log" 2>&1 || code=$?
  local execs crashes verdict=PASSED why=""
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  crashes=$(find "$dir/crashes" -type f | wc -l)
  if ((crashes > 0)); then
    verdict=FAILED
  elif ((code != 0)); then
    verdict=FAILED why="; exited with code $code: $(tail -1 "$dir/log")"
  elif [[ -z $execs ]] || ((execs < min_executions)); then
    verdict=FAILED why="; fewer than $min_executions executions"
  fi
  echo "$verdict" >"$dir/verdict"
  echo "$target: $verdict, ${execs:-no} executions, $crashes crashes$why ($dir)"
}

status=0
pids=()
for target in "${targets[@]}"; do
  run "$target" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait
for target in "${targets[@]}"; do
  name=${target#*:}
  if [[ $(cat "$work/$name/verdict" 2>/dev/null) != PASSED ]]; then status=1; fi
done
exit "$status"
