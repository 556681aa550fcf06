"""Where a start's time goes, step by step: the median time of each step of the plan, in the runtime and
in PID 1, for one shape of container, started as the fork server starts them (``runner.launch`` in a small
``python -I -S`` process).

    sudo .venv/bin/python -I -S benchmarks/steps.py [--rootfs DIR] [--read-only] [--privileged] [--rounds N]

Each step's ``apply``/``exchange`` is wrapped (:func:`timed`) to write a line "pid clock step" to fd 2 when
the step is done (CLOCK_MONOTONIC is one clock for every process, so the runtime's lines and
PID 1's can be put in one order); the interval printed for a step is from the line before it. The first
interval of PID 1 is the fork and the child's start (Python's after-fork work and its copied pages).
A measurement tool, not a test: the numbers move 10-30 % from run to run on a small VM.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def timed(classes) -> list:
    """Make every ``apply``/``exchange`` of ``classes`` (the steps' types) write "pid clock name" to fd 2
    when it returns; returns what undoes it. The classes themselves change, not the steps: the runtime's
    ``isinstance`` checks (AwaitGo ...) see the plan they always see."""
    undo = []
    for cls in classes:
        for method in ("apply", "exchange"):
            original = getattr(cls, method, None)
            if original is None:
                continue
            original = getattr(original, "__wrapped__", original)  # inherited from a class wrapped already

            def wrapper(self, *args, _original=original):
                result = _original(self, *args)
                os.write(2, f"{os.getpid()} {time.perf_counter_ns()} {type(self).__name__}\n".encode())
                return result

            wrapper.__wrapped__ = original
            undo.append((cls, method, cls.__dict__.get(method)))
            setattr(cls, method, wrapper)
    return undo


def _undo(undo) -> None:
    for cls, method, own in reversed(undo):
        if own is None:
            delattr(cls, method)
        else:
            setattr(cls, method, own)


def measure(spec, rounds: int) -> dict:
    """{what: [microseconds, ...]} over ``rounds`` starts of ``spec`` (after three to warm up), in the
    order the first round met them. fd 2 is a pipe meanwhile: the runtime's marks and PID 1's (it
    inherits it) go there."""
    from moby_dick.plan import plan
    from moby_dick.syscalls import KERNEL

    KERNEL.prepare()
    intervals: dict = {}
    stderr = os.dup(2)
    undo = timed({type(step) for step in plan(spec).steps() if not getattr(step, "forks", False)})
    try:
        for round_number in range(rounds + 3):
            _round(spec, round_number >= 3, intervals, stderr)
    finally:
        _undo(undo)
    return intervals


def _round(spec, kept: bool, intervals: dict, stderr: int) -> None:
    """One start; its marks (and the runtime's two ends) into ``intervals`` when ``kept``."""
    from moby_dick.plan import plan
    from moby_dick.runner import launch

    the_plan = plan(spec)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    try:
        started = time.perf_counter_ns()
        container = launch(spec, the_plan)
        launched = time.perf_counter_ns()
        container.wait()
        waited = time.perf_counter_ns()
    finally:
        os.dup2(stderr, 2)
    with os.fdopen(read) as pipe:
        lines = pipe.read().splitlines()
    if not kept:
        return
    marks, seen = [], set()
    for _, t, name in sorted((line.split() for line in lines), key=lambda fields: int(fields[1])):
        while name in seen:  # a step that runs twice (PID 1 joins its cgroups in two steps on v1)
            name += "'"
        seen.add(name)
        marks.append((int(t), name))
    marks += [(launched, "(runtime) exec seen: EOF"), (waited, "(runtime) exited, reaped, cleaned up")]
    previous = started
    for t, name in marks:
        intervals.setdefault(name, []).append((t - previous) / 1000)
        previous = t


def main(argv: list[str]) -> int:
    from moby_dick.spec import ContainerSpec

    if os.geteuid() != 0:
        print("steps.py needs root (namespaces)", file=sys.stderr)
        return 77
    rootfs = argv[argv.index("--rootfs") + 1] if "--rootfs" in argv else None
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 40
    spec = ContainerSpec(("/bin/true",), rootfs=rootfs, read_only="--read-only" in argv,
                         privileged="--privileged" in argv, seed_tmpfs=False)
    intervals = measure(spec, rounds)
    total = sum(statistics.median(values) for values in intervals.values())
    for name, values in intervals.items():  # each: the time since the mark before it
        print(f"{statistics.median(values):8.0f} us  {name}")
    print(f"{total:8.0f} us  (sum of the medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
