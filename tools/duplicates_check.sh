#!/usr/bin/env bash
# tools/duplicates_check.sh: the pairs of places that once held the same
# code twice (docs/architecture.md, "Rules that hold across packages") stay
# single. Runs the `duplicates` tool over the tree and fails on any row
# that pairs two of the files below with lines copied to the letter (rows
# alike only in shape, as Lock's and RLock's parallel declarations are,
# pass). Where the tool is not installed, says SKIPPED and exits 2.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v duplicates >/dev/null 2>&1; then
  echo "duplicates check: SKIPPED (the duplicates tool is not installed)"
  exit 2
fi
report=$(duplicates --most 200 --seconds "${DUPLICATES_SECONDS:-300}" 2>&1)
exec python3 - "$report" <<'PY'
import re, sys

report = sys.argv[1]
# Each group: files that must not share copied code with one another.
GROUPS = {
    "framed sockets": ["base/frame_socket.cc", "process/connection.cc",
                       "manager/internal/wire/transport.cc"],
    "descriptor passing": ["base/fd_passing.cc",
                           "process/internal/fork_server.cc",
                           "manager/internal/wire/transport.cc",
                           "base/frame_socket.cc"],
    "pool results": ["process/pool_results.h", "process/pool.h",
                     "manager/pool_proxy.h"],
    "SharedObjectRef readers": ["serialize/internal/shared_object_ref.cc",
                                "shm/shared_ref_codec.cc",
                                "shm/shared_memory.cc",
                                "manager/internal/wire/proxy_ref.cc",
                                "serialize/object.cc"],
    "UTF-8, quoting, numbers": ["serialize/object.cc",
                                "serialize/python_object.cc",
                                "shm/shareable_list.cc"],
    "lock handles": ["sync/lock.h", "sync/rlock.h"],
}
# Allowed on purpose: both pools declare the same blocking calls over their
# async forms (Pool::ApplyAsync beside PoolProxy::ApplyAsync): one API.
ALLOWED = {frozenset(["process/pool.h", "manager/pool_proxy.h"])}

if not re.search(r"^(\d+ pairs of places|no duplicates)", report, re.M):
    print("duplicates check: FAILED, the tool said:\n" + report[-2000:])
    sys.exit(1)
row = re.compile(r"^D\d+ (\S+):\d+-\d+ ~ (\S+):\d+-\d+(.*)$", re.M)
found = []
for match in row.finditer(report):
    left, right, rest = match.group(1), match.group(2), match.group(3)
    if "shape" in rest or left == right:
        continue
    if frozenset([left, right]) in ALLOWED:
        continue
    for name, files in GROUPS.items():
        if left in files and right in files:
            found.append(f"  {name}: {match.group(0)}")
incomplete = [line for line in report.splitlines()
              if line.startswith("incomplete:")]
if found:
    print("duplicates check: FAILED, copied code is back:")
    print("\n".join(found))
    sys.exit(1)
print(f"duplicates check: PASSED, {len(GROUPS)} groups single"
      + (f" ({incomplete[0]})" if incomplete else ""))
PY
