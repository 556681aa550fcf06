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
    """Step: become ``user``: groups, then gid, then uid (each real, effective and saved)."""

    __slots__ = ("user",)

    def apply(self, kernel) -> None:
        user = self.user
        kernel.setgroups(tuple(user.additional_gids))
        kernel.setresgid(user.gid, user.gid, user.gid)
        kernel.setresuid(user.uid, user.uid, user.uid)

    def __str__(self) -> str:
        user = self.user
        return (f"setgroups({list(user.additional_gids)}); setresgid({user.gid}, {user.gid}, {user.gid}); "
                f"setresuid({user.uid}, {user.uid}, {user.uid})")


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
        import pickle

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
