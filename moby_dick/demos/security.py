"""Demo "security": a container with its own root is not the host's root.

The same busybox shell runs twice in the same rootfs: with moby-dick's defaults, and, as the negative
control, with ``--privileged``. Evidence from the kernel, read by the container's own program after
``execve`` (not by the runtime): its capability sets, ``NoNewPrivs`` and ``Seccomp`` in
``/proc/self/status``; whether ``unshare(CLONE_NEWUTS)`` gets past the door (the filter and the missing
CAP_SYS_ADMIN refuse it; the control's succeeds, in a UTS namespace of its own); and what
``/proc/timer_list`` and ``/sys/firmware`` show (masked: nothing).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..capabilities import DOCKER_DEFAULT, bits
from . import CannotRun, Section, claim, require

TITLE = "Security: docker's capabilities, no_new_privs, seccomp and masked paths; --privileged is the control"
INTRO = ("Inside a busybox rootfs a shell reads its own /proc/self/status, tries unshare -u, and looks at two masked "
         "paths. The control runs the same shell with --privileged.")
SCRIPT = ("grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
          "unshare -u true 2>/dev/null && echo unshare: allowed || echo unshare: refused; "
          "echo timer_list: $(wc -c < /proc/timer_list); echo firmware: $(ls /sys/firmware | wc -l)")


def requirements():
    require()
    if not shutil.which("busybox"):
        raise CannotRun("needs busybox-static for the rootfs (apt-get install busybox-static)")


def _fields(text: str) -> dict:
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def gather() -> dict:
    from ..mkrootfs import mkrootfs
    from ..runner import run

    workdir = tempfile.mkdtemp(prefix="moby-dick-demo-")
    try:
        rootfs = os.path.join(workdir, "rootfs")
        mkrootfs(rootfs, "busybox")
        default = run(["sh", "-c", SCRIPT], capture=True, rootfs=rootfs)
        control = run(["sh", "-c", SCRIPT], capture=True, rootfs=rootfs, privileged=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with open("/proc/self/status") as file:
        host = _fields(file.read())
    return {"default": _fields(default.text), "control": _fields(control.text), "host_bounding": host["CapBnd"],
            "wanted": f"{bits(DOCKER_DEFAULT):016x}"}


def claims(ev):
    d, c = ev["default"], ev["control"]
    return [
        claim("capabilities: docker's 14, in the effective and bounding sets", d.get("CapEff") == ev["wanted"]
              and d.get("CapBnd") == ev["wanted"], f"CapEff {d.get('CapEff')}, docker's {ev['wanted']}"),
        claim("no_new_privs is on and a seccomp filter is installed", d.get("NoNewPrivs") == "1" and d.get("Seccomp") == "2",
              f"NoNewPrivs {d.get('NoNewPrivs')}, Seccomp {d.get('Seccomp')}"),
        claim("unshare(CLONE_NEWUTS) is refused", d.get("unshare") == "refused", d.get("unshare", "")),
        claim("/proc/timer_list and /sys/firmware show nothing", d.get("timer_list") == "0" and d.get("firmware") == "0",
              f"{d.get('timer_list')} bytes, {d.get('firmware')} entries"),
        claim("control --privileged: the runtime's capabilities, no filter, no masks, unshare allowed",
              c.get("CapBnd") == ev["host_bounding"] and c.get("Seccomp") == "0" and c.get("unshare") == "allowed"
              and c.get("timer_list") not in ("0", None), f"CapBnd {c.get('CapBnd')}, Seccomp {c.get('Seccomp')}, "
              f"timer_list {c.get('timer_list')} bytes", control=True),
    ]


def story(ev):
    d, c = ev["default"], ev["control"]
    rows = [(key, c.get(key, ""), d.get(key, "")) for key in ("CapEff", "CapBnd", "NoNewPrivs", "Seccomp", "unshare",
                                                              "timer_list", "firmware")]
    return [Section("moby-dick --rootfs (host column: the --privileged control)", rows)]


def transcripts(ev):
    return {}
