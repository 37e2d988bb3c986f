#!/usr/bin/env bash
# tools/bench_smoke.sh [TARGET...]: runs every benchmark binary (those tagged
# "benchmark"; or the TARGETs given) once, briefly, optimised, so that a
# benchmark that crashes, hangs, no longer builds or reports an error is
# noticed before someone measures. Google Benchmark's SkipWithError (a
# benchmark's own check failing, such as lost increments) still exits 0, so
# each run's JSON report is read for `error_occurred`. Finding no benchmark
# at all is a failure too. Prints one line per binary, "PASSED" or "FAILED"
# with the reason, and exits non-zero if any failed.
#
#   tools/bench_smoke.sh                         # what CI runs
#   tools/bench_smoke.sh //sync:lock_benchmark
#
# BENCH_SMOKE_TIMEOUT: seconds one binary may take (default 600).
set -uo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if ((${#targets[@]} == 0)); then
  if ! found=$(./bazelw query 'attr(tags, "benchmark", kind(cc_binary, //...))' 2>/dev/null) ||
      [[ -z $found ]]; then
    echo "benchmark smoke run: the query for benchmark binaries failed or found none: FAILED"
    exit 1
  fi
  read -r -d '' -a targets <<<"$found"
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
for target in "${targets[@]}"; do
  rm -f "$report"
  verdict=PASSED
  why=""
  if ! timeout -k 10 "${BENCH_SMOKE_TIMEOUT:-600}" ./bazelw run -c opt "$target" -- \
      --benchmark_min_time=0.01 --benchmark_out="$report" \
      --benchmark_out_format=json >/dev/null 2>&1; then
    verdict=FAILED
    why=" (it exited with an error or ran out of time)"
  elif ! why=$(python3 - "$report" <<'PY'
import json, sys
try:
    runs = json.load(open(sys.argv[1]))["benchmarks"]
except (OSError, ValueError, KeyError) as error:
    print(f" (no JSON report: {error})")
    sys.exit(1)
errors = [f"{run['name']}: {run.get('error_message', '')}"
          for run in runs if run.get("error_occurred")]
if not runs or errors:
    print(" (" + ("; ".join(errors) if errors else "no benchmark ran") + ")")
    sys.exit(1)
PY
  ); then
    verdict=FAILED
  fi
  echo "benchmark smoke run: $target $verdict$why"
  [[ $verdict == PASSED ]] || status=1
done
exit "$status"
