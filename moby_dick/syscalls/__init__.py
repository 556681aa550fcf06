"""The only door to the kernel.

Python 3.11 has ``os.fork``/``os.execvpe`` but no ``unshare``, ``setns``, ``mount``, ``umount2`` or
``sethostname`` (``os.unshare``/``os.setns`` arrive in 3.12), so this module calls libc through
ctypes with ``use_errno=True`` and turns a failure into a :class:`SyscallError` that names the
syscall, the errno and the object. No syscall numbers are hard-coded: libc's wrappers are
portable across architectures.

Isolation modules receive a ``Kernel`` object instead of calling this module directly, so unit
tests can pass :class:`moby_dick.syscalls.fake.RecordingKernel`, which records the calls and
fails like the kernel would. Man pages: unshare(2), setns(2), mount(2), umount(2),
sethostname(2), prctl(2).
"""

from __future__ import annotations

import os

from ..errors import SyscallError

# Namespace flags from <linux/sched.h>; identical on every architecture.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Mount flags from <linux/mount.h>.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


class Kernel:
    """Real syscalls through libc. Loaded lazily: importing this module costs nothing."""

    _libc = None

    @classmethod
    def _lib(cls):
        if cls._libc is None:
            import ctypes

            cls._libc = ctypes.CDLL(None, use_errno=True)
        return cls._libc

    def prepare(self) -> None:
        """Load libc and look up every function now, in the parent: done once, instead of in each
        forked child (importing ctypes there cost ~10 ms per container)."""
        lib = self._lib()
        for name in ("unshare", "setns", "mount", "umount2", "sethostname", "prctl", "pivot_root"):
            getattr(lib, name)  # CDLL caches the function pointer on first access

    def _check(self, result: int, syscall: str, path: str | None = None) -> int:
        if result == -1:
            import ctypes

            raise SyscallError(syscall, ctypes.get_errno(), path)
        return result

    @staticmethod
    def _c(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    def unshare(self, flags: int) -> None:
        self._check(self._lib().unshare(flags), "unshare")

    def fork(self) -> int:
        return os.fork()

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._check(self._lib().pivot_root(self._c(new_root), self._c(put_old)), "pivot_root", new_root)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def chroot(self, path: str) -> None:
        os.chroot(path)

    # File-system helpers the mount steps use, here so that the fake can record them too.
    def makedirs(self, path: str, mode: int = 0o755) -> None:
        os.makedirs(path, mode, exist_ok=True)

    def write_file(self, path: str, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        except OSError as error:
            raise SyscallError("write", error.errno, path) from None
        finally:
            os.close(fd)

    def touch(self, path: str) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def open_path(self, path: str) -> int:
        return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def setns(self, fd: int, nstype: int = 0, path: str | None = None) -> None:
        self._check(self._lib().setns(fd, nstype), "setns", path)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        import ctypes

        lib = self._lib()
        result = lib.mount(self._c(source), self._c(target), self._c(fstype),
                           ctypes.c_ulong(flags), self._c(data))
        self._check(result, "mount", target)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._check(self._lib().umount2(self._c(target), flags), "umount2", target)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._lib().sethostname(raw, len(raw)), "sethostname", name)

    def prctl(self, option: int, arg: int | bytes = 0) -> None:
        import ctypes

        value = arg if isinstance(arg, bytes) else ctypes.c_ulong(arg)
        self._check(self._lib().prctl(option, value, 0, 0, 0), "prctl")


KERNEL = Kernel()
