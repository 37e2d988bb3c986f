#!/usr/bin/env bash
# tools/layer_check.sh: no library code reaches up a layer
# (docs/architecture.md). The packages, bottom first:
#
#   base → serialize → shm → sync → process → manager → cluster
#
# and above them all, whatever uses the library (bench, tools, tests,
# examples, the umbrella header). A library file (anything but a test, a
# benchmark, a fuzzer or a testing/ helper, which are leaves nothing
# includes) may include headers of its own package and of the packages
# below it; a cc_library may depend on targets of its own package and
# below. Each package keeps its internals in its own namespace,
# mp::<package>_internal: a file (leaves too) may open only its own
# package's, and a library file may name only those of its package and
# below. Prints each violation and exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import pathlib, re, subprocess, sys

LAYERS = ["base", "serialize", "shm", "sync", "process", "manager", "cluster"]
RANK = {name: rank for rank, name in enumerate(LAYERS)}

def is_leaf(path):
    name = path.name
    return (name.endswith(("_test.cc", "_benchmark.cc", "_fuzzer.cc"))
            or "testing" in path.parts)

violations = []
files = subprocess.run(["git", "ls-files", "*.h", "*.cc"], capture_output=True,
                       text=True, check=True).stdout.split()
checked_files = 0
include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)
opens = re.compile(r'^\s*namespace (?:mp::)?([a-z]+)_internal\b', re.M)
names = re.compile(r'(?<![\w:])(?:mp::)?([a-z]+)_internal::')
for name in files:
    path = pathlib.Path(name)
    package = path.parts[0]
    if package not in RANK:
        continue
    text = path.read_text(errors="replace")
    code = re.sub(r"//[^\n]*", "", text)  # Comments may cite any layer.
    for match in opens.finditer(code):
        if match.group(1) != package:
            line_number = code.count("\n", 0, match.start()) + 1
            violations.append(f"{name}:{line_number}: {package} opens "
                              f"namespace {match.group(1)}_internal")
    if is_leaf(path):
        continue
    checked_files += 1
    for match in names.finditer(code):
        if match.group(1) in RANK and RANK[match.group(1)] > RANK[package]:
            line_number = code.count("\n", 0, match.start()) + 1
            violations.append(f"{name}:{line_number}: {package} names "
                              f"{match.group(1)}_internal, a layer above")
    for line_number, line in enumerate(text.splitlines(), 1):
        match = include.match(line)
        if match and match.group(1) in RANK and RANK[match.group(1)] > RANK[package]:
            violations.append(f"{name}:{line_number}: {package} includes "
                              f"{match.group(1)}, a layer above: {line.strip()}")

# cc_library rules: their deps may not name a package above.
rule = re.compile(r'^cc_library\(\n(.*?)^\)', re.M | re.S)
label = re.compile(r'"//([a-z_]+)[:/"]')
checked_rules = 0
for package in LAYERS:
    build = pathlib.Path(package) / "BUILD.bazel"
    for match in rule.finditer(build.read_text()):
        body = match.group(1)
        target = re.search(r'name = "([^"]+)"', body).group(1)
        if re.search(r'testonly = True', body):
            continue
        checked_rules += 1
        deps = re.search(r'deps = \[(.*?)\]', body, re.S)
        for dep in label.findall(deps.group(1) if deps else ""):
            if dep in RANK and RANK[dep] > RANK[package]:
                violations.append(f"//{package}:{target} depends on //{dep}, "
                                  "a layer above")

if violations:
    print("layer check: FAILED (docs/architecture.md):")
    for violation in violations:
        print("  " + violation)
    sys.exit(1)
print(f"layer check: PASSED, {checked_files} files and {checked_rules} "
      f"libraries of {' → '.join(LAYERS)}")
PY
