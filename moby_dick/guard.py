"""The guard: what a run must undo on the host is undone even if moby-dick is killed with SIGKILL.

A process killed with SIGKILL runs no cleanup. So when a run leaves something on the host that the
kernel will not remove by itself (a mount-point directory it created, a cgroup directory), it first
forks a small guard, in its own session so that the terminal's ^C does not reach it. The guard waits
on the one channel (:mod:`moby_dick.channel`), whose other end only moby-dick holds. At a normal end
moby-dick cleans up itself and sends "dismiss"; if moby-dick dies instead, the channel reaches EOF
and the guard runs the same clean-up actions.

  moby-dick                      guard (setsid, comm "moby-dick:guard")
    |-- socketpair, fork ---------->|  receive() ... blocks
    |   ... container runs ...      |
    |-- "dismiss" (normal end) ---->|  exit: moby-dick cleaned up itself
    or: moby-dick killed, EOF ----->|  run every action, exit

Syscalls: ``fork(2)``, ``setsid(2)``, ``socketpair(2)``, ``recvmsg(2)``. Read signal(7) on why SIGKILL cannot
be caught.
"""

from __future__ import annotations

import os

import _signal as signal  # the C module: the ``signal`` wrapper's enums cost ~9 ms per start


class Guard:
    """Runs ``actions`` (callables, in order) if moby-dick dies before :meth:`dismiss`."""

    def __init__(self, actions: list):
        from .channel import Channel

        self._channel, theirs = Channel.pair()
        keep = {theirs.fileno()}
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
                if theirs.receive()[0] != "dismiss":
                    for action in actions:
                        try:
                            action()
                        except Exception:
                            code = 1
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        theirs.close()

    def dismiss(self) -> None:
        if self._channel is not None:
            self._channel.send("dismiss")
            self._channel.close()
            self._channel = None
            os.waitpid(self.pid, 0)


def _close_all_but(keep: set[int]) -> None:
    from .syscalls import KERNEL

    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    KERNEL.close_all_but(keep | {0, 1, 2})


def _set_process_name(name: bytes) -> None:
    from .syscalls import KERNEL, PR_SET_NAME

    try:
        KERNEL.prctl(PR_SET_NAME, name)
    except OSError:
        pass
