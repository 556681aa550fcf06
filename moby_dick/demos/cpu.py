"""Demo "cpu": a busy loop meets ``--cpus 0.5``; the CFS bandwidth controller throttles it to half a CPU.

Evidence: the cgroup's CPU time (``cpuacct.usage`` / ``cpu.stat usage_usec``) over one second of wall
time, and its throttling counter (``cpu.stat nr_throttled``). The control spins for the same second.
"""

from __future__ import annotations

from ..cgroups import Limits
from . import Section, claim, require

TITLE = "CPU limit: a cpu cgroup gives a busy loop half a CPU, and counts the throttling"
INTRO = "The container spins for one second of wall time under `--cpus 0.5`; the control spins without a limit."
BUSY = ["timeout", "1", "sh", "-c", "while :; do :; done"]


def requirements():
    require(tools=("timeout", "sh"))


def gather() -> dict:
    # Both at the same moment, so that whatever else loads the machine loads both alike: the control is
    # judged against the limited run beside it, not against a fixed share of a CPU it may not get.
    from ..runner import ContainerSpec, start

    with start(ContainerSpec(BUSY, limits=Limits(cpus=0.5), seed_tmpfs=False)) as limited, \
            start(ContainerSpec(BUSY, limits=Limits(cpu_shares=1024), seed_tmpfs=False)) as control:
        limited_result, control_result = limited.wait(), control.wait()
    return {"limited": limited_result.stats, "control": control_result.stats}


def claims(ev):
    lim, ctl = ev["limited"], ev["control"]
    return [
        claim("in one second it got about half a CPU-second", 0.1 <= lim["cpu_seconds"] <= 0.65,  # at most the quota
              f"{lim['cpu_seconds']:.2f} s of CPU"),
        claim("the kernel throttled it, and counted it", (lim["cpu_throttled"] or 0) > 0,
              f"nr_throttled {lim['cpu_throttled']}"),
        # The kernel's own counter is the evidence: on a saturated machine the control may get less than
        # half a CPU too, but the bandwidth controller never held it back (judged at the same moment).
        claim("control without a quota, at the same moment: it ran and the kernel never throttled it",
              ctl["cpu_throttled"] == 0 and ctl["cpu_seconds"] > 0.05,
              f"{ctl['cpu_seconds']:.2f} s of CPU, nr_throttled {ctl['cpu_throttled']}", control=True),
    ]


def story(ev):
    lim, ctl = ev["limited"], ev["control"]
    return [Section("moby-dick --cpus 0.5 timeout 1 sh -c 'while :; do :; done'", [
        ("CPU time in 1 s (cgroup)", f"{lim['cpu_seconds']:.2f} s", f"{ctl['cpu_seconds']:.2f} s"),
        ("times throttled (cpu.stat)", str(lim["cpu_throttled"]), str(ctl["cpu_throttled"])),
    ], columns=("--cpus 0.5", "no limit (the control)"))]


def transcripts(ev):
    return {}
