#!/usr/bin/env bash
# tools/soak.sh [OPS]: the soak test (tests/soak) with OPS operations per
# process (default 100,000; CI runs 5,000).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./bazelw test //tests/soak:soak_test --test_output=all \
  --test_env=SOAK_OPS="${1:-100000}" --test_timeout=3600
