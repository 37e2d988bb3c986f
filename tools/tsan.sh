#!/usr/bin/env bash
# tools/tsan.sh: ThreadSanitizer over every test that it can follow. TSan
# cannot follow a fork from a process that already runs threads (the child
# inherits locks and thread state it does not model), so the targets that do
# that (the manager, the pool, the queue's feeder side, whole-system tests)
# are tagged "notsan" and run under asan and ubsan instead.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./bazelw test --config=tsan --test_tag_filters=-notsan "${@:-//...}"
