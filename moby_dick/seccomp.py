"""seccomp: a filter in front of every syscall of the container, compiled by libseccomp.

Syscalls: ``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog)`` installs a classic-BPF program
that the kernel runs on every syscall entry; a refused call fails with EPERM (or ENOSYS for clone3,
so that glibc falls back to clone, whose flags the filter can read). Read seccomp(2),
Documentation/userspace-api/seccomp_filter.rst, and seccomp_rule_add(3) and seccomp_export_bpf(3).

Profiles are docker's JSON format (``defaultAction``, ``archMap``, ``syscalls[]`` with ``names``,
``action``, ``errnoRet``, ``args``, ``includes``/``excludes`` by capability and architecture) or the
OCI ``linux.seccomp`` object; both compile with **libseccomp** (Debian's libseccomp2, as runc, crun and
podman use it), through a minimal ctypes binding of the eight calls needed: pyseccomp would add a
dependency for the same eight calls, and libseccomp already knows every architecture's syscall
numbers and the multiplexed ones (socketcall, ipc on i386). Compiled once per (profile, capabilities,
architecture) into ``/var/cache/moby-dick/seccomp/<digest>.bpf`` (the entry holds its whole key, then the
program): a start only reads the cached program and installs it. The default profile
(:func:`default_profile`) follows docker's: an allow-list, the calls that reach past namespaces gated
by the capability that legitimises them, and the i386 and x32 entry points covered by the same rules
(an architecture not in the filter is killed). Where the kernel
has no x32 ABI (:func:`kernel_has_x32`: CONFIG_X86_X32_ABI unset, as here) its tree is left out: those
calls could never run, the architecture check kills their caller instead, and the kernel attaches 835
instructions instead of 1,196 (~0.1 ms of every start).
"""

from __future__ import annotations

import os

from .errors import MobyError, UsageError

CLONE_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
ENOSYS, EPERM = 38, 1

# Allowed whatever the capabilities (docker's default allow-list, less what docker gates or denies).
ALLOWED = (
    "_llseek", "_newselect", "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
    "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
    "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_time64", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
    "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
    "io_getevents", "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "modify_ldt", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe",
    "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readdir", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list",
    "set_thread_area", "set_tid_address", "setdomainname", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32",
    "setgid", "setgid32", "setgroups", "setgroups32", "sethostname", "setitimer", "setpgid", "setpriority",
    "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
    "setrlimit", "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4", "sigpending", "sigprocmask",
    "sigreturn", "sigsuspend", "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "syscall", "sysinfo",
    "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "wait4", "waitid", "waitpid", "write", "writev",
)
# Allowed only with the capability that the kernel would check anyway: without it, EPERM at the door.
GATED = {
    "CAP_SYS_ADMIN": ("mount", "umount", "umount2", "pivot_root", "unshare", "setns", "clone3", "bpf",
                      "perf_event_open", "fanotify_init", "lookup_dcookie", "name_to_handle_at", "quotactl",
                      "quotactl_fd", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
                      "mount_setattr"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_TIME": ("settimeofday", "clock_settime", "clock_settime64", "stime", "adjtimex", "clock_adjtime",
                     "clock_adjtime64"),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module", "query_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("ioperm", "iopl"),
    "CAP_SYS_PTRACE": ("kcmp", "process_madvise", "pidfd_getfd"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("mbind", "set_mempolicy", "move_pages", "get_mempolicy"),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYSLOG": ("syslog",),
}
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE..., query
SUBARCHES = {"SCMP_ARCH_X86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"), "SCMP_ARCH_AARCH64": ("SCMP_ARCH_ARM",)}


_DEFAULTS: dict = {}  # frozenset of capabilities -> (the default profile for them, its text)


def default_profile(capabilities=()) -> dict:
    """docker's default semantics, for a container holding ``capabilities``, in docker's JSON format.
    Made once per capability set in a process and shared: copy it before changing it."""
    key = frozenset(capabilities)
    known = _DEFAULTS.get(key)
    if known is None:
        profile = _default_profile(key)
        known = _DEFAULTS[key] = (profile, repr(profile))
    return known[0]


def _profile_text(profile: dict) -> str:
    """The profile written out, the cache's key: ~0.1 ms for docker's, so a default one's is kept."""
    for known, text in _DEFAULTS.values():
        if known is profile:
            return text
    return repr(profile)


def _default_profile(caps: frozenset) -> dict:
    rules = [{"names": list(ALLOWED), "action": "SCMP_ACT_ALLOW"}]
    rules += [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]} for value in PERSONALITIES]
    for cap, names in GATED.items():
        if cap in caps:
            rules.append({"names": list(names), "action": "SCMP_ACT_ALLOW"})
    if "CAP_SYS_ADMIN" in caps:
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW"})
    else:  # clone without any namespace flag; clone3's flags sit in memory the filter cannot read: ENOSYS
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "archMap": [{"architecture": a, "subArchitectures": list(s)} for a, s in SUBARCHES.items()],
            "syscalls": rules}


# ---- libseccomp, through ctypes ---------------------------------------------------------------

ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
           "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000}
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_ARCH_ALIASES = {"amd64": "SCMP_ARCH_X86_64", "x86_64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86",
                 "x32": "SCMP_ARCH_X32", "arm64": "SCMP_ARCH_AARCH64", "aarch64": "SCMP_ARCH_AARCH64",
                 "arm": "SCMP_ARCH_ARM"}


def action_of(name: str, errno_ret) -> int:
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        base = 0x00050000 if name == "SCMP_ACT_ERRNO" else 0x7FF00000
        return base | ((EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF)
    if name not in ACTIONS:
        raise UsageError(f'seccomp profile: unknown action "{name}"')
    return ACTIONS[name]


def _library():
    import ctypes

    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise MobyError("seccomp needs libseccomp (Debian: apt-get install libseccomp2); or run with "
                        "--security-opt seccomp=unconfined") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    for name in ("seccomp_arch_add", "seccomp_export_bpf", "seccomp_export_pfc"):
        getattr(lib, name).argtypes = (ctypes.c_void_p, ctypes.c_uint32 if name == "seccomp_arch_add" else ctypes.c_int)
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.c_void_p)
    lib.seccomp_release.argtypes = (ctypes.c_void_p,)
    lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    return lib


def _native_arch() -> str:
    return _ARCH_ALIASES.get(os.uname().machine, "SCMP_ARCH_" + os.uname().machine.upper())


_X32 = None  # does this kernel run x32 programs? (asked once per process)


def kernel_has_x32() -> bool:
    """x86-64's x32 ABI (64-bit registers, 32-bit pointers) exists only in a kernel built with
    CONFIG_X86_X32_ABI; elsewhere a syscall number with ``__X32_SYSCALL_BIT`` set gets ENOSYS. One
    ``syscall(__X32_SYSCALL_BIT | __NR_getpid)`` asks: a pid back means x32 runs here. A filter already
    refusing it (EPERM: moby-dick inside a container) answers nothing, and x32 then counts as present."""
    global _X32
    if _X32 is None:
        from .syscalls import KERNEL

        _X32 = _native_arch() == "SCMP_ARCH_X86_64" and KERNEL.runs_x32()
    return _X32


def compile_profile(profile: dict, capabilities=(), readable: bool = False) -> bytes:
    """A docker or OCI profile -> the BPF program (or, ``readable``, libseccomp's PFC text). Raises
    UsageError naming the first bad item (unknown action, syscall or operator)."""
    import ctypes

    lib = _library()
    default = action_of(profile.get("defaultAction", "SCMP_ACT_ERRNO"),
                        profile.get("defaultErrnoRet", profile.get("defaultErrno") and EPERM))
    context = lib.seccomp_init(default)
    if not context:
        raise MobyError("seccomp_init failed")
    try:
        lib.seccomp_attr_set(context, 3, 0)  # SCMP_FLTATR_CTL_NNP off: no_new_privs is a step of our own
        # SCMP_FLTATR_CTL_OPTIMIZE = 2: a binary tree of syscall numbers, not one long chain of
        # comparisons; the kernel then attaches it ~3x faster (the filter cache it builds at attach time
        # runs the program for every syscall number) and each syscall walks log(n) of it. libseccomp
        # before 2.5 refuses the attribute (-EINVAL): the chain it makes instead means the same.
        lib.seccomp_attr_set(context, 8, 2)
        native = _native_arch()
        arches = {native}
        for entry in profile.get("archMap") or ():
            if entry.get("architecture") == native:
                arches.update(entry.get("subArchitectures") or ())
        arches.update(profile.get("architectures") or ())  # the OCI form
        if not kernel_has_x32():  # its calls cannot run here: a third of the program less to attach
            arches.discard("SCMP_ARCH_X32")
        for arch in sorted(arches - {native}):
            token = lib.seccomp_arch_resolve_name(arch.replace("SCMP_ARCH_", "").lower().encode())
            if token and lib.seccomp_arch_add(context, token) not in (0, -17):  # -EEXIST: already there
                raise MobyError(f"seccomp_arch_add({arch}) failed")
        caps = set(capabilities)
        short_arch = {v: k for k, v in _ARCH_ALIASES.items() if k in ("amd64", "x86", "x32", "arm64", "arm")}
        for rule in profile.get("syscalls") or ():
            includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
            if includes.get("caps") and not set(includes["caps"]) & caps:
                continue
            if excludes.get("caps") and set(excludes["caps"]) & caps:
                continue
            if includes.get("arches") and short_arch.get(native) not in includes["arches"]:
                continue
            action = action_of(rule.get("action", ""), rule.get("errnoRet"))
            if action == default:
                continue  # libseccomp refuses a rule that repeats the default action
            comparisons, count = _comparisons(rule.get("args") or ())
            for name in rule.get("names") or ([rule["name"]] if "name" in rule else []):
                number = lib.seccomp_syscall_resolve_name(name.encode())
                if number == -1:  # __NR_SCMP_ERROR: no such call anywhere: skip, as runc does
                    continue
                result = lib.seccomp_rule_add_array(context, action, number, count,
                                                    ctypes.byref(comparisons) if count else None)
                if result not in (0, -17):
                    raise UsageError(f'seccomp profile: rule for "{name}" refused by libseccomp ({os.strerror(-result)})')
        return _export(lib, context, readable)
    finally:
        lib.seccomp_release(context)


def _comparisons(args):
    """``args`` -> (an array of struct scmp_arg_cmp {unsigned int arg; enum scmp_compare op; uint64
    datum_a, datum_b;}, its length). Each struct is three 64-bit words; arg and op share the first
    (little-endian order, as on x86-64 and arm64)."""
    import ctypes

    words = (ctypes.c_uint64 * (3 * len(args) or 1))()
    for i, arg in enumerate(args):
        op = arg.get("op")
        if op not in OPERATORS:
            raise UsageError(f'seccomp profile: unknown operator "{op}"')
        words[3 * i] = int(arg["index"]) | (OPERATORS[op] << 32)
        words[3 * i + 1] = int(arg.get("value", 0))
        words[3 * i + 2] = int(arg.get("valueTwo", 0))
    return words, len(args)


def _export(lib, context, readable: bool) -> bytes:
    import tempfile

    with tempfile.TemporaryFile() as file:
        exporter = lib.seccomp_export_pfc if readable else lib.seccomp_export_bpf
        if exporter(context, file.fileno()) != 0:
            raise MobyError("seccomp_export failed")
        file.seek(0)
        return file.read()


def _entry_name(key: bytes) -> str:
    """A cache file's name for ``key``: its bytes as one integer modulo the Mersenne prime 2**61 - 1, in C
    (sha256 would load the ``_sha256`` module first: ~0.3 ms of a start). Two keys may share a name, so an
    entry holds its whole key, and is used only when that is this key."""
    return f"{int.from_bytes(key, 'little') % ((1 << 61) - 1):016x}.bpf"


_COMPILER = "libseccomp, binary tree"  # in the cache key: a program compiled another way is not reused
_COMPILED: dict = {}  # (cache directory, the key's text) -> program, for this process's next starts


def cached_program(profile: dict, capabilities=(), cache_dir: str | None = None) -> bytes:
    """The compiled program, from the cache when this profile was compiled before."""
    if cache_dir is None:
        from .places import cache_dir as place

        cache_dir = place("seccomp")
    text = _profile_text(profile) + repr([sorted(capabilities), _native_arch(), kernel_has_x32(), _COMPILER])
    known = _COMPILED.get((cache_dir, text))
    if known is not None:  # this process compiled or read it before: a fork server, a test worker
        return known
    key = text.encode()  # (a repr: no NUL in it)
    path = os.path.join(cache_dir, _entry_name(key))
    try:
        with open(path, "rb") as file:
            stored, _, program = file.read().partition(b"\0")
        if stored == key and program and len(program) % 8 == 0:  # this key's (a sock_filter is 8 bytes)
            _COMPILED[(cache_dir, text)] = program
            return program
    except OSError:  # not cached yet (or not ours to read)
        pass
    program = _COMPILED[(cache_dir, text)] = compile_profile(profile, capabilities)
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            file.write(key + b"\0" + program)
        os.rename(temporary, path)
    except OSError:
        pass  # a read-only cache: compile each time
    return program


class InstallSeccomp:
    """Step (the last before execve): install the filter compiled from ``profile`` for a process holding
    ``capabilities``. :func:`moby_dick.runner.prepare_steps` calls :meth:`prepare` before the fork
    (compile, or read the cache): in the container there is nothing to import or compile."""

    needs = ("moby_dick.syscalls.libc",)  # the door install_seccomp goes through, loaded before the fork

    def __init__(self, profile: dict, capabilities=()):
        self.profile, self.capabilities, self.program = profile, tuple(capabilities), None
        rules = profile.get("syscalls") or []  # what --dry-run says of the profile, kept without it
        self.summary = (len(rules), sum(len(rule.get("names") or [1]) for rule in rules), profile.get("defaultAction"))

    def prepare(self, kernel=None) -> None:
        """The program (compiled, or read from the cache); with the door of the process that forks, its C
        struct too (made there, not in the child right before the filter goes in)."""
        if self.program is None:
            self.program = cached_program(self.profile, self.capabilities)
        if kernel is not None:
            kernel.prepare_seccomp(self.program)

    def apply(self, kernel) -> None:
        kernel.install_seccomp(self.program)

    def without_profile(self) -> InstallSeccomp:
        """This step, prepared, without the profile it was compiled from: the program is all a container
        needs, and docker's profile is ~360 strings to pickle and unpickle at every start sent to the
        fork server (~0.2 ms)."""
        self.prepare()
        step = InstallSeccomp.__new__(InstallSeccomp)
        step.__dict__.update(self.__dict__, profile=None)
        return step

    def __eq__(self, other) -> bool:
        return type(other) is InstallSeccomp and (other.profile, other.capabilities) == (self.profile, self.capabilities)

    def __repr__(self) -> str:
        return f"InstallSeccomp({self.summary[0]} rules, {len(self.capabilities)} capabilities)"

    def __str__(self) -> str:
        _, rules, default = self.summary
        return (f"prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, <BPF compiled by libseccomp from {rules} syscall rules, "
                f"default {default}>)")
