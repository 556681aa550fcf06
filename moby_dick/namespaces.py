"""Linux namespaces: what each kind isolates, and the step that creates them.

Syscall: ``unshare(2)`` with ``CLONE_NEW*`` flags, made in the container's child process after
``fork``; the process keeps its PID but from then on sees its own copy of each unshared resource.
Read namespaces(7) for the whole family, and unshare(2) for the flags.

The seed cloned with ``CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWNET``; moby-dick does the
same with one ``unshare`` call, minus the kinds the user asked to share with the host
(``--uts host``, ``--ipc host``, ``--network host``), which the demos use as negative controls.
"""

from __future__ import annotations

import os

from . import syscalls
from .records import Record


class NamespaceKind(Record):
    # name: under /proc/<pid>/ns/; flag: CLONE_NEW* for unshare(2); isolates: what a process in a
    # new one of these gets its own copy of; man: where to read more
    __slots__ = ("name", "flag", "isolates", "man")


class NamespaceId(Record):
    """A namespace's identity: the device and inode of its ``/proc/<pid>/ns/<kind>`` file.

    Two processes are in the same namespace iff these are equal (namespaces(7)).
    """

    __slots__ = ("kind", "dev", "ino")

    def __str__(self) -> str:  # the text of the symlink, as ``ls -l /proc/self/ns`` shows it
        return f"{self.kind}:[{self.ino}]"

    def __lt__(self, other) -> bool:
        return self._values() < other._values()


def namespace_ids(pid="self", kinds=None, proc: str = "/proc") -> dict:
    """``{kind: NamespaceId}`` of ``pid`` for every kind this kernel has (``stat(2)`` of each ns file)."""
    ids = {}
    for kind in kinds or KINDS:
        try:
            st = os.stat(f"{proc}/{pid}/ns/{kind}")
        except FileNotFoundError:
            continue
        ids[kind] = NamespaceId(kind, st.st_dev, st.st_ino)
    return ids


def encode_ids(ids: dict) -> bytes:
    """``{kind: NamespaceId}`` as the text of a "ready" message: ``uts=DEV:INO ...``."""
    return " ".join(f"{i.kind}={i.dev}:{i.ino}" for i in ids.values()).encode()


def decode_ids(payload: bytes) -> dict:
    ids = {}
    for item in payload.decode().split():
        kind, _, value = item.partition("=")
        dev, _, ino = value.partition(":")
        ids[kind] = NamespaceId(kind, int(dev), int(ino))
    return ids


KINDS: dict[str, NamespaceKind] = {
    kind.name: kind
    for kind in (
        NamespaceKind("cgroup", syscalls.CLONE_NEWCGROUP, "the cgroup root directory", "cgroup_namespaces(7)"),
        NamespaceKind("ipc", syscalls.CLONE_NEWIPC, "System V IPC, POSIX message queues", "ipc_namespaces(7)"),
        NamespaceKind("mnt", syscalls.CLONE_NEWNS, "the mount table", "mount_namespaces(7)"),
        NamespaceKind("net", syscalls.CLONE_NEWNET, "network devices, addresses, routes, ports", "network_namespaces(7)"),
        NamespaceKind("pid", syscalls.CLONE_NEWPID, "process IDs", "pid_namespaces(7)"),
        NamespaceKind("time", 0x00000080, "the boot and monotonic clocks", "time_namespaces(7)"),
        NamespaceKind("user", syscalls.CLONE_NEWUSER, "user and group IDs, capabilities", "user_namespaces(7)"),
        NamespaceKind("uts", syscalls.CLONE_NEWUTS, "hostname and NIS domain name", "uts_namespaces(7)"),
    )
}

# The kinds the seed unshares, in the order a reader meets them in its README.
SEED_KINDS = ("net", "mnt", "uts", "ipc")


class UnshareNamespaces(Record):
    """Step: ``unshare(CLONE_NEW...)`` for the given kinds, in one call."""

    __slots__ = ("kinds",)

    @property
    def flags(self) -> int:
        flags = 0
        for kind in self.kinds:
            flags |= KINDS[kind].flag
        return flags

    def apply(self, kernel) -> None:
        kernel.unshare(self.flags)

    def __str__(self) -> str:
        names = " | ".join(f"CLONE_NEW{'NS' if k == 'mnt' else k.upper()}" for k in self.kinds)
        return f"unshare({names})"


class JoinNamespaces(Record):
    """Step: ``setns(2)`` into existing namespaces, ``((kind, path), ...)`` (OCI ``namespaces[].path``,
    ``exec``): opened and joined in order, before anything is unshared (runc's order)."""

    __slots__ = ("joins",)

    def apply(self, kernel) -> None:
        for kind, path in self.joins:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as error:
                from .errors import SyscallError

                raise SyscallError("open", error.errno, path) from None
            try:
                kernel.setns(fd, KINDS[kind].flag, path)
            finally:
                os.close(fd)

    def __str__(self) -> str:
        return "; ".join(f'setns(open("{path}"), CLONE_NEW{"NS" if kind == "mnt" else kind.upper()})'
                         for kind, path in self.joins)
