#!/usr/bin/env bash
# tools/compare_peers.sh: ours beside what a user would pick instead —
# Python 3's multiprocessing, Redis 7, Boost.Interprocess — measured in one
# run on this machine. Installs Redis through ./bazelw --install-peers (for
# this tool only; nothing else uses it), builds our benchmarks optimised,
# and writes docs/peers.md, docs/peers.svg and the README's table between
# its <!-- peers.md --> markers (tools/peers/compare_peers.py says how each
# row is measured). Takes a few minutes; not part of CI.
#
#   tools/compare_peers.sh
#   PEERS_MIN_TIME=1 tools/compare_peers.sh     # longer runs of ours
set -euo pipefail
cd "$(dirname "$0")/.."
./bazelw --install-peers
./bazelw build -c opt //manager:manager_benchmark //process:queue_benchmark \
  //process:pool_benchmark //process:process_benchmark //sync:lock_benchmark \
  //sync:sharedctypes_benchmark //shm:shared_memory_benchmark
python3 tools/peers/compare_peers.py "$(./bazelw info -c opt bazel-bin 2>/dev/null)" docs README.md
