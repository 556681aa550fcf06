"""Demo "memory": a memory hog meets ``--memory 32m``; the kernel's OOM killer stops it, inside its cgroup.

Evidence: the container's cgroup files (``memory.max_usage_in_bytes``/``memory.peak`` for the peak,
``memory.oom_control``/``memory.events`` for the OOM kills), and the exit status. The control runs the
same program with a cgroup that only counts (no limit): it grows past 32 MiB and finishes.
"""

from __future__ import annotations

import sys

from ..cgroups import Limits
from ..runner import run
from . import Section, claim, require

TITLE = "Memory limit: a cgroup caps what the container may use, and the OOM killer enforces it"
INTRO = ("The container allocates 100 MiB under `--memory 32m`. The control allocates the same without a limit "
         "(its cgroup only counts).")
LIMIT = 32 << 20
HOG = [sys.executable, "-c", "b = bytearray(100 * 1024 * 1024); print('allocated 100 MiB')"]


def requirements():
    require()


def gather() -> dict:
    limited = run(HOG, capture=True, limits=Limits(memory=LIMIT), seed_tmpfs=False)
    control = run(HOG, capture=True, accounting=True, seed_tmpfs=False)
    return {"limited": {"exit": limited.exit_code, "oom": limited.oom_killed, "stats": limited.stats,
                        "output": limited.text},
            "control": {"exit": control.exit_code, "stats": control.stats, "output": control.text}}


def _mib(value) -> str:
    return "?" if value is None else f"{value / (1 << 20):.1f} MiB"


def claims(ev):
    lim, ctl = ev["limited"], ev["control"]
    return [
        claim("the OOM killer stopped the hog: exit 137, counted in the cgroup's OOM counter",
              lim["exit"] == 137 and lim["oom"] and lim["stats"]["oom_kills"] >= 1,
              f"exit {lim['exit']}, oom_kill {lim['stats']['oom_kills']}"),
        claim("its peak memory stayed within the 32 MiB limit", lim["stats"]["peak_memory_bytes"] <= LIMIT,
              _mib(lim["stats"]["peak_memory_bytes"])),
        claim("control without a limit: the same program grows past 32 MiB and finishes",
              ctl["exit"] == 0 and ctl["stats"]["peak_memory_bytes"] > 100 << 20,
              f"exit {ctl['exit']}, peak {_mib(ctl['stats']['peak_memory_bytes'])}", control=True),
    ]


def story(ev):
    lim, ctl = ev["limited"], ev["control"]
    return [Section("moby-dick --memory 32m python3 -c 'bytearray(100 MiB)'", [
        ("exit status", str(lim["exit"]), str(ctl["exit"])),
        ("peak memory (cgroup)", _mib(lim["stats"]["peak_memory_bytes"]), _mib(ctl["stats"]["peak_memory_bytes"])),
        ("OOM kills (cgroup)", str(lim["stats"]["oom_kills"]), str(ctl["stats"]["oom_kills"])),
    ], columns=("--memory 32m", "no limit (the control)"))]


def transcripts(ev):
    return {"the control's output": ev["control"]["output"].rstrip()}
