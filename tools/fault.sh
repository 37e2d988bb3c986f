#!/usr/bin/env bash
# tools/fault.sh [ITERATIONS]: the fault-injection suite (tests/fault) with
# many trials per scenario (default 200; CI runs 5). A failure prints its
# FAULT_SEED; rerun with --test_env=FAULT_SEED=... to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./bazelw test //tests/fault:fault_test --test_output=all \
  --test_env=FAULT_ITERATIONS="${1:-200}" --test_timeout=3600
