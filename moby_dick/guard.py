"""The guard: what a run must undo on the host is undone even if moby-dick is killed with SIGKILL.

A process killed with SIGKILL runs no cleanup. So when a run leaves something on the host that the
kernel will not remove by itself (a mount-point directory it created, a cgroup directory), it first
forks a small guard, in its own session so that the terminal's ^C does not reach it. The guard waits
on the one channel (:mod:`moby_dick.channel`), whose other end only moby-dick holds. At a normal end
moby-dick cleans up itself and sends "dismiss"; if moby-dick dies instead, the channel reaches EOF
and the guard runs the same clean-up actions.

  moby-dick                      guard (setsid, comm "moby-dick:guard")
    |-- socketpair, fork ---------->|  receive() ... blocks
    |-- "pid1 N" (when it exists) ->|  remembers N: the actions wait for PID 1 to be gone first
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
                watched = None
                kind, payload, _ = theirs.receive()
                while kind == "pid1":
                    watched = int(payload)
                    kind, payload, _ = theirs.receive()
                if kind != "dismiss":
                    if watched is not None:
                        _wait_until_gone(watched)  # PDEATHSIG kills it; its lease is free once it is dead
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

    def watch(self, pid: int) -> None:
        """Tell the guard the container's PID 1: on moby-dick's death it waits for it to die first."""
        if self._channel is not None:
            self._channel.send("pid1", str(pid).encode())

    def dismiss(self) -> None:
        if self._channel is not None:
            self._channel.send("dismiss")
            self._channel.close()
            self._channel = None
            os.waitpid(self.pid, 0)


def _wait_until_gone(pid: int, timeout: float = 5.0) -> None:
    """Until /proc/PID is gone or a zombie (the guard is not its parent: it cannot wait(2) for it)."""
    import time

    from .procstat import gone

    deadline = time.monotonic() + timeout
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


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
