"""Demo "pid": the container's own process tree, with PID 1, and no way to see or signal the host's.

Evidence from inside (``ContainerSpec.function`` runs as the container's first process): its own pid,
the pids ``/proc`` lists, and whether the demo's own host pid exists or can be signalled. The control,
``--pid host``, runs the same in the host's PID namespace.
"""

from __future__ import annotations

import errno
import os

from .. import probe
from ..runner import run
from ..spec import ContainerSpec
from . import Section, claim, require

TITLE = "PID namespace: the container's first process is PID 1 and sees only its own processes"
INTRO = ("Inside, a process asks for its own pid, lists /proc, and tries to see and signal (signal 0) the "
         "demo's own process on the host. The control shares the host's PID namespace.")


def requirements():
    require(tools=("ps", "sh"))


def _look_around(host_pid: int) -> dict:
    try:
        os.kill(host_pid, 0)
        signal_result = "delivered"
    except OSError as error:
        signal_result = errno.errorcode[error.errno]
    pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    return {"own_pid": os.getpid(), "pids": pids, "host_pid_visible": os.path.exists(f"/proc/{host_pid}"),
            "signal": signal_result}


def gather() -> dict:
    host_pid = os.getpid()
    isolated = run(ContainerSpec((), seed_tmpfs=False, function=lambda: _look_around(host_pid)))
    control = run(ContainerSpec((), seed_tmpfs=False, share={"pid"}, function=lambda: _look_around(host_pid)))
    ps = run(["ps", "-e", "-o", "pid,comm"], capture=True, seed_tmpfs=False)
    return {"host_pid": host_pid, "host_pid_ns": str(probe.namespace_id("self", "pid")),
            "host_process_count": sum(name.isdigit() for name in os.listdir("/proc")),
            "isolated": isolated.value, "isolated_ns": str(isolated.namespaces["pid"]),
            "control": control.value, "control_ns": str(control.namespaces["pid"]), "ps": ps.text}


def claims(ev):
    iso, ctl = ev["isolated"], ev["control"]
    return [
        claim("the container has its own PID namespace", ev["isolated_ns"] != ev["host_pid_ns"],
              f"{ev['isolated_ns']} vs host {ev['host_pid_ns']}"),
        claim("its first process is PID 1", iso["own_pid"] == 1, f"getpid() = {iso['own_pid']}"),
        claim("/proc lists only the container's processes", iso["pids"] == [1], f"{iso['pids']}"),
        claim("a host pid is invisible and cannot be signalled",
              not iso["host_pid_visible"] and iso["signal"] == "ESRCH", f"kill({ev['host_pid']}, 0): {iso['signal']}"),
        claim("control --pid host: the host's namespace, its processes visible, the signal delivered",
              ev["control_ns"] == ev["host_pid_ns"] and ctl["host_pid_visible"] and ctl["signal"] == "delivered"
              and len(ctl["pids"]) > 1, f"{len(ctl['pids'])} pids; kill: {ctl['signal']}", control=True),
    ]


def story(ev):
    iso, ctl = ev["isolated"], ev["control"]
    return [
        Section("moby-dick (PID namespace)", [
            ("PID namespace", ev["host_pid_ns"], ev["isolated_ns"]),
            ("own pid", str(ev["host_pid"]), str(iso["own_pid"])),
            ("processes in /proc", str(ev["host_process_count"]), str(len(iso["pids"]))),
            (f"kill({ev['host_pid']}, 0)", "", iso["signal"]),
        ]),
        Section("negative control: moby-dick --pid host", [
            ("PID namespace", ev["host_pid_ns"], ev["control_ns"]),
            ("own pid", str(ev["host_pid"]), str(ctl["own_pid"])),
            ("processes in /proc", str(ev["host_process_count"]), str(len(ctl["pids"]))),
            (f"kill({ev['host_pid']}, 0)", "", ctl["signal"]),
        ]),
    ]


def transcripts(ev):
    return {"inside the container": "> ps -e -o pid,comm\n" + ev["ps"].rstrip()}
