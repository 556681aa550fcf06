"""The only door to the kernel.

Python 3.11 has ``os.fork``/``os.execvpe`` but no ``unshare``, ``setns``, ``mount``, ``umount2`` or
``sethostname`` (``os.unshare``/``os.setns`` arrive in 3.12), so this module calls libc through
:mod:`moby_dick.syscalls.libc` (``_ctypes``, the C module under ctypes, without the ~3 ms package) and
turns a failure into a :class:`SyscallError` that names the syscall, the errno and the object. No
syscall numbers are hard-coded (openat2 aside, below): libc's wrappers are portable across architectures.

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
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15

# openat2(2), <linux/openat2.h>. Calls numbered from 424 on share one number on every architecture of
# the unified table (Linux 5.1); alpha adds 110, mips has ABI offsets: there the walk below is used.
_OPENAT2 = {"alpha": 547}
# rt_sigaction(2)'s number, by os.uname().machine (asm/unistd*.h); the unified table's elsewhere
_RT_SIGACTION = {"x86_64": 13, "i386": 174, "i686": 174, "armv7l": 174, "armv6l": 174, "s390x": 174,
                 "ppc64le": 173, "ppc64": 173, "ppc": 173}
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
MAX_SYMLINKS = 40  # as the kernel's path walk (ELOOP beyond)


class Kernel:
    """Real syscalls through libc. Loaded lazily: importing this module costs nothing."""

    _libc = _binding = None

    @classmethod
    def _lib(cls):
        if cls._libc is None:
            from . import libc

            cls._libc, cls._binding = libc.Libc(), libc
        return cls._libc

    @classmethod
    def _types(cls):
        """:mod:`moby_dick.syscalls.libc` (its C types, ``byref``, ``get_errno``), imported with the library.
        Not ``from . import libc`` in each method: in a package that runs importlib's ``_handle_fromlist``,
        Python code whose pages a forked child would copy before its first syscall."""
        if cls._binding is None:
            cls._lib()
        return cls._binding

    def prepare(self) -> None:
        """Load libc and look up every function now, in the parent: done once, instead of in each
        forked child (importing the binding there cost ~10 ms per container)."""
        libc = self._types()

        lib = self._lib()
        for name in ("unshare", "setns", "mount", "umount2", "sethostname", "prctl", "pivot_root", "syscall",
                     "close_range", "capset", "setdomainname"):
            getattr(lib, name)  # CDLL caches the function pointer on first access
        # and the array types capset builds (ctypes makes a class per length, once: ~20-30 us each), and
        # the typed bindings, which each child would otherwise make for itself
        libc.c_uint32 * 2, libc.c_uint32 * 6  # noqa: B018
        self._typed()

    def _check(self, result: int, syscall: str, path: str | None = None) -> int:
        if result == -1:
            libc = self._types()

            raise SyscallError(syscall, libc.get_errno(), path)
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

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        os.mkdir(path, mode)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def write_file(self, path: str, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, text.encode())
        except OSError as error:
            raise SyscallError("write", error.errno, path) from None
        finally:
            os.close(fd)

    def write_each(self, path: str, texts) -> None:
        """One ``open(2)``, then one ``write(2)`` per text: a cgroup v1 ``devices.allow`` takes one rule per
        write, and a dozen rules need not open the file a dozen times."""
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            for text in texts:
                try:
                    os.write(fd, text.encode())
                except OSError as error:
                    failed = SyscallError("write", error.errno, path)
                    failed.text = text  # which of the writes the kernel refused
                    raise failed from None
        finally:
            os.close(fd)

    def touch(self, path: str) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def open_path(self, path: str) -> int:
        return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self, fd: int) -> None:
        os.close(fd)

    def symlink_in_root(self, root: str, path: str, target: str) -> None:
        """``symlinkat(2)``: create ``path`` (inside ``root``) as a symlink to ``target``."""
        parent, _, name = path.rstrip("/").rpartition("/")
        fd = self.open_in_root(root, parent or "/", "dir")
        try:
            os.symlink(target, name, dir_fd=fd)
        except OSError as error:
            raise SyscallError("symlinkat", error.errno, f"{root.rstrip('/')}/{path.lstrip('/')}") from None
        finally:
            os.close(fd)

    def open_in_root(self, root: str, path: str, make: str | None = None) -> int:
        """An ``O_PATH`` descriptor of ``path`` resolved *inside* ``root``: symlinks and ``..`` never
        leave it (an absolute link restarts at ``root``). ``make``: "dir" or "file" creates what is
        missing, also inside. ``openat2(RESOLVE_IN_ROOT)`` where the kernel has it (5.6+), else
        :func:`walk_in_root`. Read openat2(2), path_resolution(7); runc's securejoin, crun's safe_openat."""
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if Kernel._openat2_usable:
                fd, error = self._resolve(root_fd, path)
                if fd >= 0:
                    return fd
                if error == 2 and make is not None:  # ENOENT: usually only the last component is missing
                    return self._make_last(root_fd, path, make)
                if error in (38, 1):  # ENOSYS, EPERM (a seccomp filter): walk from now on
                    Kernel._openat2_usable = False
                elif error != 11:  # EAGAIN, still racing: the component walk is as safe, only slower
                    raise SyscallError("openat2", error, f"{root.rstrip('/')}/{path.lstrip('/')}")
            return walk_in_root(root_fd, path, make)
        except OSError as error:
            if isinstance(error, SyscallError):
                raise
            raise SyscallError("openat", error.errno, f"{root.rstrip('/')}/{path.lstrip('/')}") from None
        finally:
            os.close(root_fd)

    def _resolve(self, root_fd: int, path: str) -> tuple[int, int]:
        """openat2(RESOLVE_IN_ROOT) -> (descriptor or -1, errno). EAGAIN: a rename or mount somewhere on the
        system raced the resolution of a ".."; the kernel refused rather than risk an escape, and openat2(2)
        says to retry (a busy machine does this)."""
        libc = self._types()

        error = 0
        for _ in range(64):
            fd = self._openat2(root_fd, path)
            if fd >= 0:
                return fd, 0
            error = libc.get_errno()
            if error != 11:
                break
        return -1, error

    def _make_last(self, root_fd: int, path: str, make: str) -> int:
        """``path``'s parent resolved inside the root and its last component made there
        (:meth:`make_at`): four syscalls where the walk from the root needs two per component. Anything
        else (the parent missing too, the name a symlink the image placed) goes to :func:`walk_in_root`,
        which follows links inside the root."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if name in ("", ".", ".."):
            return walk_in_root(root_fd, path, make)
        parent_fd, _ = self._resolve(root_fd, parent or "/")
        if parent_fd < 0:
            return walk_in_root(root_fd, path, make)
        try:
            return self.make_at(parent_fd, name, make)
        except OSError:  # ELOOP (a symlink), EEXIST (a dangling link, a file for a dir): the careful way
            return walk_in_root(root_fd, path, make)
        finally:
            os.close(parent_fd)

    def make_at(self, dir_fd: int, name: str, make: str) -> int:
        """Create ``name`` in the directory ``dir_fd`` if missing (``mkdirat(2)`` for "dir",
        ``openat(O_CREAT | O_NOFOLLOW)`` for "file") and return an O_PATH descriptor of it, opened with
        O_NOFOLLOW; a symlink is refused (ELOOP). ``name`` is one component."""
        if make == "file":
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd))
        else:
            try:
                os.mkdir(name, 0o755, dir_fd=dir_fd)
            except FileExistsError:
                pass  # a directory already: checked below
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        if (os.fstat(fd).st_mode & 0o170000) == 0o120000:  # S_IFLNK
            os.close(fd)
            raise OSError(40, os.strerror(40), name)  # ELOOP
        return fd

    def symlink_at(self, dir_fd: int, name: str, target: str) -> None:
        """``symlinkat(2)``: ``name`` in the directory ``dir_fd``, pointing at ``target``."""
        try:
            os.symlink(target, name, dir_fd=dir_fd)
        except OSError as error:
            raise SyscallError("symlinkat", error.errno, name) from None

    _openat2_usable = True  # False once the kernel said it has no openat2
    _openat2_number = None  # the syscall's number on this machine, looked up once

    def _openat2(self, root_fd: int, path: str) -> int:
        number = Kernel._openat2_number
        if number is None:
            machine = os.uname().machine
            number = Kernel._openat2_number = _OPENAT2.get(machine, None if machine.startswith("mips") else 437)
        if number is None:
            Kernel._openat2_usable = False
            return -1
        openat2, _, address, size = self._typed()["openat2"]
        return openat2(number, root_fd, os.fsencode(path), address, size)

    _bound = None  # the typed bindings, made once (prepare() makes them before the fork)

    def _typed(self) -> dict:
        """``prctl``, ``mount`` and openat2's ``syscall`` with their C argument types fixed
        (:meth:`Libc.typed`): plain ints and bytes are converted in C, and prctl's variadic ``unsigned
        long`` arguments are always passed as such. openat2's comes with the one ``open_how`` every call
        passes (the kernel only reads it): ``(call, how, its address, its size)``."""
        if Kernel._bound is None:
            libc, lib = self._types(), self._lib()
            ulong, text = libc.c_ulong, libc.c_char_p
            how = (libc.c_uint64 * 3)(os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            # long syscall(long, int dirfd, const char *, struct open_how *, size_t)
            openat2 = lib.typed("syscall", libc.c_long, libc.c_long, libc.c_int, text, libc.c_size_t, libc.c_size_t)
            Kernel._bound = {"prctl": lib.typed("prctl", libc.c_int, libc.c_int, ulong, ulong, ulong, ulong),
                             "mount": lib.typed("mount", libc.c_int, text, text, text, ulong, text),
                             "openat2": (openat2, how, libc.addressof(how), libc.sizeof(how))}
        return Kernel._bound

    def open_gate(self, fd: int) -> int:
        """Reopen the O_PATH descriptor of a fifo for writing (blocks until a reader opens it)."""
        try:
            return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_CLOEXEC)
        except OSError as error:
            raise SyscallError("open", error.errno, "the start gate (exec.fifo)") from None

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        import resource

        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (AttributeError, ValueError):
            raise SyscallError("setrlimit", 22, name) from None
        except OSError as error:
            raise SyscallError("setrlimit", error.errno, name) from None

    def sethostname_domain(self, name: str) -> None:
        raw = name.encode()
        self._check(self._lib().setdomainname(raw, len(raw)), "setdomainname", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        try:
            os.mknod(path, mode, device)
        except OSError as error:
            raise SyscallError("mknod", error.errno, path) from None

    def runs_x32(self) -> bool:
        """x86-64 only: ``syscall(__X32_SYSCALL_BIT | __NR_getpid)``; anything but ENOSYS means the kernel
        has the x32 ABI (EPERM: a filter refused it first, and the answer is unknown: yes, to be safe)."""
        libc = self._types()
        return self._lib().syscall(libc.c_long(0x40000000 | 39)) != -1 or libc.get_errno() != 38

    def default_disposition(self, number: int) -> None:
        """``rt_sigaction(number, SIG_DFL)`` as a raw syscall: glibc's ``sigaction`` refuses its own two
        internal signals (32, 33), which ``posix_spawn(3)`` leaves ignored in the program it starts (and
        an ignored signal stays ignored across ``execve``: every container would inherit it). A zeroed
        ``struct sigaction`` is SIG_DFL, no flags, an empty mask, in every architecture's layout."""
        libc = self._types()
        action = (libc.c_ulong * 4)()
        number_of_call = _RT_SIGACTION.get(os.uname().machine, 134)
        self._check(self._lib().syscall(libc.c_long(number_of_call), libc.c_long(number), libc.byref(action),
                                        None, libc.c_size_t(8)), "rt_sigaction")

    def open_root(self, root: str) -> int:
        """An O_PATH descriptor of the directory ``root``, for :meth:`lookup` to resolve paths inside."""
        try:
            return os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise SyscallError("open", error.errno, root) from None

    def lookup(self, root_fd: int, path: str) -> int | None:
        """:meth:`open_in_root` with a descriptor of the root the caller holds (one for a whole list of
        paths), or None for a path that does not exist (ENOENT: nothing to mount on). The masked-path
        lists name many paths a kernel may lack (/proc/timer_stats, /proc/sched_debug ...)."""
        fd, error = self._resolve(root_fd, path) if Kernel._openat2_usable else (-1, 0)
        if fd >= 0:
            return fd
        if error == 2:
            return None
        try:  # no openat2 here, or still racing: the careful one-path way
            return self.open_in_root(f"/proc/self/fd/{root_fd}", path)
        except SyscallError as failure:
            if failure.errno != 2:
                raise
            return None

    def is_directory_fd(self, fd: int) -> bool:
        """fstat(2) of a descriptor (an O_PATH one too): a directory?"""
        return (os.fstat(fd).st_mode & 0o170000) == 0o040000  # S_IFMT, S_IFDIR

    def drop_bounding_set(self, numbers) -> None:
        """``prctl(PR_CAPBSET_DROP, n)`` for each capability number, in one tight loop (27 calls for
        docker's set); EINVAL means a capability newer than this kernel (past CAP_LAST_CAP), and so are
        the higher numbers: the loop stops there."""
        libc, prctl = self._types(), self._typed()["prctl"]
        for number in sorted(numbers):
            if prctl(24, number, 0, 0, 0) == -1:
                error = libc.get_errno()
                if error == 22:
                    return
                raise SyscallError("prctl(PR_CAPBSET_DROP)", error, f"capability {number}")

    def prctl4(self, option: int, arg2: int, arg3: int) -> None:
        self._check(self._typed()["prctl"](option, arg2, arg3, 0, 0), "prctl")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """capset(2), _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set."""
        libc = self._types()

        header = (libc.c_uint32 * 2)(0x20080522, 0)
        data = (libc.c_uint32 * 6)(effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
                                     effective >> 32, permitted >> 32, inheritable >> 32)
        self._check(self._lib().capset(libc.byref(header), libc.byref(data)), "capset")

    def locked_mount_flags(self, path: str) -> int:
        """The MS_* flags of the mount at ``path`` that a bind remount must keep (statvfs(3) f_flag)."""
        flags = os.statvfs(path).f_flag
        kept = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048)  # ST_* = MS_* for these
        if flags & 4096:  # ST_RELATIME
            kept |= 1 << 21  # MS_RELATIME
        return kept

    _filters: dict = {}  # program -> (its C copy, the struct sock_fprog naming it), made before the fork

    def prepare_seccomp(self, program: bytes):
        """The C ``struct sock_fprog {unsigned short len; struct sock_filter *filter;}`` for ``program``
        (the length padded to a pointer's alignment: two machine words), made in the runtime before the
        fork and kept: in the child, building it meant two new ctypes array classes and ~0.15 ms of copied
        pages right before the filter went in."""
        known = Kernel._filters.get(program)
        if known is None:
            libc = self._types()
            buffer = libc.string_buffer(program)
            known = (buffer, (libc.c_size_t * 2)(len(program) // 8, libc.addressof(buffer)))
            if len(Kernel._filters) > 64:
                Kernel._filters.clear()
            Kernel._filters[program] = known
        return known

    def install_seccomp(self, program: bytes) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &(struct sock_fprog){len, filter})."""
        _, fprog = self.prepare_seccomp(program)
        self._check(self._typed()["prctl"](22, 2, self._types().addressof(fprog), 0, 0), "prctl(PR_SET_SECCOMP)")

    def close_all_but(self, keep) -> None:
        """Close every descriptor of this process except ``keep``: ``close_range(2)`` over each gap
        between the kept ones (Linux 5.9), else each one listed in /proc/self/fd."""
        libc = self._types()

        close_range, first = self._lib().close_range, 0
        for kept in [*sorted(fd for fd in keep if fd >= 0), 0xFFFFFFFF]:  # ~0U: up to the last one
            if kept > first and close_range(libc.c_uint(first), libc.c_uint(kept - 1), 0) == -1:
                break  # ENOSYS (an older kernel) or EPERM (a seccomp filter): the listing below
            first = kept + 1
        else:
            return
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass  # the listing's own descriptor, already gone

    def close_range(self, first: int, last: int, flags: int = 0) -> None:
        libc = self._types()

        self._check(self._lib().close_range(libc.c_uint(first), libc.c_uint(last), libc.c_int(flags)),
                    "close_range")

    def setgroups(self, gids: tuple) -> None:
        try:
            os.setgroups(list(gids))
        except OSError as error:
            raise SyscallError("setgroups", error.errno, str(list(gids))) from None

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        try:
            os.setresgid(rgid, egid, sgid)
        except OSError as error:
            raise SyscallError("setresgid", error.errno, str(egid)) from None

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        try:
            os.setresuid(ruid, euid, suid)
        except OSError as error:
            raise SyscallError("setresuid", error.errno, str(euid)) from None

    def execve(self, path: bytes, argv: list, env: dict) -> None:
        os.execve(path, argv, env)  # returns only by raising OSError

    def pipe_has_writer(self, fd: int) -> bool:
        """For a non-blocking pipe's read end that nobody writes to: False once every writer is gone (EOF)."""
        try:
            return os.read(fd, 1) != b""
        except BlockingIOError:
            return True

    # The parent's side: the runtime's own processes.
    def waitpid(self, pid: int, options: int = 0) -> tuple[int, int]:
        return os.waitpid(pid, options)

    def kill(self, pid: int, number: int) -> bool:
        """False when the process is gone already."""
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            return False
        return True

    def setns(self, fd: int, nstype: int = 0, path: str | None = None) -> None:
        self._check(self._lib().setns(fd, nstype), "setns", path)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        result = self._typed()["mount"](self._c(source), self._c(target), self._c(fstype), flags, self._c(data))
        self._check(result, "mount", target)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._check(self._lib().umount2(self._c(target), flags), "umount2", target)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._lib().sethostname(raw, len(raw)), "sethostname", name)

    def prctl(self, option: int, arg: int | bytes = 0) -> None:
        if isinstance(arg, bytes):  # a pointer (PR_SET_NAME's name): the untyped binding takes bytes as char *
            self._check(self._lib().prctl(option, arg, 0, 0, 0), "prctl")
            return
        self._check(self._typed()["prctl"](option, arg, 0, 0, 0), "prctl")


def walk_in_root(root_fd: int, path: str, make: str | None = None, mode: int = 0o755) -> int:
    """Resolve ``path`` under the directory ``root_fd`` one component at a time with ``O_NOFOLLOW``,
    reading each symlink and splicing its target in (an absolute one restarts at the root), ``..`` at
    the root staying there: RESOLVE_IN_ROOT done by hand. Missing components are created when ``make``
    says so ("dir"; "file" for the last one). Returns an ``O_PATH`` descriptor; raises OSError."""
    import errno
    import stat

    parts = [part for part in path.split("/") if part and part != "."]
    stack = [os.dup(root_fd)]  # the directories from the root down to the current one
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            here = stack[-1]
            try:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=here)
            except FileNotFoundError:
                if make is None:
                    raise
                if not parts and make == "file":
                    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                                     dir_fd=here))
                else:
                    try:
                        os.mkdir(name, mode, dir_fd=here)
                    except FileExistsError:
                        pass  # made meanwhile: opened (and checked) below
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=here)
            kind = os.fstat(fd).st_mode
            if stat.S_ISLNK(kind):
                os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                target = os.readlink(name, dir_fd=here)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = [part for part in target.split("/") if part and part != "."] + parts
                continue
            if parts and not stat.S_ISDIR(kind):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            stack.append(fd)
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


KERNEL = Kernel()
