"""The filesystem jail: a root file system of the container's own, entered with ``pivot_root``.

Syscalls: ``mount(2)`` (tmpfs, overlay, bind, proc, sysfs, devpts), ``pivot_root(2)``, ``umount2(2)``
with ``MNT_DETACH``, ``chdir(2)``. Read pivot_root(2), mount_namespaces(7), overlayfs
(Documentation/filesystems/overlayfs.rst) and chroot(2), section NOTES, for why chroot is no jail.

How the new root is built, all inside the container's private mount namespace, so none of it is ever
visible on the host and all of it disappears with the container:

* default (copy-on-write): open ``DIR`` (an ``O_PATH`` fd), mount a scratch tmpfs *over* ``DIR``,
  create ``upper``, ``work``, ``merged`` in it, and mount an overlay on ``merged`` whose lower layer is
  ``/proc/self/fd/N``, the original ``DIR``. Writes land in the tmpfs: ``DIR`` itself stays untouched
  and the changes are discarded at exit. No directory is created on the host.
* ``--read-only``: bind ``DIR`` onto itself and remount the new root read-only after the pivot.

Then ``/proc``, a minimal ``/dev``, a read-only ``/sys`` and ``/tmp`` are mounted inside, volumes are
bound, and ``pivot_root(".", ".")`` (runc's trick: no put_old directory needed) swaps the roots; the
old root is detached with ``umount2(".", MNT_DETACH)``. Unlike ``chroot``, nothing of the old root is
left reachable: ``..`` of the new root is the root itself, for every process in the namespace.
"""

from __future__ import annotations

import os

from .mounts import InRoot, mount_on, mount_on_descriptor
from .records import Record
from .syscalls import (MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC,
                       MS_REMOUNT)

OVERLAY_DIRS = ("upper", "work", "merged")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")  # bound from the host's /dev
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}


def new_root_of(rootfs: str, read_only: bool) -> str:
    """Where the container's root is assembled before the pivot."""
    return rootfs if read_only else os.path.join(rootfs, "merged")


class OverlayRoot(Record):
    """Step: a copy-on-write root: overlay(lower=rootfs, upper on a scratch tmpfs) on rootfs/merged."""

    __slots__ = ("rootfs",)

    def apply(self, kernel) -> None:
        lower = kernel.open_path(self.rootfs)  # keeps the original directory reachable once covered
        kernel.mount("moby-dick", self.rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        for name in OVERLAY_DIRS:
            kernel.makedirs(os.path.join(self.rootfs, name))
        options = (f"lowerdir=/proc/self/fd/{lower},upperdir={self.rootfs}/upper,"
                   f"workdir={self.rootfs}/work")
        kernel.mount("moby-dick-overlay", os.path.join(self.rootfs, "merged"), "overlay", 0, options)

    def __str__(self) -> str:
        return (f'mount("moby-dick", "{self.rootfs}", "tmpfs"); mount("overlay", "{self.rootfs}/merged", '
                f'"overlay", lowerdir=<the original {self.rootfs}>, upper and work on that tmpfs)')


class BindRoot(Record):
    """Step: bind the rootfs onto itself, so that it is a mount point ``pivot_root`` accepts."""

    __slots__ = ("rootfs",)

    def apply(self, kernel) -> None:
        kernel.mount(self.rootfs, self.rootfs, None, MS_BIND | MS_REC, None)

    def __str__(self) -> str:
        return f'mount("{self.rootfs}", "{self.rootfs}", NULL, MS_BIND|MS_REC, NULL)'


class MountDev(Record):
    """Step: a minimal ``/dev``: tmpfs, the harmless host devices bound in, a new devpts, shm, links.
    The fresh tmpfs is looked up inside the root once, after it is mounted, and everything is made
    relative to that one descriptor (``openat``/``mkdirat``/``symlinkat`` with O_NOFOLLOW): the tmpfs is
    empty and the container has not started, so no name in it can be anything but what this step made."""

    __slots__ = ("target",)

    def apply(self, kernel) -> None:
        mount_on(kernel, self.target, "moby-dick-dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755")
        dev = kernel.open_in_root(self.target.root, self.target.path)
        try:
            for name in DEVICES:
                self._mount_in(kernel, dev, name, "file", f"/dev/{name}", None, MS_BIND, None)
            self._mount_in(kernel, dev, "pts", "dir", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                           "newinstance,ptmxmode=0666,mode=0620")
            self._mount_in(kernel, dev, "shm", "dir", "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
            for name, link in DEV_LINKS.items():
                kernel.symlink_at(dev, name, link)
        finally:
            kernel.close(dev)

    def _mount_in(self, kernel, dev: int, name: str, make: str, source, fstype, flags, data) -> None:
        fd = kernel.make_at(dev, name, make)
        try:
            mount_on_descriptor(kernel, fd, str(_below(self.target, name)), source, fstype, flags, data)
        finally:
            kernel.close(fd)

    def __str__(self) -> str:
        return (f'mount tmpfs on "{self.target}"; bind /dev/{{{",".join(DEVICES)}}}; '
                f'devpts on pts (newinstance); tmpfs on shm; fd, std*, ptmx links')


class DefaultDevices(Record):
    """Step (OCI): the runtime-spec's default devices in the container's ``/dev`` (null, zero, full,
    random, urandom, tty, bound from the host as in :class:`MountDev`) and its links (fd, std*, ptmx),
    unless the config already mounts or lists them."""

    __slots__ = ("target", "skip")
    DEFAULTS = {"skip": ()}

    def apply(self, kernel) -> None:
        for name in DEVICES:
            if "/dev/" + name not in self.skip:
                mount_on(kernel, _below(self.target, name), f"/dev/{name}", None, MS_BIND, None, make="file")
        for name, link in DEV_LINKS.items():
            if "/dev/" + name not in self.skip:
                try:
                    kernel.symlink_in_root(self.target.root, _below(self.target, name).path, link)
                except OSError as error:
                    if error.errno != 17:  # EEXIST: the image or a mount has it already
                        raise

    def __str__(self) -> str:
        return f'bind /dev/{{{",".join(DEVICES)}}} into "{self.target}"; fd, std*, ptmx links'


class CreateDevices(Record):
    """Step (OCI ``linux.devices``): ``mknod(2)`` each device node inside the root, then chown it."""

    __slots__ = ("root", "devices", "bind")
    DEFAULTS = {"bind": False}  # in a user namespace mknod is refused: bind the host's node instead

    def apply(self, kernel) -> None:
        import stat

        for device in self.devices:
            if self.bind:
                mount_on(kernel, InRoot(self.root, device.path), device.path, None, MS_BIND, None, make="file")
                continue
            kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[device.type]
            parent, _, name = device.path.rstrip("/").rpartition("/")
            fd = kernel.open_in_root(self.root, parent or "/", "dir")
            try:
                path = f"/proc/self/fd/{fd}/{name}"
                if os.path.lexists(path):
                    os.unlink(path)
                kernel.mknod(path, kind | (device.file_mode & 0o7777), os.makedev(device.major, device.minor))
                os.chown(path, device.uid, device.gid)
                os.chmod(path, device.file_mode & 0o7777)
            finally:
                kernel.close(fd)

    def __str__(self) -> str:
        return "mknod " + ", ".join(f"{d.path} ({d.type} {d.major}:{d.minor})" for d in self.devices)


def _below(target: InRoot, name: str) -> InRoot:
    return InRoot(target.root, target.path.rstrip("/") + "/" + name)


class BindVolume(Record):
    """Step: ``-v HOST:CONTAINER[:ro]``: bind a host path into the new root (read-only if asked)."""

    __slots__ = ("source", "target", "read_only")

    def apply(self, kernel) -> None:
        make = "dir" if os.path.isdir(self.source) else "file"
        mount_on(kernel, self.target, self.source, None, MS_BIND | MS_REC, None, make=make)
        if self.read_only:  # a bind mount ignores MS_RDONLY until it is remounted; looked up again,
            # so that the remount lands on the new mount, not on what it covers
            mount_on(kernel, self.target, None, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None, make=make)

    def __str__(self) -> str:
        suffix = "; remount read-only" if self.read_only else ""
        return f'mount("{self.source}", "{self.target}", NULL, MS_BIND|MS_REC, NULL){suffix}'


class MakeDirectory(Record):
    """Step: create a directory inside the root (a missing ``-w``, as docker creates it)."""

    __slots__ = ("target",)

    def apply(self, kernel) -> None:
        kernel.close(kernel.open_in_root(self.target.root, self.target.path, "dir"))

    def __str__(self) -> str:
        return f'mkdir -p "{self.target}" (inside the root)'


class PivotRoot(Record):
    """Step: make ``new_root`` the root and detach the old one (runc's ``pivot_root(".", ".")``)."""

    __slots__ = ("new_root",)

    def apply(self, kernel) -> None:
        kernel.chdir(self.new_root)
        kernel.pivot_root(".", ".")  # the old root is now mounted on top of the new one, at "."
        kernel.umount2(".", MNT_DETACH)  # ... and gone: unreachable from anywhere in the namespace
        kernel.chdir("/")

    def __str__(self) -> str:
        return f'chdir("{self.new_root}"); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")'


class ChrootOnly(Record):
    """Step (the negative control, ``--jail chroot``): ``chroot`` into the new root and nothing else.

    chroot(2) changes only how ``/`` is resolved for this process; the old root stays mounted and a
    process with CAP_SYS_CHROOT can climb out of it (see the ``jail`` demo).
    """

    __slots__ = ("new_root",)

    def apply(self, kernel) -> None:
        kernel.chdir(self.new_root)
        kernel.chroot(".")
        kernel.chdir("/")

    def __str__(self) -> str:
        return f'chdir("{self.new_root}"); chroot("."); chdir("/")   (no pivot_root: escapable)'


class ReadOnlyRoot(Record):
    """Step: after the pivot, remount ``/`` read-only."""

    __slots__ = ()

    def apply(self, kernel) -> None:
        kernel.mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | kernel.locked_mount_flags("/"), None)

    def __str__(self) -> str:
        return 'mount(NULL, "/", NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)'


# ---- pure checks -----------------------------------------------------------------------------

def volume_problems(spec_text: str) -> list[str]:
    """What is wrong with a ``-v HOST:CONTAINER[:ro]`` text (empty list: nothing). Pure."""
    parts = spec_text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        return [f'volume "{spec_text}": write it as HOST:CONTAINER or HOST:CONTAINER:ro']
    if len(parts) == 3 and parts[2] not in ("ro", "rw"):
        return [f'volume "{spec_text}": the third part must be ro or rw']
    if not parts[0].startswith("/"):
        return [f'volume "{spec_text}": the host path must be absolute']
    if not parts[1].startswith("/"):
        return [f'volume "{spec_text}": the container path must be absolute']
    if any(part in (".", "..") for part in parts[1].split("/")) or "\0" in spec_text:
        return [f'volume "{spec_text}": the container path must not contain "." or ".." or NUL']
    if os.path.normpath(parts[1]) == "/":
        return [f'volume "{spec_text}": cannot mount over the container\'s /']
    return []
