"""The project's small exception hierarchy.

Every error knows the exit status the CLI should return for it (docker's convention: 125 when the
runtime itself failed, 126 when the command could not be executed, 127 when it was not found), and
turns into exactly one readable line at the CLI edge (``moby_dick.cli``). Nothing else prints errors.
"""

from __future__ import annotations

import errno as _errno
import os


class MobyError(Exception):
    """Base class: something moby-dick could not do. ``str(err)`` is the one line the user sees."""

    exit_code = 125


class UsageError(MobyError):
    """The command line or the spec asked for something invalid (checked before any syscall)."""


class SyscallError(MobyError, OSError):
    """A syscall failed. Carries the syscall's name, the errno and the object it acted on.

    Modelled on Go's ``os.SyscallError`` as runc uses it: the message names the verb and the
    object, keeps the errno, and may add a hint about the usual cause.
    """

    def __init__(self, syscall: str, errno: int, path: str | None = None, hint: str | None = None):
        OSError.__init__(self, errno, os.strerror(errno))
        self.syscall = syscall
        self.path = path
        self.hint = hint

    def __str__(self) -> str:
        what = f'{self.syscall} "{self.path}"' if self.path is not None else self.syscall
        line = f"{what}: {self.strerror}"
        if self.hint:
            line += f" ({self.hint})"
        return line

    def __reduce__(self):  # survives pickling across the fork pipe
        return (type(self), (self.syscall, self.errno, self.path, self.hint))


class ExecError(MobyError):
    """The container was set up, but its command could not be executed (``execve`` failed)."""

    def __init__(self, command: str, errno: int):
        super().__init__(command, errno)
        self.command = command
        self.errno = errno
        # docker run: 127 when the command is not found, 126 when it cannot be invoked.
        self.exit_code = 127 if errno in (_errno.ENOENT, _errno.ENOTDIR) else 126

    def __str__(self) -> str:
        reason = "command not found" if self.exit_code == 127 else os.strerror(self.errno)
        return f'exec "{self.command}": {reason}'

    def __reduce__(self):
        return (type(self), (self.command, self.errno))


class ChildFailed(MobyError):
    """A forked helper died without sending back its result (a bug, or it was killed)."""
