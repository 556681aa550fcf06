"""The final phase: the last steps before the container's own program runs, in the order runc uses.

Syscalls: ``close_range(2)`` with ``CLOSE_RANGE_CLOEXEC``, ``chdir(2)``, ``setgroups(2)``,
``setresgid(2)``, ``setresuid(2)``, ``execve(2)``. Read credentials(7), execve(2) ("file descriptors
open across exec"), and runc's ``finalizeNamespace`` (libcontainer/init_linux.go).

The order, and why:
  1. every descriptor above stdio becomes close-on-exec: whatever the caller leaked into the runtime
     (a directory fd of the host, CVE-2024-21626's shape) must not reach the container. Marked, not
     closed: the channel must stay open until the very ``execve`` that closes it, so that a failed exec
     can still be reported, and its EOF is the parent's "the command runs";
  2. ``chdir`` into the working directory;
  3. identity: supplementary groups first, then the gid, then the uid (after setresuid the process
     could no longer change its groups);
  4. ``execve``, searching ``$PATH`` as ``execvp(3)`` does.
The capability sets, no_new_privs and the seccomp filter go between 3 and 4 (seccomp last: it may
forbid the very calls the steps before it make).
"""

from __future__ import annotations

import os

from .errors import ExecError
from .records import Record

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLOSE_RANGE_CLOEXEC = 1 << 2  # <linux/close_range.h>


class MarkDescriptorsCloseOnExec(Record):
    """Step: ``close_range(first, ~0U, CLOSE_RANGE_CLOEXEC)``: nothing the runtime held crosses exec."""

    __slots__ = ("first",)

    def apply(self, kernel) -> None:
        kernel.close_range(self.first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)

    def __str__(self) -> str:
        return f"close_range({self.first}, ~0U, CLOSE_RANGE_CLOEXEC)"


class ChangeDirectory(Record):
    """Step: ``chdir(cwd)``, the command's working directory."""

    __slots__ = ("path",)

    def apply(self, kernel) -> None:
        kernel.chdir(self.path)

    def __str__(self) -> str:
        return f'chdir("{self.path}")'


class SetIdentity(Record):
    """Step: become ``user``: groups, then gid, then uid (each real, effective and saved). ``set_groups``
    False: a user namespace whose setgroups is "deny" refuses setgroups(2); the list stays empty anyway."""

    __slots__ = ("user", "set_groups")
    DEFAULTS = {"set_groups": True}

    def apply(self, kernel) -> None:
        user = self.user
        if self.set_groups:
            kernel.setgroups(tuple(user.additional_gids))
        kernel.setresgid(user.gid, user.gid, user.gid)
        kernel.setresuid(user.uid, user.uid, user.uid)

    def __str__(self) -> str:
        user = self.user
        groups = f"setgroups({list(user.additional_gids)}); " if self.set_groups else ""
        return f"{groups}setresgid({user.gid}, {user.gid}, {user.gid}); setresuid({user.uid}, {user.uid}, {user.uid})"


class AwaitStart(Record):
    """Step (``moby-dick-oci create``): block in front of ``execve`` until ``start``. Opening the gate
    fifo for writing blocks until ``start`` opens it for reading (runc's exec.fifo); ``fd`` is an
    ``O_PATH`` descriptor of the fifo, reopened through /proc/self/fd because after ``pivot_root`` its
    path is out of reach."""

    __slots__ = ("fd",)

    def apply(self, kernel) -> None:
        gate = kernel.open_gate(self.fd)
        try:
            os.write(gate, b"0")
        finally:
            kernel.close(gate)
        kernel.close(self.fd)

    def __str__(self) -> str:
        return f'open("/proc/self/fd/{self.fd}", O_WRONLY) (blocks until `start` reads the gate); write "0"'


class SetRlimits(Record):
    """Step: ``setrlimit(2)`` for each (type, soft, hard)."""

    __slots__ = ("rlimits",)
    needs = ("resource",)  # imported by the runtime before the fork: nothing is imported after pivot_root

    def apply(self, kernel) -> None:
        for rlimit in self.rlimits:
            kernel.setrlimit(rlimit.type, rlimit.soft, rlimit.hard)

    def __str__(self) -> str:
        return "; ".join(f"setrlimit({r.type}, {r.soft}, {r.hard})" for r in self.rlimits)


class SetOomScoreAdj(Record):
    """Step: how willing the OOM killer is to pick this process (proc(5), /proc/self/oom_score_adj)."""

    __slots__ = ("value",)

    def apply(self, kernel) -> None:
        kernel.write_file("/proc/self/oom_score_adj", str(self.value))

    def __str__(self) -> str:
        return f'write "{self.value}" to /proc/self/oom_score_adj'


class NoNewPrivileges(Record):
    """Step: ``prctl(PR_SET_NO_NEW_PRIVS, 1)``: execve can never grant more (setuid bits, file caps)."""

    __slots__ = ()

    def apply(self, kernel) -> None:
        kernel.prctl4(38, 1, 0)

    def __str__(self) -> str:
        return "prctl(PR_SET_NO_NEW_PRIVS, 1)"


class SetUmask(Record):
    __slots__ = ("mask",)

    def apply(self, kernel) -> None:
        os.umask(self.mask)

    def __str__(self) -> str:
        return f"umask({self.mask:#o})"


class CheckExecutable(Record):
    """Step (before "ready"): find the command as execve would, inside the container, so that a missing
    or unexecutable program fails ``create`` with runc's words, as the engines expect."""

    __slots__ = ("args", "env", "cwd")

    def apply(self, kernel) -> None:
        env = dict(self.env) if self.env is not None else os.environ
        command = self.args[0]
        if "/" in command:
            candidates = [command if command.startswith("/") else os.path.join(self.cwd or "/", command)]
        else:
            candidates = [os.path.join(d or ".", command) for d in env.get("PATH", DEFAULT_PATH).split(":")]
        first = 2  # ENOENT
        for candidate in candidates:
            if os.path.isfile(candidate):
                if os.access(candidate, os.X_OK):
                    return
                first = 13  # EACCES
        raise ExecError(command, first)

    def __str__(self) -> str:
        return f"look up {self.args[0]!r} on $PATH inside the container (execvp's search)"


class Exec(Record):
    """Step: ``execve`` the command (``$PATH`` searched as execvp(3) does); env None: the runtime's own."""

    __slots__ = ("args", "env")

    def apply(self, kernel) -> None:
        raise exec_command(kernel, list(self.args), None if self.env is None else dict(self.env))

    def __str__(self) -> str:
        env = "" if self.env is None else f", env of {len(self.env)} variables"
        return f"execvp({', '.join(map(repr, self.args))}{env})"


class CallFunction(Record):
    """Step (demos and tests): call a Python function instead of exec'ing, send back its value."""

    __slots__ = ("function",)
    talks = True

    def exchange(self, kernel, channel) -> None:
        import gc
        import pickle

        gc.enable()  # the caller's code, as long as it likes (child_main turned the collector off)
        channel.send("value", pickle.dumps(self.function()))

    def __str__(self) -> str:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return f'call {name}() and send "value <its result>"'


def exec_command(kernel, argv: list, env: dict | None = None) -> ExecError:
    """``execvp(3)``: search ``$PATH`` for ``argv[0]`` (unless it has a ``/``) and ``execve`` it.

    Written out rather than ``os.execvp``, whose ``$PATH`` lookup imports ``warnings`` in every child
    (~3 ms). Like glibc, a permission error found on the way wins over "not found". Returns the error
    only when nothing could be executed.
    """
    env = os.environ if env is None else env
    command = os.fsencode(argv[0])
    if b"/" in command:
        candidates = [command]
    else:
        path = env.get("PATH", DEFAULT_PATH)
        candidates = [os.path.join(os.fsencode(d) or b".", command) for d in path.split(":")]
    first_errno = None
    for candidate in candidates:
        try:
            kernel.execve(candidate, argv, env)
        except OSError as exc:
            if first_errno is None or exc.errno == 13:  # EACCES
                first_errno = exc.errno
    return ExecError(os.fsdecode(command), first_errno)
