"""Demo "exec": a process joins a running container (setns), and a terminal of the container's own.

A detached container (``moby-dick run -d``: a monitor, the lifecycle's state directory) runs ``sleep``. Then
``moby-dick exec`` starts a shell in it, and ``exec -t`` one with a pty: the exec'd process joins every namespace
of PID 1 (``setns(2)`` on ``/proc/<pid1>/ns/*``), its cgroup, and goes through the same final phase (seccomp,
no_new_privs). Evidence, read by the host from ``/proc``: the namespace inodes of PID 1, of the exec'd process
and of this process; the exec'd process's ``Seccomp:`` and ``NoNewPrivs:``; what PID 1 is inside; and, with
``-t``, the device of its stdin: a pty of the container's own devpts (major 136; a different device number from
every pty of the host's devpts). The control: the same container made with the host's UTS and IPC namespaces
(``--uts host --ipc host``): the exec'd process then holds the host's.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from . import CannotRun, Section, claim, require

TITLE = "exec: a new process joins a running container's namespaces, with a terminal of the container's own"
INTRO = ("A detached container sleeps; `moby-dick exec` runs a shell in it (and `exec -t` one with a pty). The host "
         "compares the namespaces of PID 1, of the exec'd shell and of itself. The control: a container that shares "
         "the host's UTS and IPC namespaces.")
KINDS = ("uts", "ipc", "net", "mnt", "pid")
SCRIPT = ("cat /proc/1/comm; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t ' ' '; "
          "stat -c '%t %D' \"$(readlink /proc/self/fd/0)\" 2>/dev/null || echo none; "
          "for k in " + " ".join(KINDS) + "; do readlink /proc/self/ns/$k; done")


def requirements():
    require()
    if not shutil.which("busybox"):
        raise CannotRun("needs busybox-static for the rootfs (apt-get install busybox-static)")


def _exec_output(root: str, name: str, tty: bool) -> list[str]:
    """`moby-dick exec [-t] NAME sh -c SCRIPT`, its output captured from a pipe (stdout of a forked child)."""
    from .. import engine
    from ..forkcall import output_of

    _, text = output_of(lambda: engine.execute(name, ["sh", "-c", SCRIPT], root=root, tty=tty))
    return text.replace("\r", "").splitlines()


def _once(base: str, label: str, share: frozenset) -> dict:
    from .. import engine
    from ..namespaces import namespace_ids
    from ..spec import ContainerSpec

    root = os.path.join(base, f"state-{label}")
    name = f"demo-exec-{label}-{os.getpid()}"
    spec = ContainerSpec(("sleep", "60"), rootfs=os.path.join(base, "rootfs"), share=share)
    engine.run_detached(spec, name, root=root)
    try:
        state = engine.resolve(name, root)
        plain = _exec_output(root, name, tty=False)
        with_tty = _exec_output(root, name, tty=True)
        pid_one = {kind: str(value) for kind, value in namespace_ids(state.pid).items() if kind in KINDS}
    finally:
        engine.rm(name, force=True, root=root)

    def parse(lines):
        return {"pid1_comm": lines[0], "status": dict(line.split(": ") if ": " in line else line.split(" ", 1)
                                                      for line in lines[1:3]),
                "stdin_device": lines[3], "ns": dict(zip(KINDS, lines[4:4 + len(KINDS)]))}

    return {"pid_one": pid_one, "exec": parse(plain), "exec_tty": parse(with_tty)}


def gather() -> dict:
    from ..mkrootfs import mkrootfs
    from ..namespaces import namespace_ids

    base = tempfile.mkdtemp(prefix="moby-dick-demo-exec-", dir="/tmp")
    try:
        mkrootfs(os.path.join(base, "rootfs"), "busybox")
        host = {kind: str(value) for kind, value in namespace_ids("self").items() if kind in KINDS}
        host_pts = os.stat("/dev/pts/ptmx").st_dev if os.path.exists("/dev/pts/ptmx") else None
        return {"host": host, "host_pts_dev": host_pts,
                "isolated": _once(base, "isolated", frozenset()),
                "control": _once(base, "control", frozenset({"uts", "ipc"}))}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _device(text: str) -> tuple[int, int] | None:
    """`stat -c '%t %D'`: the device's major (hex) and the file system's device number (hex)."""
    parts = text.split()
    return (int(parts[0], 16), int(parts[1], 16)) if len(parts) == 2 else None


def claims(ev):
    iso, ctl, host = ev["isolated"], ev["control"], ev["host"]
    tty_device = _device(iso["exec_tty"]["stdin_device"])
    return [
        claim("the exec'd process holds every namespace of the container's PID 1",
              iso["exec"]["ns"] == iso["pid_one"], f"exec {iso['exec']['ns']} vs PID 1 {iso['pid_one']}"),
        claim("and none of the host's", all(iso["exec"]["ns"][k] != host[k] for k in KINDS),
              f"host {host}"),
        claim("inside, PID 1 is the container's command", iso["exec"]["pid1_comm"] == "sleep",
              f"/proc/1/comm: {iso['exec']['pid1_comm']}"),
        claim("it went through the container's final phase: seccomp filter and no_new_privs",
              iso["exec"]["status"].get("Seccomp") == "2" and iso["exec"]["status"].get("NoNewPrivs") == "1",
              f"{iso['exec']['status']}"),
        claim("without -t its stdin is no terminal", iso["exec"]["stdin_device"] in ("none", "") or
              _device(iso["exec"]["stdin_device"]) is None or _device(iso["exec"]["stdin_device"])[0] != 0x88,
              iso["exec"]["stdin_device"]),
        claim("with -t its stdin is a pty (major 136) of the container's own devpts, not the host's",
              tty_device is not None and tty_device[0] == 0x88 and tty_device[1] != ev["host_pts_dev"],
              f"major {tty_device[0] if tty_device else '?'}, devpts {hex(tty_device[1]) if tty_device else '?'} "
              f"vs the host's {hex(ev['host_pts_dev'] or 0)}"),
        claim("control (--uts host --ipc host): the exec'd process holds the host's UTS and IPC namespaces",
              all(ctl["exec"]["ns"][k] == host[k] for k in ("uts", "ipc")) and ctl["exec"]["ns"] == ctl["pid_one"],
              f"exec {ctl['exec']['ns']} vs host {host}", control=True),
    ]


def story(ev):
    iso, ctl, host = ev["isolated"], ev["control"], ev["host"]
    rows = [(f"{kind} namespace", host[kind], f"PID 1 {iso['pid_one'][kind]} / exec {iso['exec']['ns'][kind]}")
            for kind in KINDS]
    return [
        Section("moby-dick exec NAME sh -c ... (host | the container's PID 1 and the exec'd shell)", rows + [
            ("PID 1 inside", "", iso["exec"]["pid1_comm"]),
            ("Seccomp / NoNewPrivs of the exec'd shell", "", f"{iso['exec']['status']}"),
            ("stdin with -t (major, devpts)", hex(ev["host_pts_dev"] or 0), iso["exec_tty"]["stdin_device"]),
        ]),
        Section("negative control: the container shares the host's UTS and IPC namespaces", [
            (f"{kind} namespace", host[kind], ctl["exec"]["ns"][kind]) for kind in KINDS]),
    ]


def transcripts(ev):
    return {}
