"""What moving a process into a cgroup v1 costs, by the two ways the kernel offers (run as root).

    python benchmarks/cgroup_write.py [CONTROLLER]

``runtime -> cgroup.procs``: a parent writes its child's pid, as runc does and moby-dick does on v2;
the kernel write-locks the global cgroup_threadgroup_rwsem, which waits for an RCU grace period when
the lock was idle. ``itself -> tasks``: the child writes ``0`` to ``tasks`` (one thread, itself), as
moby-dick's PID 1 does on v1 (moby_dick.cgroups.JoinCgroup); no global lock. Each move follows an idle
moment, as a start does on a quiet machine. The cgroup is made beneath this process's own and removed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moby_dick.cgroups import detect  # noqa: E402


def move(directory: str, by_itself: bool, idle: float) -> float:
    """ms to move a fresh child into ``directory``, after ``idle`` seconds of quiet."""
    report_read, report_write = os.pipe()  # the child's own measurement
    hold_read, hold_write = os.pipe()  # the child lives until this closes
    pid = os.fork()
    if pid == 0:
        os.close(report_read)
        os.close(hold_write)
        elapsed = 0.0
        if by_itself:
            time.sleep(idle)
            started = time.perf_counter()
            with open(os.path.join(directory, "tasks"), "w") as tasks:
                tasks.write("0")
            elapsed = (time.perf_counter() - started) * 1000
        os.write(report_write, str(elapsed).encode())
        os.read(hold_read, 1)
        os._exit(0)
    os.close(report_write)
    os.close(hold_read)
    try:
        elapsed = float(os.read(report_read, 64))
        if not by_itself:
            time.sleep(idle)
            started = time.perf_counter()
            with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
                procs.write(str(pid))
            elapsed = (time.perf_counter() - started) * 1000
        return elapsed
    finally:
        os.close(report_read)
        os.close(hold_write)
        os.waitpid(pid, 0)


def main() -> int:
    controller = sys.argv[1] if len(sys.argv) > 1 else "pids"
    layout = detect()
    if layout.version == "v2" or controller not in layout.roots:
        print(f"needs a cgroup v1 {controller} hierarchy (this machine: {layout.version})")
        return 1
    mount, own = layout.roots[controller]
    directory = os.path.join(mount, own.lstrip("/"), f"moby-dick-bench-{os.getpid()}")
    os.mkdir(directory)
    try:
        for idle in (0.0, 0.02, 0.1):
            for by_itself, how in ((False, "runtime -> cgroup.procs"), (True, "itself -> tasks")):
                samples = sorted(move(directory, by_itself, idle) for _ in range(15))
                print(f"{controller}: {how:24s} after {idle * 1000:3.0f} ms idle: median "
                      f"{statistics.median(samples):6.2f} ms, max {samples[-1]:6.2f} ms")
    finally:
        os.rmdir(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
