"""The guard: what a run must undo on the host is undone even if moby-dick is killed with SIGKILL.

A process killed with SIGKILL runs no cleanup. So when a run leaves something on the host that the
kernel will not remove by itself (a mount-point directory it created, a cgroup directory), it first
forks a small guard, in its own session so that the terminal's ^C does not reach it. The guard waits
on a pipe whose only writer is moby-dick. At a normal end moby-dick cleans up itself and sends "d";
if moby-dick dies instead, the pipe reaches EOF and the guard runs the same clean-up actions.

  moby-dick                      guard (setsid, comm "moby-dick:guard")
    |-- fork --------------------->|  read(pipe) ... blocks
    |   ... container runs ...      |
    |-- "d" + close (normal end) -->|  exit: moby-dick cleaned up itself
    or: moby-dick killed, EOF ----->|  run every action, exit

Syscalls: ``fork(2)``, ``setsid(2)``, ``pipe2(2)``, ``read(2)``. Read signal(7) on why SIGKILL cannot
be caught.
"""

from __future__ import annotations

import os

import _signal as signal  # the C module: the ``signal`` wrapper's enums cost ~9 ms per start


class Guard:
    """Runs ``actions`` (callables, in order) if moby-dick dies before :meth:`dismiss`."""

    def __init__(self, actions: list):
        read_end, self._write_end = os.pipe2(os.O_CLOEXEC)
        keep = {read_end}
        self.pid = os.fork()
        if self.pid == 0:  # the guard
            code = 0
            try:
                os.setsid()  # out of the terminal's process group: ^C must not kill it
                for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                    signal.signal(number, signal.SIG_IGN)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                _close_all_but(keep)
                _set_process_name(b"moby-dick:guard")
                if os.read(read_end, 1) != b"d":
                    for action in actions:
                        try:
                            action()
                        except Exception:
                            code = 1
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(read_end)

    def dismiss(self) -> None:
        if self._write_end >= 0:
            os.write(self._write_end, b"d")
            os.close(self._write_end)
            self._write_end = -1
            os.waitpid(self.pid, 0)


def _close_all_but(keep: set[int]) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep = keep | {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _set_process_name(name: bytes) -> None:
    from .syscalls import KERNEL, PR_SET_NAME

    try:
        KERNEL.prctl(PR_SET_NAME, name)
    except OSError:
        pass
