"""A test double for :class:`moby_dick.syscalls.Kernel` that records calls and fails like the kernel.

Modelled on youki's ``Syscall`` trait and its test implementation: isolation modules take a kernel
object, so unit tests can check *which* syscalls a step makes and *in which order*, without root.
"""

from __future__ import annotations

import errno as _errno

from ..errors import SyscallError


class RecordingKernel:
    """Records every call as ``(name, args...)``; ``fail={"mount": errno.EPERM}`` makes one fail."""

    def __init__(self, fail: dict[str, int] | None = None):
        self.calls: list[tuple] = []
        self.fail = dict(fail or {})
        self.hostname = "fakehost"

    def _record(self, name: str, *args, path: str | None = None) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise SyscallError(name, self.fail[name], path)

    def prepare(self) -> None:
        pass

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def fork(self) -> int:
        self._record("fork")
        return 0  # carry on as the child, as PID 1 would

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old, path=new_root)

    def chdir(self, path: str) -> None:
        self._record("chdir", path, path=path)

    def chroot(self, path: str) -> None:
        self._record("chroot", path, path=path)

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        self._record("makedirs", path, path=path)

    def write_file(self, path: str, text: str) -> None:
        self._record("write_file", path, text, path=path)

    def touch(self, path: str) -> None:
        self._record("touch", path, path=path)

    def symlink(self, target: str, path: str) -> None:
        self._record("symlink", target, path, path=path)

    def open_path(self, path: str) -> int:
        self._record("open_path", path, path=path)
        return 99

    def setns(self, fd: int, nstype: int = 0, path: str | None = None) -> None:
        self._record("setns", fd, nstype, path=path)

    def mount(self, source, target, fstype, flags=0, data=None) -> None:
        self._record("mount", source, target, fstype, flags, data, path=target)

    def umount2(self, target, flags=0) -> None:
        self._record("umount2", target, flags, path=target)

    def sethostname(self, name: str) -> None:
        if len(name.encode()) > 64:  # the kernel's __NEW_UTS_LEN
            self.calls.append(("sethostname", name))
            raise SyscallError("sethostname", _errno.EINVAL, name)
        self._record("sethostname", name, path=name)
        self.hostname = name

    def prctl(self, option: int, arg=0) -> None:
        self._record("prctl", option, arg)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]
