"""Masked and read-only paths, and namespaced sysctls: what a container must not see or change.

Syscalls: ``mount(2)`` (``/dev/null`` bound over a file, an empty read-only tmpfs over a directory;
a bind of a path onto itself remounted ``MS_RDONLY``), ``write(2)`` to ``/proc/sys``. These run after
``pivot_root``, so every path is the container's (resolved inside its root, ``/``). Read proc(5) for
what ``/proc/kcore``, ``/proc/keys``, ``/proc/sys`` and ``/proc/sysrq-trigger`` expose, and the
runtime-spec's ``maskedPaths``/``readonlyPaths``/``sysctl`` (config-linux.md).
"""

from __future__ import annotations

from .errors import SyscallError
from .mounts import mount_on_descriptor
from .records import Record
from .syscalls import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT

ENOENT = 2


class MaskPaths(Record):
    """Step: hide each path: a file gets ``/dev/null`` bound over it, a directory an empty read-only
    tmpfs. A path that does not exist is skipped (nothing to hide)."""

    __slots__ = ("paths",)

    def apply(self, kernel) -> None:
        root = kernel.open_root("/")  # one descriptor of the root; each path looked up right before its mount
        try:
            for path in self.paths:
                fd = kernel.lookup(root, path)
                if fd is None:
                    continue
                try:  # one lookup: the mount goes onto the very file or directory that was looked at
                    if kernel.is_directory_fd(fd):
                        mount_on_descriptor(kernel, fd, path, "tmpfs", "tmpfs",
                                            MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0000")
                    else:
                        mount_on_descriptor(kernel, fd, path, "/dev/null", None, MS_BIND, None)
                finally:
                    kernel.close(fd)
        finally:
            kernel.close(root)

    def __str__(self) -> str:
        return "mask " + ", ".join(self.paths) + " (/dev/null over files, an empty ro tmpfs over directories)"


class ReadOnlyPaths(Record):
    """Step: bind each path onto itself, then remount the bind read-only (a path at a time: a later
    path inside an earlier one is looked up in the earlier one's bind)."""

    __slots__ = ("paths",)

    def apply(self, kernel) -> None:
        root = kernel.open_root("/")
        try:
            for path in self.paths:
                fd = kernel.lookup(root, path)
                if fd is None:
                    continue
                try:
                    mount_on_descriptor(kernel, fd, path, path, None, MS_BIND | MS_REC, None)
                finally:
                    kernel.close(fd)
                # the remount looks the path up again: the descriptor still names what lies under the bind
                fd = kernel.lookup(root, path)
                if fd is None:
                    raise SyscallError("openat2", ENOENT, path)  # bound a moment ago: something is wrong
                try:
                    mount_on_descriptor(kernel, fd, path, None, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
                                        | MS_NODEV | MS_NOEXEC, None)
                finally:
                    kernel.close(fd)
        finally:
            kernel.close(root)

    def __str__(self) -> str:
        return "read-only " + ", ".join(self.paths) + " (bind onto itself, remount MS_RDONLY)"


class SetSysctls(Record):
    """Step: write each ``(key, value)`` to ``/proc/sys/<key with / for .>``."""

    __slots__ = ("values",)

    def apply(self, kernel) -> None:
        for key, value in self.values:
            path = "/proc/sys/" + key.replace(".", "/")
            try:
                kernel.write_file(path, str(value))
            except OSError as error:
                raise SyscallError("write", error.errno, path) from None

    def __str__(self) -> str:
        return "; ".join(f"write {value!r} to /proc/sys/{key.replace('.', '/')}" for key, value in self.values)
