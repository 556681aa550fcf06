"""The guard: what a run must undo on the host is undone even if moby-dick is killed with SIGKILL.

A process killed with SIGKILL runs no cleanup. So when a run leaves something on the host that the
kernel will not remove by itself (a mount-point directory it created, a cgroup directory), it first
starts a small guard, in its own session so that the terminal's ^C does not reach it. The guard is
``/bin/sh`` reading lines from a pipe whose write end only moby-dick holds: ``posix_spawn(3)`` starts
it without copying moby-dick (a ``vfork``: no page tables copied, no copy-on-write faults afterwards in
either process; forking the runtime for a Python guard cost ~2.4 ms of each guarded start). At a normal
end moby-dick cleans up itself and sends "dismiss"; if moby-dick dies instead, the pipe reaches EOF and
the shell execs Python (only then) to run the same clean-up actions, which it received as data.

  moby-dick                              guard ("moby-dick:guard": sh, setsid, stdin = the pipe)
    |-- pipe; posix_spawn(sh -c WAIT) ---->|  read ... blocks
    |-- "actions <marshal, hex>" --------->|  keeps them
    |-- "pid1 N" (when it exists) -------->|  remembers N: the actions wait for PID 1 to be gone first
    |   ... container runs ...             |
    |-- "dismiss" (normal end) ----------->|  exit: moby-dick cleaned up itself
    or: moby-dick killed, EOF ------------>|  exec python -I -S: undo(N, actions), exit

The messages are the channel's (:mod:`moby_dick.channel`: ``KIND payload``), one per line: a shell
reads lines from a pipe, not datagrams from a socket.

Syscalls: ``pipe2(2)``, ``posix_spawn(3)`` (``POSIX_SPAWN_SETSID``), ``execve(2)``. Read signal(7) on why
SIGKILL cannot be caught, vfork(2), and dash(1) on ``read`` and ``trap``.
"""

from __future__ import annotations

import os
import sys

from _signal import SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM  # the C module: no enums to build

SHELL = "/bin/sh"
NAME = "moby-dick:guard"
# $0: the interpreter, $1: the directory that holds the moby_dick package
WAIT = r"""trap '' INT TERM HUP QUIT
actions= watched=0
while read -r kind value; do
  case "$kind" in
    actions) actions=$value ;;
    pid1) watched=$value ;;
    dismiss) exit 0 ;;
  esac
done
[ -n "$actions" ] || exit 1
exec "$0" -I -S -c 'import sys; sys.path.insert(0, sys.argv[1]); from moby_dick.guard import undo; undo(*sys.argv[2:])' "$1" "$watched" "$actions"
"""
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Guard:
    """Runs ``actions`` if moby-dick dies before :meth:`dismiss`: ``(module, function, *arguments)``
    tuples, data that ``marshal`` writes (str, int, bool, tuple, list, dict: ``pickle`` would import
    functools and collections, ~4.6 ms of a CLI start)."""

    def __init__(self, actions: list):
        from marshal import dumps

        read_end, self._pipe = os.pipe2(os.O_CLOEXEC)
        try:
            self.pid = os.posix_spawn(SHELL, [NAME, "-c", WAIT, sys.executable, _PACKAGE_PARENT], os.environ,
                                      file_actions=_stdio_and_nothing_else(read_end), setsid=True,
                                      setsigmask=(), setsigdef=_DEFAULT_SIGNALS)
        except BaseException:
            os.close(self._pipe)
            raise
        finally:
            os.close(read_end)
        self._send("actions", dumps(actions).hex())

    def _send(self, kind: str, value: str = "") -> None:
        try:
            os.write(self._pipe, f"{kind} {value}\n".encode())
        except BrokenPipeError:  # the guard was killed (not by us): nothing to tell it any more
            pass

    def watch(self, pid: int) -> None:
        """Tell the guard the container's PID 1: on moby-dick's death it waits for it to die first."""
        if self._pipe is not None:
            self._send("pid1", str(pid))

    def dismiss(self) -> None:
        if self._pipe is not None:
            self._send("dismiss")
            os.close(self._pipe)
            self._pipe = None
            os.waitpid(self.pid, 0)


# what a runtime may ignore or handle (Python ignores SIGPIPE): default in the shell, whose trap decides
_DEFAULT_SIGNALS = (SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM)


def _stdio_and_nothing_else(read_end: int) -> list:
    """posix_spawn's file actions: the pipe as stdin, /dev/null as stdout and stderr, and every other
    descriptor this process lets its children inherit closed (the caller's, leaked to us)."""
    actions = [(os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                actions.append((os.POSIX_SPAWN_CLOSE, fd))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return actions


def undo(watched: str, actions: str) -> None:
    """The guard after moby-dick died (``python -I -S``, exec'd by the shell): wait for PID 1 to be
    gone (PDEATHSIG kills it; its cgroup can be removed only then), then run each action."""
    import importlib
    import marshal

    from .syscalls import KERNEL, PR_SET_NAME

    try:
        KERNEL.prctl(PR_SET_NAME, NAME.encode())
    except OSError:
        pass
    if int(watched):
        _wait_until_gone(int(watched))
    code = 0
    for module, function, *arguments in marshal.loads(bytes.fromhex(actions)):
        try:
            getattr(importlib.import_module(module), function)(*arguments)
        except Exception:
            code = 1
    sys.exit(code)


def _wait_until_gone(pid: int, timeout: float = 5.0) -> None:
    """Until /proc/PID is gone or a zombie (the guard is not its parent: it cannot wait(2) for it)."""
    import time

    from .procstat import gone

    deadline = time.monotonic() + timeout
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
