#!/usr/bin/env bash
# cluster/killed_rank_test.sh BINARY TRANSPORT MODE: runs
# cluster/testing/killed_rank.cc as a job of 3 ranks whose worker running
# item 5 SIGKILLs itself, and checks that the job ends (within the hard
# limit, never a hang) and says which rank died.
#
# MODE ours: mpirun is told not to end the job itself
# (orte_enable_recovery), so what ends it is rank 0 noticing the dead
# worker on its own: its Map fails with Aborted naming the rank and the
# chunk it held, and the pool refuses work after. MODE mpirun: mpirun's
# teardown as it comes; either side may speak first, but the job ends.
set -uo pipefail
binary=$1
case $2 in
  vader) transport=(--mca btl self,vader
                    --mca btl_vader_single_copy_mechanism none) ;;
  tcp) transport=(--mca btl self,tcp --mca btl_tcp_if_include lo) ;;
  *) echo "killed_rank_test.sh: unknown transport $2" >&2; exit 2 ;;
esac
mode=$3
extra=()
[[ $mode == ours ]] && extra=(--mca orte_enable_recovery 1)
# Under AddressSanitizer (--config=asan), no leak check for the ranks:
# Open MPI's plugins, loaded and unloaded with dlopen, leave allocations
# LeakSanitizer can neither name nor suppress. The plain cluster_test, which
# starts no MPI, keeps the check for this package's own code.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
limit=${KILLED_RANK_LIMIT:-60}
fail() { echo "FAILED: $*"; return 1; }

# One run of the job; returns 0 when it ended as it should.
attempt() {
  local start=$SECONDS output status elapsed log pid
  log=$(mktemp)
  # In a session of its own, so that a hung job is killed whole: ranks
  # included, which killing mpirun alone would leave behind.
  setsid mpirun --allow-run-as-root --oversubscribe -n 3 "${transport[@]}" \
    --mca oob_tcp_if_include lo -x ASAN_OPTIONS "${extra[@]}" "$binary" \
    >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && ((SECONDS - start < limit)); do
    sleep 0.2  # Polling for the hard limit, not waiting for an event.
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    sleep 5
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid"
  status=$?
  elapsed=$((SECONDS - start))
  output=$(cat "$log")
  rm -f "$log"
  echo "$output"
  echo "mpirun exited with $status after ${elapsed} s"
  ((elapsed < limit)) || { fail "the job did not end within $limit s"; return 1; }
  # Rank 2 or 1, whichever ran item 5.
  if [[ $mode == ours ]]; then
    grep -Eq '^map: ABORTED: cluster: worker rank [12] \(pid [0-9]+ on .*\) died while it held chunk 5 of job 1' <<<"$output" ||
      { fail "rank 0's Map did not fail naming the dead rank and its chunk"; return 1; }
    grep -Eq '^after: FAILED_PRECONDITION: cluster: worker rank [12] ' <<<"$output" ||
      { fail "the pool did not refuse work after the death"; return 1; }
  else
    [[ $status -ne 0 ]] || { fail "the job ended as if nothing had happened"; return 1; }
    grep -Eq 'worker rank [12] |process rank [12] ' <<<"$output" ||
      { fail "nothing named the dead rank"; return 1; }
  fi
}

# mpirun's recovery mode (MODE ours) has bugs of its own: it has been seen
# to crash (SIGSEGV in pmix_server_log_fn) or hang after "ORTE_ERROR_LOG:
# Data unpack would read past end of buffer" once a rank dies, taking rank
# 0's output with it. So that mode gets three attempts; a fault of ours
# (rank 0 not noticing, or a wrong message) fails all three.
attempts=1
[[ $mode == ours ]] && attempts=3
for ((n = 1; n <= attempts; n++)); do
  echo "---- attempt $n of $attempts"
  if attempt; then
    echo PASSED
    exit 0
  fi
done
exit 1
