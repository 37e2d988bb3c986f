"""The workloads of tools/compare_peers.sh under Python's multiprocessing.

Prints one JSON object: workload name -> nanoseconds per operation (the
median of PEERS_REPETITIONS timed runs). The names are the keys
compare_peers.py looks up; each workload does what our benchmark beside it
does, with the measuring process pinned to CPU 0 and its peer process (the
manager's server, the queue's producer) to CPU 1 where there is one, as
our benchmarks are (bench/partner.h).
"""

import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing import shared_memory

REPETITIONS = int(os.environ.get("PEERS_REPETITIONS", "3"))
SCALE = float(os.environ.get("PEERS_SCALE", "1"))
PEER_CPU = 1 if os.cpu_count() and os.cpu_count() > 1 else 0


def pin(pid, cpu):
    """Pins every thread of process pid (the manager's server serves each
    connection in a thread of its own, made by a thread that exists before
    we could pin the process; threads made later inherit from it)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(task), {cpu})
        except OSError:
            pass


def median_ns(run, count):
    """Median over REPETITIONS of run(count)'s seconds, per operation.

    run may return the seconds to count itself, as a float (when it has
    set-up to leave out); else its whole call is timed.
    """
    count = max(1, int(count * SCALE))
    times = []
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        seconds = run(count)
        if not isinstance(seconds, float):
            seconds = time.perf_counter() - start
        times.append(seconds / count * 1e9)
    return statistics.median(times)


def nothing():
    pass


def square(x):
    return x * x


def produce(queue, count, size):
    item = b"x" * size
    for _ in range(count + 1):
        queue.put(item)


def main():
    pin(os.getpid(), 0)
    figures = {}
    with mp.Manager() as manager:
        pin(manager._process.pid, PEER_CPU)
        d = manager.dict()
        l = manager.list()

        def set_item(n):
            for i in range(n):
                d["key"] = i

        def get_item(n):
            for _ in range(n):
                d["key"]

        def append(n):
            for i in range(n):
                l.append(i)

        figures["manager d[k] = v"] = median_ns(set_item, 5000)
        figures["manager d[k]"] = median_ns(get_item, 5000)
        figures["manager l.append(x)"] = median_ns(append, 5000)
        d["items"] = manager.list()

        def nested(n):
            for i in range(n):
                d["items"].append(i)

        figures["manager d['items'].append(x)"] = median_ns(nested, 2000)

    for size, name, count in ((8, "Queue put+get, 8 bytes", 20000),
                              (1 << 20, "Queue put+get, 1 MiB", 200)):
        def queue_run(n, size=size):
            # Timed from the first item on, so the producer's start is not.
            q = mp.Queue()
            p = mp.Process(target=produce, args=(q, n, size))
            p.start()
            q.get()
            # Now that its feeder thread runs too.
            pin(p.pid, PEER_CPU)
            start = time.perf_counter()
            for _ in range(n):
                q.get()
            seconds = time.perf_counter() - start
            p.join()
            return seconds
        figures[name] = median_ns(queue_run, count)

    with mp.Pool(2) as pool:
        pool.map(square, range(100))
        figures["Pool.map of tiny tasks (per task)"] = median_ns(
            lambda n: pool.map(square, range(n)), 200000)
    with mp.Pool(1) as pool:
        pool.apply(square, (1,))
        for worker in pool._pool:  # As ours: the worker on the other CPU.
            pin(worker.pid, PEER_CPU)
        figures["Pool.apply round trip"] = median_ns(
            lambda n: [pool.apply(square, (i,)) for i in range(n)], 2000)

    lock = mp.Lock()

    def lock_run(n):
        for _ in range(n):
            lock.acquire()
            lock.release()

    figures["Lock acquire+release, uncontended"] = median_ns(lock_run, 200000)
    value = mp.Value("i", 0)

    def value_run(n):
        for _ in range(n):
            with value.get_lock():
                value.value += 1

    figures["Value increment under its lock"] = median_ns(value_run, 200000)

    def shm_run(n):
        for _ in range(n):
            segment = shared_memory.SharedMemory(create=True, size=4096)
            segment.close()
            segment.unlink()

    figures["SharedMemory create+unlink, 4 KiB"] = median_ns(shm_run, 2000)

    for method, count in (("fork", 200), ("spawn", 20), ("forkserver", 100)):
        context = mp.get_context(method)
        warm = context.Process(target=nothing)
        warm.start()
        warm.join()

        def start_join(n, context=context):
            for _ in range(n):
                p = context.Process(target=nothing)
                p.start()
                p.join()

        figures[f"Process start+join ({method})"] = median_ns(start_join, count)
    json.dump(figures, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
