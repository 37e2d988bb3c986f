#!/usr/bin/env bash
# cluster/mpirun_test.sh BINARY RANKS TRANSPORT [ARGS...]: runs the gtest
# program BINARY, with ARGS, as an MPI job of RANKS ranks on this machine,
# its messages over shared memory (TRANSPORT vader) or TCP on loopback
# (tcp). mpirun runs
# under a hard limit: it has been seen to outlive its own abort.
set -euo pipefail
binary=$1
ranks=$2
case $3 in
  vader) transport=(--mca btl self,vader
                    --mca btl_vader_single_copy_mechanism none) ;;
  tcp) transport=(--mca btl self,tcp --mca btl_tcp_if_include lo) ;;
  *) echo "mpirun_test.sh: unknown transport $3" >&2; exit 2 ;;
esac
# Rank 0's test results, where Bazel collects them.
if [[ -n ${XML_OUTPUT_FILE:-} ]]; then
  export GTEST_OUTPUT="xml:$XML_OUTPUT_FILE"
fi
# Under AddressSanitizer (--config=asan), no leak check for the ranks:
# Open MPI's plugins, loaded and unloaded with dlopen, leave allocations
# LeakSanitizer can neither name nor suppress. The plain cluster_test, which
# starts no MPI, keeps the check for this package's own code.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
exec timeout -k 10 300 mpirun --allow-run-as-root --oversubscribe \
  -n "$ranks" "${transport[@]}" --mca oob_tcp_if_include lo -x ASAN_OPTIONS \
  -x GTEST_OUTPUT "$binary" "${@:4}"
