#!/usr/bin/env bash
# tools/thread_safety.sh: builds the libraries whose shared state is
# annotated with clang's -Wthread-safety as errors (.bazelrc, config
# thread_safety),
# so an access to a member ABSL_GUARDED_BY a mutex without holding it, or a
# call to an ...Locked function without its lock, fails the build. These
# are the targets ThreadSanitizer cannot run (they fork from threaded
# processes): static checking is their race detector. Its own output base
# (clang beside the plain gcc build), shared with tools/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${THREAD_SAFETY_OUTPUT_BASE:-$HOME/.cache/mp-fuzz}
bazel=(./bazelw --output_base="$base")
# The annotated libraries (and, compiled with them, what they depend on).
targets=(
  //base:mutex
  //cluster:cluster
  //manager:server_internal
  //manager:session_internal
  //process:children_internal
  //process:fork_server_internal
  //process:pool_internal
  //shm:shared_heap
  //sync:lock_annotations_test
)
if "${bazel[@]}" build --config=thread_safety --symlink_prefix=/ "${targets[@]}"; then
  echo "thread-safety build: PASSED, ${#targets[@]} targets"
else
  echo "thread-safety build: FAILED"
  exit 1
fi
