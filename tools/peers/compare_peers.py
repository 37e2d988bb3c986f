"""Ours beside what a user would pick instead, from one run.

Run by tools/compare_peers.sh (which installs Redis and builds our
benchmarks first); writes docs/peers.md, docs/peers.svg and the README's
table between its <!-- peers.md --> markers (//tools:readme_figures_test
checks the two agree).

    python3 tools/peers/compare_peers.py BAZEL_BIN OUT_DIR README

Each row is one workload: our benchmark's figure, the peer's, and the
ratio, all measured in this run, on this machine. The peers:

- Python 3's multiprocessing (tools/peers/python_peers.py, run by the
  system's python3);
- Redis 7 over a Unix socket (redis-server and redis-benchmark, the server
  pinned to CPU 1 and the client to CPU 0 as our manager's are, except
  the many-client rows, which no one pins), beside our manager's calls
  through shared memory (its default on one machine) and, for SET and GET,
  over our own Unix socket too;
- Boost.Interprocess, which our lock and queue benchmarks measure in the
  same binary.

A figure is the time per operation; "ratio" says how many times faster
ours is (or slower). A workload one side does not have is a row with a
dash, never a made-up figure.
"""

import datetime
import json
import math
import os
import pathlib
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPETITIONS = 3
MIN_TIME = float(os.environ.get("PEERS_MIN_TIME", "0.3"))
PEER_CPU = "1" if (os.cpu_count() or 1) > 1 else "0"

# (our binary, our benchmark, how to read it: "real_time", "items", or a
# counter's name giving a rate).
DICT_SET = ("manager/manager_benchmark", "BM_DictSet/shm:1/cpus:2/real_time", "items")
DICT_GET = ("manager/manager_benchmark", "BM_DictGet/shm:1/cpus:2/real_time", "items")
SOCKET_DICT_SET = ("manager/manager_benchmark", "BM_DictSet/shm:0/cpus:2/real_time", "items")
SOCKET_DICT_GET = ("manager/manager_benchmark", "BM_DictGet/shm:0/cpus:2/real_time", "items")
LIST_APPEND = ("manager/manager_benchmark", "BM_ListAppend/shm:1/cpus:2/real_time", "items")
NESTED = ("manager/manager_benchmark", "BM_NestedListAppend/shm:1/cpus:2/real_time", "items")
INCREMENT = ("manager/manager_benchmark", "BM_DictIncrement/shm:1/cpus:2/real_time", "items")
BATCH16 = ("manager/manager_benchmark", "BM_DictSetBatched16/shm:1/cpus:2/real_time", "items")
BATCH1000 = ("manager/manager_benchmark", "BM_DictSetBatched/shm:1/cpus:2/real_time", "items")
CLIENTS4 = ("manager/manager_benchmark", "BM_DictSet4Clients/shm:1/real_time", "items")
QUEUE8 = ("process/queue_benchmark", "BM_Queue8Bytes/cpus:2/real_time", "real_time")
QUEUE8_ONE_CPU = ("process/queue_benchmark", "BM_Queue8Bytes/cpus:1/real_time", "real_time")
QUEUE1M = ("process/queue_benchmark", "BM_Queue1MiB/cpus:2/real_time", "real_time")
BOOST_QUEUE8 = ("process/queue_benchmark", "BM_BoostMessageQueue8Bytes/cpus:2/real_time",
                "real_time")
BOOST_QUEUE8_ONE_CPU = ("process/queue_benchmark",
                        "BM_BoostMessageQueue8Bytes/cpus:1/real_time", "real_time")
BOOST_QUEUE1M = ("process/queue_benchmark", "BM_BoostMessageQueue1MiB/cpus:2/real_time",
                 "real_time")
POOL_MAP = ("process/pool_benchmark", "BM_PoolMap/2/real_time", "items")
POOL_APPLY = ("process/pool_benchmark", "BM_PoolApply/real_time", "real_time")
LOCK = ("sync/lock_benchmark", "BM_Uncontended<HandleLock>", "real_time")
BOOST_LOCK = ("sync/lock_benchmark", "BM_Uncontended<BoostMutex>", "real_time")
LOCK2 = ("sync/lock_benchmark", "BM_TwoProcessCounter<PlacedLock>/0/real_time",
         "total_increments_per_s")
BOOST_LOCK2 = ("sync/lock_benchmark", "BM_TwoProcessCounter<BoostMutex>/0/real_time",
               "total_increments_per_s")
VALUE = ("sync/sharedctypes_benchmark", "BM_ValueIncrement", "real_time")
SHM = ("shm/shared_memory_benchmark", "BM_SharedMemoryCreateUnlink_FreshName", "real_time")
FORK = ("process/process_benchmark", "BM_ProcessFork/real_time", "real_time")
SPAWN = ("process/process_benchmark", "BM_ProcessSpawn/real_time", "real_time")
FORKSERVER = ("process/process_benchmark", "BM_ProcessForkServer/real_time", "real_time")

# Redis runs: (command, clients, pipeline, requests).
REDIS_RUNS = [
    (command, clients, pipeline, requests)
    for clients, pipeline, requests in ((1, 1, 50_000), (1, 16, 400_000),
                                        (1, 1000, 2_000_000), (8, 1, 200_000))
    for command in ("SET", "GET", "INCR", "LPUSH")
]

# Sections: (title, peer, rows); a row is (workload, ours or None, peer's
# key or None).
SECTIONS = [
    ("Python 3's multiprocessing", "python", [
        ("manager `d[k] = v`", DICT_SET, "manager d[k] = v"),
        ("manager `d[k]`", DICT_GET, "manager d[k]"),
        ("manager `l.append(x)`", LIST_APPEND, "manager l.append(x)"),
        ("manager `d['items'].append(x)` (a list in a dict)", NESTED,
         "manager d['items'].append(x)"),
        ("`Queue` put+get of 8 bytes, 2 processes", QUEUE8, "Queue put+get, 8 bytes"),
        ("`Queue` put+get of 1 MiB, 2 processes", QUEUE1M, "Queue put+get, 1 MiB"),
        ("`Pool(2).map` of tiny tasks (per task)", POOL_MAP,
         "Pool.map of tiny tasks (per task)"),
        ("`Pool(1).apply` round trip, worker on the other CPU", POOL_APPLY, "Pool.apply round trip"),
        ("`Lock` acquire+release, uncontended", LOCK, "Lock acquire+release, uncontended"),
        ("`Value` increment under its lock", VALUE, "Value increment under its lock"),
        ("`SharedMemory` create+unlink, 4 KiB", SHM, "SharedMemory create+unlink, 4 KiB"),
        ("`Process` start+join, fork", FORK, "Process start+join (fork)"),
        ("`Process` start+join, spawn", SPAWN, "Process start+join (spawn)"),
        ("`Process` start+join, forkserver", FORKSERVER, "Process start+join (forkserver)"),
    ]),
    ("Redis 7 over a Unix socket (`redis-benchmark -s`)", "redis", [
        ("SET, 1 client, no pipelining (`-c 1 -P 1`) / `d[k] = v`", DICT_SET,
         "SET -c 1 -P 1"),
        ("GET, `-c 1 -P 1` / `d[k]`", DICT_GET, "GET -c 1 -P 1"),
        ("SET, `-c 1 -P 1` / `d[k] = v` over our Unix socket too", SOCKET_DICT_SET,
         "SET -c 1 -P 1"),
        ("GET, `-c 1 -P 1` / `d[k]` over our Unix socket too", SOCKET_DICT_GET,
         "GET -c 1 -P 1"),
        ("INCR, `-c 1 -P 1` / `d.increment(k)`", INCREMENT, "INCR -c 1 -P 1"),
        ("LPUSH, `-c 1 -P 1` / `l.append(x)`", LIST_APPEND, "LPUSH -c 1 -P 1"),
        ("SET, `-P 16` / a `Batch` of 16 `d[k] = v`", BATCH16, "SET -c 1 -P 16"),
        ("GET, `-P 16`", None, "GET -c 1 -P 16"),
        ("INCR, `-P 16`", None, "INCR -c 1 -P 16"),
        ("LPUSH, `-P 16`", None, "LPUSH -c 1 -P 16"),
        ("SET, `-P 1000` / a `Batch` of 1000 `d[k] = v`", BATCH1000, "SET -c 1 -P 1000"),
        ("GET, `-P 1000`", None, "GET -c 1 -P 1000"),
        ("INCR, `-P 1000`", None, "INCR -c 1 -P 1000"),
        ("LPUSH, `-P 1000`", None, "LPUSH -c 1 -P 1000"),
        ("SET, 8 clients (`-c 8`) / 4 client processes `d[k] = v`, not pinned",
         CLIENTS4, "SET -c 8 -P 1"),
        ("GET, `-c 8`", None, "GET -c 8 -P 1"),
        ("INCR, `-c 8`", None, "INCR -c 8 -P 1"),
        ("LPUSH, `-c 8`", None, "LPUSH -c 8 -P 1"),
    ]),
    ("Boost.Interprocess (the same binary as ours)", "boost", [
        ("lock+unlock, uncontended (`interprocess_mutex`)", LOCK, BOOST_LOCK),
        ("2 processes on 2 CPUs incrementing one counter, per increment", LOCK2,
         BOOST_LOCK2),
        ("queue of 8-byte items, 2 CPUs (`message_queue`)", QUEUE8, BOOST_QUEUE8),
        ("queue of 8-byte items, 1 CPU", QUEUE8_ONE_CPU, BOOST_QUEUE8_ONE_CPU),
        ("queue of 1 MiB items, 2 CPUs", QUEUE1M, BOOST_QUEUE1M),
    ]),
]


def log(*args):
    print("compare_peers:", *args, file=sys.stderr, flush=True)


def run_ours(bazel_bin):
    """binary -> name -> fields, from one run of each benchmark binary."""
    wanted = {}
    for _, _, rows in SECTIONS:
        for _, ours, peer in rows:
            for spec in (ours, peer if isinstance(peer, tuple) else None):
                if spec:
                    wanted.setdefault(spec[0], set()).add(spec[1])
    results = {}
    for binary, names in sorted(wanted.items()):
        log("running", binary)
        patterns = []
        for name in sorted(names):
            base = name[: -len("/real_time")] if name.endswith("/real_time") else name
            patterns.append("^" + re.escape(base) + "(/real_time)?$")
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(
                [os.path.join(bazel_bin, binary),
                 "--benchmark_filter=" + "|".join(patterns),
                 f"--benchmark_min_time={MIN_TIME}",
                 f"--benchmark_repetitions={REPETITIONS}",
                 "--benchmark_out=" + out.name, "--benchmark_out_format=json"],
                check=True, stdout=subprocess.DEVNULL)
            report = json.load(open(out.name))
        figures = {}
        for entry in report["benchmarks"]:
            if entry.get("error_occurred"):
                raise SystemExit(f"{binary}: {entry['name']}: {entry.get('error_message')}")
            if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") == "median":
                figures[entry["run_name"]] = entry
        results[binary] = figures
    return results


def ours_ns(results, spec):
    binary, name, field = spec
    entry = results.get(binary, {}).get(name)
    if entry is None:
        raise SystemExit(f"{binary}: no figure for {name}")
    if field == "real_time":
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[entry["time_unit"]]
        return entry["real_time"] * scale
    rate = entry["items_per_second"] if field == "items" else entry[field]
    return 1e9 / rate


def run_python():
    log("running Python's multiprocessing workloads")
    script = pathlib.Path(__file__).with_name("python_peers.py")
    # The system's python3 (Debian's), as the interoperability tests use.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    out = subprocess.run([python, str(script)], check=True, capture_output=True, text=True)
    version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout
    return json.loads(out.stdout), version.strip()


def run_redis():
    log("running Redis")
    directory = tempfile.mkdtemp(prefix="peers-redis-")
    path = os.path.join(directory, "redis.sock")
    server = subprocess.Popen(
        ["taskset", "-c", PEER_CPU, "redis-server", "--port", "0", "--unixsocket", path,
         "--save", "", "--appendonly", "no", "--logfile", os.path.join(directory, "log")],
        stdout=subprocess.DEVNULL)
    figures = {}
    try:
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("redis-server did not open its socket")
        for command, clients, pipeline, requests in REDIS_RUNS:
            pinned = clients == 1
            # Many clients: no one pins them, nor the server.
            subprocess.run(["taskset", "-p", "-c", PEER_CPU if pinned else
                            f"0-{(os.cpu_count() or 1) - 1}", str(server.pid)],
                           check=True, stdout=subprocess.DEVNULL)
            prefix = ["taskset", "-c", "0"] if pinned else []
            rates = []
            for _ in range(REPETITIONS):
                out = subprocess.run(
                    prefix + ["redis-benchmark", "-s", path, "-t", command.lower(), "-n",
                              str(requests), "-c", str(clients), "-P", str(pipeline), "--csv"],
                    check=True, capture_output=True, text=True).stdout
                row = [line for line in out.splitlines() if line.startswith(f'"{command}')]
                rates.append(float(row[0].split(",")[1].strip('"')))
            rates.sort()
            figures[f"{command} -c {clients} -P {pipeline}"] = 1e9 / rates[len(rates) // 2]
        version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                 text=True).stdout.split()[2].removeprefix("v=")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)
    return figures, version


def time_text(ns):
    if ns < 1e3:
        return f"{ns:.3g} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def ratio_text(ours, peer):
    ratio = peer / ours
    if ratio >= 1.05:
        return f"**{ratio:.3g}× faster**"
    if ratio <= 1 / 1.05:
        return f"{1 / ratio:.3g}× slower"
    return f"even ({ratio:.2f}×)"


def boost_version():
    try:
        text = open("/usr/include/boost/version.hpp").read()
        number = int(re.search(r"#define BOOST_VERSION (\d+)", text).group(1))
        return f"{number // 100000}.{number // 100 % 1000}"
    except (OSError, AttributeError):
        return "?"


def main():
    bazel_bin, out_dir, readme = sys.argv[1:4]
    ours = run_ours(bazel_bin)
    python, python_version = run_python()
    redis, redis_version = run_redis()
    peers = {"python": python, "redis": redis}
    rows = []  # (section, workload, ours ns or None, peer ns or None)
    for title, peer, section_rows in SECTIONS:
        for workload, our_spec, peer_key in section_rows:
            mine = ours_ns(ours, our_spec) if our_spec else None
            if isinstance(peer_key, tuple):
                theirs = ours_ns(ours, peer_key)
            else:
                theirs = peers[peer].get(peer_key)
            rows.append((title, workload, mine, theirs))
    when = (f"Measured by tools/compare_peers.sh on {socket.gethostname()} "
            f"({os.cpu_count()} CPUs, {platform.machine()}), "
            f"{datetime.date.today().isoformat()}: {python_version}, Redis {redis_version}, "
            f"Boost {boost_version()}; ours and the peers in one run, medians of "
            f"{REPETITIONS}.")
    table = markdown(rows, when)
    pathlib.Path(out_dir, "peers.md").write_text(table)
    pathlib.Path(out_dir, "peers.svg").write_text(svg(rows, when))
    put_into_readme(readme, table)
    sys.stdout.write(table)
    log(f"wrote {out_dir}/peers.md, {out_dir}/peers.svg and the table in {readme}")


def markdown(rows, when):
    text = ""
    section = None
    for title, workload, mine, theirs in rows:
        if title != section:
            if section is not None:
                text += "\n"
            text += f"**{title}**\n\n| Workload | ours | the peer | ratio |\n|---|---|---|---|\n"
            section = title
        ratio = ratio_text(mine, theirs) if mine and theirs else ""
        text += (f"| {workload} | {time_text(mine) if mine else '—'} | "
                 f"{time_text(theirs) if theirs else '—'} | {ratio} |\n")
    return text + f"\n{when}\n"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")


def svg(rows, when):
    """The ratios on a log scale around 1x (right: ours faster)."""
    measured = [row for row in rows if row[2] and row[3]]
    label_width, chart_width, row_height, top, decades = 470, 420, 24, 40, 3.0
    height = top + row_height * len(measured) + 40
    width = label_width + chart_width + 170
    center = label_width + chart_width / 2
    per_decade = chart_width / (2 * decades)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">multiprocess for C++ '
           'beside Python multiprocessing, Redis and Boost (log scale; right of 1× is '
           'ours faster)</text>']
    for decade in range(-3, 4):
        x = center + decade * per_decade
        label = f"1/{10 ** -decade}×" if decade < 0 else f"{10 ** decade}×"
        out.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 30}" '
                   f'stroke="{"#000" if decade == 0 else "#ddd"}"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" '
                   f'fill="#555">{label}</text>')
    for index, (title, workload, mine, theirs) in enumerate(measured):
        y = top + row_height * index
        peer = title.split(" ")[0].split("'")[0]
        ratio = theirs / mine
        position = max(-decades, min(decades, math.log10(ratio)))
        x = center + position * per_decade
        out.append(f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">'
                   f'{escape(peer)}: {escape(workload)[:60]}</text>')
        out.append(f'<rect x="{min(center, x):.1f}" y="{y + 4}" '
                   f'width="{max(1.0, abs(x - center)):.1f}" height="{row_height - 8}" '
                   f'fill="{"#2b8a3e" if ratio >= 1 else "#c92a2a"}"/>')
        out.append(f'<text x="{label_width + chart_width + 6}" y="{y + 16}" fill="#333">'
                   f'{escape(time_text(mine))} vs {escape(time_text(theirs))}</text>')
    out.append(f'<text x="10" y="{height - 2}" fill="#555">{escape(when)}</text>')
    return "\n".join(out) + "\n</svg>\n"


def put_into_readme(readme, table):
    text = pathlib.Path(readme).read_text()
    begin = text.find("<!-- peers.md")
    end = text.find("<!-- /peers.md -->")
    if begin < 0 or end < begin:
        raise SystemExit(f"{readme} has no <!-- peers.md --> ... <!-- /peers.md --> markers")
    body = text.index("\n", begin) + 1
    pathlib.Path(readme).write_text(text[:body] + table + "\n" + text[end:])


if __name__ == "__main__":
    main()
