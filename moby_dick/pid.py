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

from .namespaces import encode_ids, namespace_ids
from .records import Record
from .syscalls import PR_SET_NAME, PR_SET_PDEATHSIG

# What --init passes on to the command (docker's tini forwards the same set).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


class ForkIntoPidNamespace(Record):
    """Step: ``fork()``: the child is PID 1 of the new PID namespace and runs the remaining steps;
    the parent stays outside as the waiter: it sends PID 1's host pid (``pid1 N``) on the channel,
    closes its end, waits for PID 1 and exits as it did (:func:`wait_and_exit_alike`)."""

    __slots__ = ("detached",)
    DEFAULTS = {"detached": False}
    talks = True

    def exchange(self, kernel, channel) -> None:
        if self.detached:  # `create`: PID 1 outlives the runtime and the waiter, as the engines expect
            pid_one = kernel.fork()
            if pid_one == 0:
                kernel.prctl(PR_SET_NAME, b"moby-dick:pid1")
                return
            channel.send("pid1", str(pid_one).encode())
            os._exit(0)  # PID 1 goes to the caller's subreaper (conmon, containerd-shim)
        # The waiter holds the write end of this pipe until it dies: PID 1 cannot ask getppid()
        # (0 across a PID namespace), so an EOF here is how it learns its parent died before
        # PR_SET_PDEATHSIG took effect, which would otherwise leave it running with no one to kill it.
        alive_read, alive_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        pid_one = kernel.fork()
        if pid_one == 0:  # PID 1: PDEATHSIG does not survive fork, so set it again
            os.close(alive_write)
            kernel.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if not kernel.pipe_has_writer(alive_read):  # the waiter is gone already
                os._exit(125)
            os.close(alive_read)  # alive: from now on its death kills us
            kernel.prctl(PR_SET_NAME, b"moby-dick:pid1")
            return
        os.close(alive_read)
        channel.send("pid1", str(pid_one).encode())
        channel.close()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # hold none of the container's stdio: its pipes reach EOF with PID 1
            os.dup2(devnull, fd)
        kernel.prctl(PR_SET_NAME, b"moby-dick:wait")
        # It shares the terminal's process group: a ^C or ^\ typed for the container reaches it too,
        # and must not kill it (its death would SIGKILL PID 1 through PDEATHSIG).
        for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        wait_and_exit_alike(pid_one)

    def __str__(self) -> str:
        if self.detached:
            return 'fork()  -> PID 1 of the new PID namespace; the child sends "pid1 <its host pid>" and exits'
        return 'fork()  -> PID 1 of the new PID namespace; the waiter outside sends "pid1 <its host pid>"'


class ForkChildIntoPidNamespace(Record):
    """Host step, done at the fork (one fork per container): when no user namespace must come first,
    the runtime itself unshares the PID namespace for its next child, forks, and at once joins its own
    PID namespace again (``setns``), so its child *is* PID 1 and no waiter is needed: the runtime waits
    for PID 1 directly. With a user namespace the PID namespace must belong to it, so the child unshares
    both and forks PID 1 (:class:`ForkIntoPidNamespace`).

    PID 1 cannot ask ``getppid()`` whether the runtime died before ``PR_SET_PDEATHSIG`` took effect (it
    is 0 across a PID namespace): the runtime holds a pipe's write end until "pid1", and an EOF on it
    is how PID 1 learns its parent is gone."""

    __slots__ = ()
    forks = True  # applied by the runtime's fork, not with the other host steps

    def fork(self, kernel) -> tuple[int, object]:
        """``(0, alive_read)`` in the child (a non-blocking pipe end: ``kernel.pipe_has_writer`` is False
        once the runtime is gone); ``(pid, alive_write)`` in the runtime, which closes ``alive_write`` once
        PID 1 has reported."""
        from .syscalls import CLONE_NEWPID

        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        alive_read, alive_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        pid = -1
        try:
            kernel.unshare(CLONE_NEWPID)
            try:
                pid = kernel.fork()
            finally:
                if pid != 0:  # the runtime (also when fork failed): its next children in its own namespace again
                    kernel.setns(own, CLONE_NEWPID)
        except BaseException:
            for fd in (own, alive_read, alive_write):
                os.close(fd)
            raise
        os.close(own)
        if pid == 0:
            os.close(alive_write)
            return 0, alive_read
        os.close(alive_read)
        return pid, alive_write

    def apply(self, host) -> None:
        raise AssertionError("ForkChildIntoPidNamespace is applied by the fork, not as a host step")

    def __str__(self) -> str:
        return ("unshare(CLONE_NEWPID) for the next child; fork() -> PID 1 (one fork: no waiter); "
                "setns(own PID namespace) back")


class ReportPid(Record):
    """Step, when the forked child itself is the container's first process (no PID namespace, or one the
    runtime unshared for it): "pid1", and the runtime takes the pid its fork returned."""

    __slots__ = ()
    talks = True

    def exchange(self, kernel, channel) -> None:
        channel.send("pid1")

    def __str__(self) -> str:
        return 'send "pid1" (this process is the container\'s first: the runtime has its pid from fork)'


class AwaitGo(Record):
    """Step: block until the runtime has done its part for PID 1 (its cgroup) and says "go"."""

    __slots__ = ()
    talks = True

    def exchange(self, kernel, channel) -> None:
        channel.expect("go")

    def __str__(self) -> str:
        return 'await "go" (the runtime has done its phase for PID 1)'


class ReportReady(Record):
    """Step: the container is set up: send the namespace ids, read by the container itself (so they
    are right even for a command that exits at once)."""

    __slots__ = ()
    talks = True

    def exchange(self, kernel, channel) -> None:
        channel.send("ready", encode_ids(namespace_ids("self")))

    def __str__(self) -> str:
        return 'send "ready <namespace ids>"'


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
