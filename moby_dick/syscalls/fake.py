"""A test double for :class:`moby_dick.syscalls.Kernel` that records calls and fails like the kernel.

Modelled on youki's ``Syscall`` trait and its test implementation: isolation modules take a kernel
object, so unit tests can check *which* syscalls a step makes and *in which order*, without root.
"""

from __future__ import annotations

import errno as _errno

from ..errors import SyscallError


class Executed(BaseException):
    """Raised by the fake's ``execve``: the real one never returns, so the caller's code stops here."""


class RecordingKernel:
    """Records every call as ``(name, args...)``; ``fail={"mount": errno.EPERM}`` makes one fail.

    What the fake does not model raises NotImplementedError (a unit test keeps its methods in step
    with :class:`moby_dick.syscalls.Kernel`), so a new syscall cannot slip past the unit tests."""

    RECORDS = ("calls", "fail", "hostname", "names", "next_fd", "next_pid", "opened")

    def __init__(self, fail: dict[str, int] | None = None):
        self.calls: list[tuple] = []
        self.fail = dict(fail or {})
        self.hostname = "fakehost"
        self.next_fd = 99
        self.opened: dict[int, str] = {}  # fd -> the path open_in_root opened
        self.next_pid = 0  # what fork returns: 0 carries on as the child

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotImplementedError(f"the recording kernel does not model {name}()")

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
        return self.next_pid  # 0: carry on as the child, as PID 1 would

    def waitpid(self, pid: int, options: int = 0):
        self._record("waitpid", pid, options)
        return pid, 0

    def kill(self, pid: int, number: int) -> bool:
        self._record("kill", pid, number)
        return True

    def pipe_has_writer(self, fd: int) -> bool:
        self._record("pipe_has_writer", fd)
        return True  # the fake's fork made no waiter to die

    def close(self, fd: int) -> None:
        self._record("close", fd)

    def open_in_root(self, root: str, path: str, make=None) -> int:
        self._record("open_in_root", root, path, make, path=f"{root.rstrip('/')}/{path.lstrip('/')}")
        self.opened[self.next_fd] = path
        return self.next_fd

    def symlink_in_root(self, root: str, path: str, target: str) -> None:
        self._record("symlink_in_root", root, path, target, path=path)

    def make_at(self, dir_fd: int, name: str, make: str) -> int:
        self._record("make_at", dir_fd, name, make, path=f"{self.opened.get(dir_fd, dir_fd)}/{name}")
        self.opened[self.next_fd] = f"{self.opened.get(dir_fd, dir_fd)}/{name}"
        return self.next_fd

    def symlink_at(self, dir_fd: int, name: str, target: str) -> None:
        self._record("symlink_at", dir_fd, name, target, path=name)

    def open_gate(self, fd: int) -> int:
        self._record("open_gate", fd)
        return self.next_fd

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        self._record("setrlimit", name, soft, hard)

    def sethostname_domain(self, name: str) -> None:
        self._record("sethostname_domain", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", path, mode, device, path=path)

    def runs_x32(self) -> bool:
        self._record("runs_x32")
        return False

    def default_disposition(self, number: int) -> None:
        self._record("default_disposition", number)

    def open_root(self, root: str) -> int:
        self._record("open_root", root, path=root)
        self.opened[self.next_fd] = root
        return self.next_fd

    def lookup(self, root_fd: int, path: str) -> int | None:
        """The fake's file system has every path (a lookup fails only when told to)."""
        self._record("lookup", root_fd, path, path=path)
        self.opened[self.next_fd] = path
        return self.next_fd

    def is_directory_fd(self, fd: int) -> bool:
        """The fake's file system: names with a dot, and /proc/k*, are files; the rest directories."""
        self._record("is_directory_fd", fd)
        path = self.opened.get(fd, "")
        return not path.rsplit("/", 1)[-1].count(".") and not path.startswith("/proc/k")

    def drop_bounding_set(self, numbers) -> None:
        self._record("drop_bounding_set", tuple(sorted(numbers)))

    def prctl4(self, option: int, arg2: int, arg3: int) -> None:
        self._record("prctl4", option, arg2, arg3)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective, permitted, inheritable)

    def locked_mount_flags(self, path: str) -> int:
        self._record("locked_mount_flags", path)
        return 0

    def prepare_seccomp(self, program: bytes):
        self._record("prepare_seccomp", len(program))
        return program  # nothing of the fake's reaches a kernel: the program itself will do

    def install_seccomp(self, program: bytes) -> None:
        self._record("install_seccomp", len(program))

    def close_all_but(self, keep) -> None:
        self._record("close_all_but", tuple(sorted(keep)))

    def close_range(self, first: int, last: int, flags: int = 0) -> None:
        self._record("close_range", first, last, flags)

    def setgroups(self, gids) -> None:
        self._record("setgroups", tuple(gids))

    def setresgid(self, rgid, egid, sgid) -> None:
        self._record("setresgid", rgid, egid, sgid)

    def setresuid(self, ruid, euid, suid) -> None:
        self._record("setresuid", ruid, euid, suid)

    def execve(self, path, argv, env) -> None:
        self._record("execve", path, tuple(argv), path=path)
        raise Executed(path)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old, path=new_root)

    def chdir(self, path: str) -> None:
        self._record("chdir", path, path=path)

    def chroot(self, path: str) -> None:
        self._record("chroot", path, path=path)

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        self._record("makedirs", path, path=path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._record("mkdir", path, path=path)

    def rmdir(self, path: str) -> None:
        self._record("rmdir", path, path=path)

    def write_file(self, path: str, text: str) -> None:
        self._record("write_file", path, text, path=path)

    def write_each(self, path: str, texts) -> None:
        for text in texts:
            self._record("write_file", path, text, path=path)  # as the kernel sees it: one write each

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


class FaultyKernel:
    """The real kernel door, except that the calls named in ``fail`` raise SyscallError with their
    errno, as the kernel would: fault injection for integration tests, in the parent and the child alike.
    ``after``: let that many calls of the name succeed before failing."""

    def __init__(self, fail: dict[str, int], after: dict[str, int] | None = None):
        from . import KERNEL

        self._real, self._fail, self._after = KERNEL, dict(fail), dict(after or {})

    def __getattr__(self, name: str):
        real = getattr(self._real, name)
        if name not in self._fail:
            return real

        def failing(*args, **kwargs):
            if self._after.get(name, 0) > 0:
                self._after[name] -= 1
                return real(*args, **kwargs)
            raise SyscallError(name, self._fail[name], str(args[0]) if args else None)

        return failing
