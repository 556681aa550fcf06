"""PID isolation: the container's own process tree, its PID 1, and a small init for PID 1's duties.

Syscalls: ``unshare(CLONE_NEWPID)`` (in :mod:`moby_dick.namespaces`), then ``fork(2)``: unsharing the
PID namespace does not move the caller, it decides where the caller's *next child* goes, and that
child is PID 1 there. Then ``mount("proc", "/proc", "proc")``: a proc mount shows the PID namespace of
the process that mounted it, so ``ps`` inside sees only the container. Read pid_namespaces(7), proc(5).

PID 1 is special (pid_namespaces(7), "The namespace init process"): the kernel delivers to it only the
signals it has a handler for (SIGTERM to a plain ``sleep`` as PID 1 does nothing), orphans are
re-parented to it, and when it exits every other process in the namespace is killed. A program that
was not written to be PID 1 neither reaps orphaned zombies nor handles SIGTERM; ``--init`` runs
:func:`run_init` as PID 1 instead, which does both, as docker's ``--init`` (tini) does.

  moby-dick ──fork──> child: unshare(..., CLONE_NEWPID) ──fork──> PID 1: mounts, exec COMMAND
                      └─ waits for PID 1 and exits as it did          (or with --init: PID 1 = run_init,
                                                                       PID 2 = COMMAND)
"""

from __future__ import annotations

import os

import _signal as signal  # the C module: the Python wrapper's enums cost ~9 ms per start

from .records import Record
from .syscalls import MS_NODEV, MS_NOEXEC, MS_NOSUID

# What --init passes on to the command (docker's tini forwards the same set).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


class ForkIntoPidNamespace(Record):
    """Step: ``fork()``: the child is PID 1 of the new PID namespace and runs the remaining steps;
    the parent stays outside, waits for it and exits as it did (:func:`wait_and_exit_alike`)."""

    __slots__ = ()
    forks = True

    def apply(self, kernel) -> int:
        return kernel.fork()

    def __str__(self) -> str:
        return "fork()  -> PID 1 of the new PID namespace runs the steps below"


class MountProc(Record):
    """Step: a fresh proc file system on ``path``, showing the mounting process's PID namespace."""

    __slots__ = ("path",)

    def apply(self, kernel) -> None:
        kernel.makedirs(self.path)
        kernel.mount("proc", self.path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)

    def __str__(self) -> str:
        return f'mount("proc", "{self.path}", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)'


def exit_alike(status: int) -> None:
    """Exit the way a child with wait status ``status`` did: same code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught anyway
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)  # outside the namespace this works; PID 1 would ignore it
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status))


def wait_and_exit_alike(pid: int) -> None:
    """The process left outside the PID namespace: wait for its PID 1, then exit alike. Never returns."""
    _, status = os.waitpid(pid, 0)
    exit_alike(status)


def run_init(start_command, close_in_init=()) -> None:
    """moby-dick's init, as PID 1: start the command as PID 2, forward signals to it, reap every
    child (orphans included), and exit with the command's status (128+N if signal N killed it).

    ``start_command()`` runs in the forked child and must exec (it returns only on failure).
    """
    watched = set(FORWARDED) | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)  # blocked signals are queued, even for PID 1
    command = os.fork()
    if command == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        start_command()
        os._exit(127)
    for fd in close_in_init:
        os.close(fd)
    status = None
    while status is None:
        info = signal.sigwaitinfo(watched)
        if info.si_signo != signal.SIGCHLD:
            try:
                os.kill(command, info.si_signo)
            except ProcessLookupError:
                pass
            continue
        while True:  # reap everything that has exited: the command and any orphaned zombie
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == command:
                status = wait_status
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))  # PID 1 cannot kill itself with a signal
    os._exit(os.WEXITSTATUS(status))
