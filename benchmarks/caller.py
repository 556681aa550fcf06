"""One point of the caller-size sweep: the API's start-to-exit of `/bin/true` from a caller of SIZE MB.

    .venv/bin/python benchmarks/caller.py SIZE_MB ROUNDS      # prints one JSON object

The caller grows to SIZE MB of resident memory (a buffer written page by page, as a notebook kernel's
data is), then runs, interleaved: the API through the fork server (the default), the API forking the
caller itself (``fork_server=False``: what every start did before the server) and unshare(1), started
with posix_spawn (a vfork: its cost does not grow with the caller). benchmarks/run.py calls it per size.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moby_dick import ContainerSpec  # noqa: E402
from moby_dick.runner import start  # noqa: E402

SPEC = ContainerSpec(("/bin/true",), seed_tmpfs=False)
UNSHARE = ["/usr/bin/unshare", "-uinmpf", "--mount-proc", "/bin/true"]
PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / (1 << 20)


def grow_to(size_mb: int) -> bytearray:
    missing = max(0, int((size_mb - resident_mb()) * (1 << 20)))
    ballast = bytearray(missing)
    view = memoryview(ballast)
    view[::PAGE] = b"\1" * len(range(0, missing, PAGE))  # one write per page: every page resident
    return ballast


def api(fork_server: bool) -> float:
    started = time.perf_counter()
    result = start(SPEC, fork_server=fork_server).wait()
    assert result.exit_code == 0
    return (time.perf_counter() - started) * 1000


def spawned(argv: list[str]) -> float:
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return (time.perf_counter() - started) * 1000


def main(size_mb: int, rounds: int) -> dict:
    ballast = grow_to(size_mb)  # noqa: F841  held until the end
    timers = {"API (fork server)": lambda: api(True), "API (fork of the caller)": lambda: api(False),
              "unshare -uinmpf --mount-proc": lambda: spawned(UNSHARE)}
    for timer in timers.values():  # warm-up: the server starts, pyc files, dentries
        timer()
    samples = {name: [] for name in timers}
    names = list(timers)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            samples[name].append(timers[name]())
    return {"size_mb": size_mb, "resident_mb": round(resident_mb(), 1),
            "median": {name: statistics.median(values) for name, values in samples.items()},
            "min": {name: min(values) for name, values in samples.items()}}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
