"""Demo "pids": a fork bomb meets ``--pids-limit 20``; ``fork`` fails at the limit, the host is untouched.

Evidence: how many forks the program itself saw succeed and fail, and the cgroup's ``pids.events``
counter of refused forks. The control forks the same 50 times with no limit.
"""

from __future__ import annotations

import sys

from ..cgroups import Limits
from ..runner import run
from . import Section, claim, require

TITLE = "Process limit: a pids cgroup stops a fork bomb at its limit"
INTRO = "The container tries to fork 50 children under `--pids-limit 20`; the control, with no limit."
LIMIT = 20
FORKS = ("import os, time\nstarted = refused = 0\nfor _ in range(50):\n    try:\n        pid = os.fork()\n"
         "    except OSError:\n        refused += 1\n        continue\n    if pid == 0:\n        time.sleep(2)\n"
         "        os._exit(0)\n    started += 1\nprint(started, refused)\n")


def requirements():
    require()


def gather() -> dict:
    limited = run([sys.executable, "-c", FORKS], capture=True, limits=Limits(pids=LIMIT), seed_tmpfs=False)
    control = run([sys.executable, "-c", FORKS], capture=True, accounting=True, seed_tmpfs=False)
    return {"limited": {"counts": list(map(int, limited.text.split())), "refused": limited.stats["pids_refused"]},
            "control": {"counts": list(map(int, control.text.split())), "refused": control.stats["pids_refused"]}}


def claims(ev):
    (started, refused), kernel_refused = ev["limited"]["counts"], ev["limited"]["refused"]
    return [
        claim("no more than 20 processes: the program itself is one, so 19 forks succeed",
              started + 1 == LIMIT, f"{started} forks succeeded"),
        claim("the rest were refused, and the cgroup counted them", refused == 50 - started and kernel_refused >= refused,
              f"{refused} refused; pids.events max {kernel_refused}"),
        claim("control without a limit: all 50 forks succeed", ev["control"]["counts"] == [50, 0],
              f"{ev['control']['counts'][0]} succeeded", control=True),
    ]


def story(ev):
    lim, ctl = ev["limited"], ev["control"]
    return [Section("moby-dick --pids-limit 20 python3 -c '<fork 50 times>'", [
        ("forks that succeeded", str(lim["counts"][0]), str(ctl["counts"][0])),
        ("forks refused (EAGAIN)", str(lim["counts"][1]), str(ctl["counts"][1])),
        ("pids.events max (cgroup)", str(lim["refused"]), str(ctl["refused"])),
    ], columns=("--pids-limit 20", "no limit (the control)"))]


def transcripts(ev):
    return {}
