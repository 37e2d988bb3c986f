#!/usr/bin/env bash
# cluster/boundary_test.sh TEST WORKER MODE: runs the gtest program TEST as
# rank 0 of a 3-rank MPI job on this machine whose two worker ranks differ
# from it (see cluster/boundary_test.cc):
#   MODE other-shm: the workers run TEST too, each in a mount namespace of
#     its own with a fresh tmpfs on /dev/shm, as on another host. Messages
#     go over TCP on loopback (Open MPI's shared memory transport would need
#     the shared /dev/shm).
#   MODE other-build: the workers run WORKER, another executable.
set -euo pipefail
test_binary=$1
worker=$2
mode=$3
if [[ -n ${XML_OUTPUT_FILE:-} ]]; then
  export GTEST_OUTPUT="xml:$XML_OUTPUT_FILE"
fi
# No leak check for MPI ranks under AddressSanitizer (see mpirun_test.sh).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
common=(--allow-run-as-root --oversubscribe --mca btl self,tcp
        --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo
        -x ASAN_OPTIONS)
case $mode in
  other-shm)
    # The case needs a mount namespace; say so rather than pass untested.
    if ! unshare --mount --propagation private \
        sh -c 'mount -t tmpfs none /dev/shm' 2>/dev/null; then
      echo "FAILED: cannot make a mount namespace with its own /dev/shm here"
      exit 1
    fi
    exec timeout -k 10 300 mpirun "${common[@]}" \
      -n 1 -x GTEST_OUTPUT "$test_binary" \
        --gtest_filter=BoundaryTest.ALockSentToAnotherHostIsRefused : \
      -n 2 unshare --mount --propagation private sh -c \
        'mount -t tmpfs none /dev/shm && exec "$0"' "$test_binary"
    ;;
  other-build)
    exec timeout -k 10 300 mpirun "${common[@]}" \
      -n 1 -x GTEST_OUTPUT "$test_binary" \
        --gtest_filter=BoundaryTest.AFunctionFromAnotherBuildIsRefused : \
      -n 2 "$worker"
    ;;
  *) echo "boundary_test.sh: unknown mode $mode" >&2; exit 2 ;;
esac
