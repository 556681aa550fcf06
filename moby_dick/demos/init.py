"""Demo "init": PID 1's duties, done by moby-dick's ``--init``, and what happens without it.

Orphans are re-parented to PID 1, which must reap them; and the kernel delivers to PID 1 only signals
it has a handler for. The demo starts ``sh -c '(sleep 0.05 &); exec sleep 30'``: the subshell's child is
orphaned, exits, and waits for PID 1 to reap it. Then it sends SIGTERM to PID 1 from the host.
"""

from __future__ import annotations

import os
import signal
import time

from .. import probe
from ..runner import run, start
from ..spec import ContainerSpec
from . import Section, claim, require

TITLE = "PID 1's duties: --init reaps orphaned zombies and passes signals on; a plain PID 1 does neither"
INTRO = ("A container orphans a short-lived process, then its command becomes `sleep 30`. After a moment "
         "the host counts zombies under PID 1, then sends SIGTERM to PID 1. With --init, moby-dick's init is "
         "PID 1 and the command PID 2; without it, `sleep` is PID 1.")
SCRIPT = "(sleep 0.05 &); exec sleep 30"


def requirements():
    require(tools=("sh", "sleep", "ps"))


def _observe(init: bool) -> dict:
    with start(ContainerSpec(("sh", "-c", SCRIPT), seed_tmpfs=False, init=init)) as container:
        # the orphan exits after 0.05 s; on a loaded machine allow it up to 3 s to become a zombie
        deadline = time.monotonic() + (0.6 if init else 3.0)
        zombies = 0
        while time.monotonic() < deadline:
            zombies = len(probe.children_of(container.pid, state="Z"))
            if zombies and not init:
                break
            time.sleep(0.02)
        os.kill(container.pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0  # an init passes it on at once; a plain PID 1 never dies of it
        while container.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        alive_after_sigterm = container.poll() is None
        result = container.wait(timeout=10)  # kills what is left
    comm = "moby-dick:pid1" if init else "sleep"
    return {"zombies": zombies, "alive_after_sigterm": alive_after_sigterm, "exit_code": result.exit_code,
            "pid1": comm}


def gather() -> dict:
    ps = run(["ps", "-e", "-o", "pid,comm"], capture=True, seed_tmpfs=False, init=True)
    return {"with_init": _observe(True), "without_init": _observe(False), "ps": ps.text}


def claims(ev):
    on, off = ev["with_init"], ev["without_init"]
    return [
        claim("with --init, the orphaned zombie is reaped", on["zombies"] == 0, f"zombies under PID 1: {on['zombies']}"),
        claim("with --init, SIGTERM to PID 1 reaches the command, and its status comes back",
              not on["alive_after_sigterm"] and on["exit_code"] == 128 + signal.SIGTERM, f"exit {on['exit_code']}"),
        claim("control without --init: the zombie stays", off["zombies"] == 1, f"zombies under PID 1: {off['zombies']}",
              control=True),
        claim("control without --init: PID 1 has no SIGTERM handler, so the kernel drops the signal",
              off["alive_after_sigterm"] and off["exit_code"] == 128 + signal.SIGKILL,
              f"still running; killed at the end: exit {off['exit_code']}", control=True),
    ]


def story(ev):
    on, off = ev["with_init"], ev["without_init"]
    return [Section("zombies and SIGTERM", [
        ("PID 1", on["pid1"], off["pid1"]),
        ("zombies under PID 1", str(on["zombies"]), str(off["zombies"])),
        ("alive 1 s after SIGTERM to PID 1", "yes" if on["alive_after_sigterm"] else "no",
         "yes" if off["alive_after_sigterm"] else "no"),
        ("exit status", str(on["exit_code"]), str(off["exit_code"])),
    ], columns=("with --init", "without --init (the control)"))]


def transcripts(ev):
    return {"inside the container, with --init": "> ps -o pid,comm\n" + ev["ps"].rstrip()}
