"""Mount isolation: the container's own mount table, and why it must be made private first.

Syscalls: ``unshare(CLONE_NEWNS)`` (in :mod:`moby_dick.namespaces`), then ``mount(2)`` twice:
``mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`` and ``mount("moby-dick", path, "tmpfs", ...)``.
Read mount_namespaces(7) (section "Shared subtrees") and mount(2).

The seed's bug, fixed here: a new mount namespace starts as a *copy* of its parent's, and the copy
keeps each mount's propagation type. On a systemd machine ``/`` is ``shared``, so a mount made
inside the "isolated" namespace propagates back to the host and stays there after the container
exits. The seed never changed the propagation; moby-dick makes ``/`` recursively private (or
``rslave``, if asked) before it mounts anything. ``--propagation unchanged`` reproduces the seed.
"""

from __future__ import annotations

import os
from . import syscalls
from .records import Record

SEED_TMPFS = "/mytmp"  # the seed mounted a tmpfs here and required the directory to exist
TMPFS_SOURCE = "moby-dick"  # shows in mountinfo, so a leaked mount names its owner
PROPAGATIONS = {
    "private": syscalls.MS_REC | syscalls.MS_PRIVATE,  # nothing in, nothing out
    "slave": syscalls.MS_REC | syscalls.MS_SLAVE,  # host mounts come in, container's stay in
    "shared": syscalls.MS_REC | syscalls.MS_SHARED,  # OCI rootfsPropagation only, applied after the pivot
    "unbindable": syscalls.MS_REC | (1 << 17),  # OCI rootfsPropagation only (MS_UNBINDABLE)
    "unchanged": 0,  # the seed's behaviour: whatever the host had (leaks on a shared /)
}


def tmpfs_path_problems(path: str) -> list[str]:
    """What is wrong with ``path`` as a tmpfs mount point (empty list: nothing). Pure."""
    if "\0" in path:
        return [f"tmpfs path {path!r} contains a NUL byte"]
    if not path.startswith("/"):
        return [f'tmpfs path "{path}" is relative; give an absolute path such as /scratch']
    if os.path.normpath(path) in ("/", "//"):
        return ["tmpfs path cannot be / (that would hide the whole filesystem)"]
    if any(part in (".", "..") for part in path.split("/")):
        return [f'tmpfs path "{path}" contains "." or ".."; give a plain absolute path']
    return []


def normalize(path: str) -> str:
    return os.path.normpath(path).replace("//", "/")


TMPFS_DEFAULTS = ("nosuid", "nodev", "mode=1777")
TMPFS_FLAGS = ("ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync",
               "noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime")
TMPFS_VALUES = {"size": "a size such as 64m, 1g or 50%", "mode": "octal permissions such as 1777",
                "uid": "a numeric uid", "gid": "a numeric gid", "nr_inodes": "a count such as 10k",
                "nr_blocks": "a count"}


def split_tmpfs(text: str) -> tuple[str, tuple[str, ...]]:
    """docker's ``--tmpfs PATH[:OPTIONS]`` -> (PATH, the mount options: moby-dick's defaults, then the
    user's, a user's ``mode=`` replacing the default one). Pure; checked by :func:`tmpfs_problems`."""
    path, _, options_text = text.partition(":")
    given = tuple(option for option in options_text.split(",") if option)
    defaults = tuple(o for o in TMPFS_DEFAULTS if not (o.startswith("mode=") and any(g.startswith("mode=") for g in given)))
    return path, defaults + given


def tmpfs_problems(text: str) -> list[str]:
    """What is wrong with a ``--tmpfs PATH[:OPTIONS]`` text. Pure."""
    path, _, options_text = text.partition(":")
    problems = tmpfs_path_problems(path)
    for option in (o for o in options_text.split(",") if o):
        name, equals, value = option.partition("=")
        if not equals and name in TMPFS_FLAGS:
            continue
        if not equals or name not in TMPFS_VALUES:
            problems.append(f'--tmpfs "{text}": unknown option "{option}" (flags: {", ".join(TMPFS_FLAGS[:8])} ...; '
                            f'values: {", ".join(n + "=" for n in TMPFS_VALUES)})')
        elif not _tmpfs_value_ok(name, value):
            problems.append(f'--tmpfs "{text}": {name}= takes {TMPFS_VALUES[name]}')
    return problems


def _tmpfs_value_ok(name: str, value: str) -> bool:
    if name == "mode":
        return bool(value) and len(value) <= 4 and all(c in "01234567" for c in value)
    if name == "size" and value.endswith("%"):
        return value[:-1].isdigit() and value[:-1].isascii()
    digits = value[:-1] if value[-1:].lower() in ("k", "m", "g") and name in ("size", "nr_inodes", "nr_blocks") else value
    return digits.isdigit() and digits.isascii()


class MakeRootPrivate(Record):
    """Step: change the propagation of every mount under ``/`` in the new namespace."""

    __slots__ = ("propagation",)
    DEFAULTS = {"propagation": "private"}

    def apply(self, kernel) -> None:
        kernel.mount(None, "/", None, PROPAGATIONS[self.propagation], None)

    def __str__(self) -> str:
        kind = {"private": "MS_PRIVATE", "slave": "MS_SLAVE", "shared": "MS_SHARED",
                "unbindable": "MS_UNBINDABLE"}[self.propagation]
        return f'mount(NULL, "/", NULL, MS_REC|{kind}, NULL)'


class InRoot(Record):
    """A path inside the container's root (before the pivot, at ``root``), resolved *inside* it when a
    step uses it: a symlink in the image such as ``evil -> /etc`` leads to ``<root>/etc``, never to the
    host's (CVE-2021-30465 and the class of runc's securejoin). See :meth:`Kernel.open_in_root`."""

    __slots__ = ("root", "path")

    def __str__(self) -> str:
        return f"{self.root.rstrip('/')}/{self.path.lstrip('/')}"


def mount_on(kernel, target, source, fstype, flags, data, make: str = "dir") -> None:
    """``mount(2)`` onto ``target``: a host path (created if missing), or an :class:`InRoot` path,
    opened inside the root (``make``: create it as a "dir" or "file" when missing) and mounted on as
    ``/proc/self/fd/N``, so that nothing between the lookup and the mount can redirect it."""
    if not isinstance(target, InRoot):
        kernel.makedirs(target)
        if flags & syscalls.MS_REMOUNT and flags & syscalls.MS_BIND:
            flags |= kernel.locked_mount_flags(target)
        kernel.mount(source, target, fstype, flags, data)
        return
    fd = kernel.open_in_root(target.root, target.path, make)
    try:
        mount_on_descriptor(kernel, fd, str(target), source, fstype, flags, data)
    finally:
        kernel.close(fd)


def mount_on_descriptor(kernel, fd: int, name: str, source, fstype, flags, data) -> None:
    """``mount(2)`` onto what the O_PATH descriptor ``fd`` names, as ``/proc/self/fd/N``; a failure names
    the path ``name``. The caller keeps (and closes) ``fd``."""
    try:
        if flags & syscalls.MS_REMOUNT and flags & syscalls.MS_BIND:
            # In a user namespace a remount must keep the flags the mount was locked with (nosuid,
            # nodev, noexec, atime), or the kernel refuses it (mount(2), EPERM): read and keep them.
            flags |= kernel.locked_mount_flags(f"/proc/self/fd/{fd}")
        kernel.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data)
    except OSError as error:
        from .errors import SyscallError

        raise SyscallError("mount", error.errno, name) from None


# mount(8) options -> (flags to set, flags to clear): runc's parseMountOptions, the subset Linux has.
MOUNT_FLAGS = {
    "ro": (syscalls.MS_RDONLY, 0), "rw": (0, syscalls.MS_RDONLY),
    "nosuid": (syscalls.MS_NOSUID, 0), "suid": (0, syscalls.MS_NOSUID),
    "nodev": (syscalls.MS_NODEV, 0), "dev": (0, syscalls.MS_NODEV),
    "noexec": (syscalls.MS_NOEXEC, 0), "exec": (0, syscalls.MS_NOEXEC),
    "sync": (16, 0), "async": (0, 16), "dirsync": (128, 0),
    "noatime": (1024, 0), "atime": (0, 1024), "nodiratime": (2048, 0), "diratime": (0, 2048),
    "relatime": (1 << 21, 0), "norelatime": (0, 1 << 21), "strictatime": (1 << 24, 0),
    "nostrictatime": (0, 1 << 24), "mand": (64, 0), "nomand": (0, 64), "silent": (32768, 0), "loud": (0, 32768),
    "remount": (syscalls.MS_REMOUNT, 0), "bind": (syscalls.MS_BIND, 0), "rbind": (syscalls.MS_BIND | syscalls.MS_REC, 0),
}
PROPAGATION_FLAGS = {
    "private": syscalls.MS_PRIVATE, "rprivate": syscalls.MS_PRIVATE | syscalls.MS_REC,
    "slave": syscalls.MS_SLAVE, "rslave": syscalls.MS_SLAVE | syscalls.MS_REC,
    "shared": syscalls.MS_SHARED, "rshared": syscalls.MS_SHARED | syscalls.MS_REC,
    "unbindable": 1 << 17, "runbindable": (1 << 17) | syscalls.MS_REC,
}
_FLAG_NAMES = ((syscalls.MS_RDONLY, "MS_RDONLY"), (syscalls.MS_NOSUID, "MS_NOSUID"), (syscalls.MS_NODEV, "MS_NODEV"),
               (syscalls.MS_NOEXEC, "MS_NOEXEC"), (syscalls.MS_REMOUNT, "MS_REMOUNT"), (syscalls.MS_BIND, "MS_BIND"),
               (syscalls.MS_REC, "MS_REC"), (1024, "MS_NOATIME"), (1 << 21, "MS_RELATIME"), (1 << 24, "MS_STRICTATIME"))


def parse_options(options) -> tuple[int, int, str | None]:
    """``("nosuid", "ro", "mode=755", "rprivate")`` -> (mount flags, propagation flags, data text). Pure.
    Words that are not flags are the file system's own options (``mode=755``, ``size=64k``)."""
    flags, propagation, data = 0, 0, []
    for option in options:
        if option in MOUNT_FLAGS:
            add, clear = MOUNT_FLAGS[option]
            flags = (flags | add) & ~clear
        elif option in PROPAGATION_FLAGS:
            propagation |= PROPAGATION_FLAGS[option]
        elif option not in ("defaults", "tmpcopyup", "idmap", "ridmap", "nosymfollow"):
            data.append(option)
    return flags, propagation, ",".join(data) or None


def flag_names(flags: int) -> str:
    return "|".join(name for bit, name in _FLAG_NAMES if flags & bit) or "0"


class MountFilesystem(Record):
    """Step: mount a file system (proc, tmpfs, sysfs, devpts, mqueue ...) on ``target``."""

    __slots__ = ("target", "source", "fstype", "flags", "data")
    DEFAULTS = {"data": None}

    def apply(self, kernel) -> None:
        mount_on(kernel, self.target, self.source, self.fstype, self.flags, self.data)

    def __str__(self) -> str:
        data = "NULL" if self.data is None else f'"{self.data}"'
        return f'mount("{self.source}", "{self.target}", "{self.fstype}", {flag_names(self.flags)}, {data})'
