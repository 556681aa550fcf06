"""Evidence from the kernel: what a process's namespaces, hostname, mounts, queues and devices are.

Every isolation claim in the demos, tests and notebooks is checked with these readers, never by
trusting that a flag was passed. Each reader takes the kernel path as a parameter with the real
default (``proc=Path("/proc")``), and the parsers take text, so they are unit-tested on samples.

Sources: ``/proc/<pid>/ns/<kind>`` (namespaces(7): two processes share a namespace iff the
``(st_dev, st_ino)`` of these files are equal), ``/proc/<pid>/mountinfo`` (proc(5)),
``/proc/sysvipc/msg`` (proc(5), per the *reader's* IPC namespace), ``/proc/<pid>/net/dev`` and the
``SIOCGIFFLAGS`` ioctl (netdevice(7)), ``uname(2)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .namespaces import KINDS, NamespaceId, namespace_ids  # noqa: F401  (namespace_ids: an evidence reader too)

PROC = Path("/proc")
NAMESPACE_KINDS = tuple(KINDS)


def namespace_id(pid: int | str = "self", kind: str = "uts", proc: Path = PROC) -> NamespaceId:
    st = os.stat(f"{proc}/{pid}/ns/{kind}")
    return NamespaceId(kind, st.st_dev, st.st_ino)


def hostname() -> str:
    return os.uname().nodename


# ---- mounts ---------------------------------------------------------------------------------

from .mountinfo import MountEntry, parse_mountinfo  # noqa: E402,F401  (light: the cgroup path uses it too)


def mounts(pid: int | str = "self", proc: Path = PROC) -> list[MountEntry]:
    return parse_mountinfo(Path(f"{proc}/{pid}/mountinfo").read_text())


def mounts_at(path: str, pid: int | str = "self", proc: Path = PROC) -> list[MountEntry]:
    return [entry for entry in mounts(pid, proc) if entry.mount_point == path]


# ---- processes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str  # R, S, D, Z (zombie: exited, not yet reaped by its parent) ...
    cmdline: bytes  # NUL-separated argv; empty for a zombie


def parse_stat(text: str) -> tuple[str, int]:
    """(state, ppid) from ``/proc/<pid>/stat``; the command name in parentheses may hold spaces."""
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return state, int(ppid)


def processes(proc: Path = PROC) -> list[ProcessInfo]:
    """Every process ``proc`` shows (the PID namespace of that proc mount)."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            state, ppid = parse_stat(Path(f"{proc}/{entry}/stat").read_text())
            cmdline = Path(f"{proc}/{entry}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # it exited meanwhile
        found.append(ProcessInfo(int(entry), ppid, state, cmdline))
    return found


def children_of(pid: int, state: str | None = None, proc: Path = PROC) -> list[int]:
    """Pids whose parent is ``pid`` (only those in ``state``, e.g. "Z", if given)."""
    return [p.pid for p in processes(proc) if p.ppid == pid and (state is None or p.state == state)]


def processes_with(marker: str, proc: Path = PROC) -> list[int]:
    """Pids whose command line contains ``marker`` (arguments joined by NUL bytes)."""
    needle = marker.encode()
    return [p.pid for p in processes(proc) if needle in p.cmdline]


# ---- System V message queues ------------------------------------------------------------------

@dataclass(frozen=True)
class MessageQueue:
    key: int
    msqid: int
    perms: int
    uid: int


def parse_sysvipc_msg(text: str) -> list[MessageQueue]:
    """Parse ``/proc/sysvipc/msg``: a header line, then one queue per line."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split()
    queues = []
    for line in lines[1:]:
        values = line.split()
        if not values:
            continue
        row = dict(zip(header, values))
        # the key is printed as a signed int; ipcs shows it unsigned
        queues.append(MessageQueue(key=int(row["key"]) & 0xFFFFFFFF, msqid=int(row["msqid"]),
                                   perms=int(row["perms"], 8), uid=int(row["uid"])))
    return queues


def message_queues(proc: Path = PROC) -> list[MessageQueue]:
    """The queues of the *calling process's* IPC namespace."""
    return parse_sysvipc_msg(Path(f"{proc}/sysvipc/msg").read_text())


def sysvipc_snapshot(proc: Path = PROC) -> dict[str, list[str]]:
    """Every SysV IPC object (msg, sem, shm) of the caller's IPC namespace, as key/id rows."""
    snapshot = {}
    for kind in ("msg", "sem", "shm"):
        lines = Path(f"{proc}/sysvipc/{kind}").read_text().splitlines()[1:]
        snapshot[kind] = sorted(" ".join(line.split()[:2]) for line in lines if line.strip())
    return snapshot


# ---- network devices --------------------------------------------------------------------------

IFF_UP = 0x1
SIOCGIFFLAGS = 0x8913  # <linux/sockios.h>


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    flags: int

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


def parse_net_dev(text: str) -> list[str]:
    """Interface names from ``/proc/<pid>/net/dev`` (two header lines, then ``name: counters``)."""
    return [line.split(":", 1)[0].strip() for line in text.splitlines()[2:] if ":" in line]


def interface_names(pid: int | str = "self", proc: Path = PROC) -> list[str]:
    """The devices of ``pid``'s network namespace, read from outside it."""
    return parse_net_dev(Path(f"{proc}/{pid}/net/dev").read_text())


def interfaces() -> list[Interface]:
    """The devices of the *calling process's* network namespace, with their flags (UP or not)."""
    import fcntl
    import socket
    import struct

    result = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, name in socket.if_nameindex():
            request = struct.pack("16sH14x", name.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
            result.append(Interface(name, index, flags))
    return result


def interfaces_of(pid: int) -> list[Interface]:
    """:func:`interfaces` as seen from inside ``pid``'s network namespace (a forked child setns's in)."""
    from .forkcall import call_in_namespaces

    return call_in_namespaces(pid, ("net",), interfaces)


def hostname_of(pid: int) -> str:
    """The hostname in ``pid``'s UTS namespace."""
    from .forkcall import call_in_namespaces

    return call_in_namespaces(pid, ("uts",), hostname)


def message_queues_of(pid: int) -> list[MessageQueue]:
    """The message queues in ``pid``'s IPC namespace."""
    from .forkcall import call_in_namespaces

    return call_in_namespaces(pid, ("ipc",), message_queues)


# ---- cgroups ----------------------------------------------------------------------------------

def cgroup_layout(mount_entries: list[MountEntry] | None = None) -> str:
    """"v2" (unified), "hybrid" (v1 controllers + a v2 mount) or "v1", from the mount table."""
    entries = mounts() if mount_entries is None else mount_entries
    types = {entry.fstype for entry in entries if entry.mount_point.startswith("/sys/fs/cgroup")}
    if "cgroup" in types:
        return "hybrid" if "cgroup2" in types else "v1"
    return "v2" if "cgroup2" in types else "none"
