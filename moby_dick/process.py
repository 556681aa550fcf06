"""The container's processes, and how they talk to moby-dick: the child protocol on the one channel.

Without a user namespace (one fork per container, see pid.ForkChildIntoPidNamespace):

  moby-dick (runtime)                                  [1] PID 1 ("moby-dick:child", the container's first)
    |-- socketpair; unshare(CLONE_NEWPID); fork ------->|
    |   setns(own PID namespace): its next children      | prctl(PR_SET_PDEATHSIG, SIGKILL); runtime alive?
    |   are its own again                                | stdio; reset signal mask and dispositions
    |                                                    | child phase: unshare(the other namespaces)
    |<------------------ pid1 ---------------------------| init phase: (v1) itself -> its cgroup's tasks
    | runtime phase: (v2) PID 1 -> cgroup.procs, eth0 .. | mounts, hostname, the root (meanwhile)
    |------------------- go (if the runtime had work) -->| cgroup namespace, cgroupfs, hooks, pivot_root
    |<------------------ ready uts=DEV:INO ... ----------|
    |                                                    | final phase: fds close-on-exec, chdir, identity, execve
    |<------------------ EOF (the channel is close-on-exec)

With a user namespace (or ``create``, whose PID 1 outlives the runtime), the PID namespace must be the
child's: [1] unshares it with the others and forks [2], PID 1 ("moby-dick:pid1"); [1] stays outside as
the waiter ("moby-dick:wait"), sends "pid1 N" (PID 1's host pid), waits for it and exits alike.
Either way: "error <fields>" when a step or exec failed (_exit 125/126/127), "value <pickle>" when a
Python function ran instead of a program (demos, tests).

The runtime reads the channel until EOF, so when :func:`moby_dick.runner.start` returns, the command
is running (or start raised the child's error). Every message is a step of the plan
(:mod:`moby_dick.plan`); read runc's ``libcontainer/sync.go`` for the same idea in Go.
"""

from __future__ import annotations

import gc
import os

# The C module under ``signal``: the Python wrapper builds enums, which costs ~9 ms per start.
import _signal as signal

from .errors import ExecError, MobyError, SyscallError
# Everything the child needs is imported here, before the fork: after pivot_root the standard
# library and this package may be out of reach, so the child must never import anything.
from .pid import run_init
from .syscalls import PR_SET_DUMPABLE, PR_SET_NAME, PR_SET_PDEATHSIG

PDEATHSIG = signal.SIGKILL
# What a runtime may have ignored or handled (Python ignores SIGPIPE and SIGXFSZ; the fork server and the
# waiter ignore the terminal's signals): a container starts with none of it
_RESET_TO_DEFAULT = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                     signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD)


def encode_error(error: BaseException) -> bytes:
    """An error as text fields, not a pickle: after ``pivot_root`` the child may no longer reach the
    standard library, so it must not need to import anything to report a failure."""
    if isinstance(error, SyscallError):
        fields = ("SyscallError", error.syscall, str(error.errno), error.path or "", error.hint or "")
    elif isinstance(error, ExecError):
        fields = ("ExecError", error.command, str(error.errno))
    elif isinstance(error, MobyError):
        fields = ("MobyError", str(error), str(error.exit_code))
    else:
        fields = ("MobyError", f"container setup failed: {type(error).__name__}: {error}", "125")
    return "\0".join(field.replace("\0", " ") for field in fields).encode("utf-8", "surrogateescape")


def decode_error(payload: bytes) -> MobyError:
    kind, *fields = payload.decode("utf-8", "surrogateescape").split("\0")
    if kind == "SyscallError":
        syscall, number, path, hint = fields
        return SyscallError(syscall, int(number), path or None, hint or None)
    if kind == "ExecError":
        return ExecError(fields[0], int(fields[1]))
    error = MobyError(fields[0])
    error.exit_code = int(fields[1])
    return error


def report_failure(channel, error: BaseException) -> None:
    """Send the error to the runtime, which turns it into one line; if even that fails, the exit
    status still tells it something went wrong."""
    try:
        channel.send("error", encode_error(error))
    except BaseException:
        try:  # nobody listens any more (after `start`): the container's stderr is the engine's log
            os.write(2, f"moby-dick: {error}\n".encode(errors="replace"))
        except BaseException:
            pass


def run_steps(steps, kernel, channel) -> None:
    """Apply each step; steps that talk over the channel get it."""
    for step in steps:
        if getattr(step, "talks", False):
            step.exchange(kernel, channel)
        else:
            step.apply(kernel)


def run_final(steps, kernel, channel) -> int:
    """The final phase, in the command's process. Returns only in function mode (the exit code);
    a failed exec raises its ExecError."""
    run_steps(steps, kernel, channel)
    return 0


def child_main(the_plan, kernel, channel, parent_pid: int, stdio: tuple, alive_fd: int | None = None) -> None:
    """Runs in the forked child; never returns. ``stdio`` holds fds for 0, 1, 2 (None: inherit).
    ``alive_fd``: how to tell the runtime still lives when ``getppid()`` cannot (the child is PID 1 of a
    PID namespace the runtime unshared for it: a pipe's read end, see pid.ForkChildIntoPidNamespace)."""
    gc.disable()  # a collection here would write to every object the child shares with its parent
    code = 125
    try:
        try:
            # If moby-dick dies (even by SIGKILL), the kernel kills the container too; not when it is
            # detached (`create`), which the runtime leaves behind on purpose.
            if not the_plan.detached:
                kernel.prctl(PR_SET_PDEATHSIG, PDEATHSIG)
                alive = kernel.pipe_has_writer(alive_fd) if alive_fd is not None else os.getppid() == parent_pid
                if not alive:  # the parent died before prctl took effect
                    os._exit(code)
            kernel.prctl(PR_SET_NAME, b"moby-dick:child")
            for target, fd in enumerate(stdio):
                if fd is not None:
                    os.dup2(fd, target)
            # Nothing of the runtime's reaches the container: not its locks, not the guard's channel
            # (whose EOF must come when the runtime dies), not a descriptor the runtime's caller leaked.
            keep = {0, 1, 2, channel.fileno(), *range(3, 3 + the_plan.preserve_fds), *the_plan.keep_fds}
            kernel.close_all_but(keep)
            # The parent may block signals (to forward them) and Python ignores SIGPIPE: a fresh
            # program must start with no blocked signals and default dispositions, as from a shell.
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for number in _RESET_TO_DEFAULT:
                if signal.getsignal(number) != signal.SIG_DFL:  # (a sigaction(2) only where one is needed)
                    signal.signal(number, signal.SIG_DFL)
            run_steps(the_plan.child + the_plan.init, kernel, channel)
            if the_plan.config.process.init:
                # The init is the host's interpreter: not dumpable, so that no process of the container
                # can follow /proc/1/exe, fd, cwd, root or map_files to the host's files (CVE-2019-5736,
                # generalised to the interpreter's libraries); execve of PID 2 makes it dumpable again.
                kernel.prctl(PR_SET_DUMPABLE, 0)
                # init closes its end of the channel once PID 2 is forked; PID 2's closes at exec
                run_init(lambda: _final_or_report(the_plan.final, kernel, channel),
                         close_in_init=(channel.fileno(),))
            else:
                code = run_final(the_plan.final, kernel, channel)
        except BaseException as error:
            code = _failed(channel, error)
    finally:
        os._exit(code)


def _failed(channel, error: BaseException) -> int:
    """Report ``error`` on the channel; the exit status it means (docker's 126/127 for exec, else 125)."""
    report_failure(channel, error)
    return error.exit_code if isinstance(error, ExecError) else 125


def _final_or_report(steps, kernel, channel) -> None:
    """PID 2 under --init: the final phase; a failure is reported and its status is the exit code."""
    code = 125
    try:
        code = run_final(steps, kernel, channel)
    except BaseException as error:
        code = _failed(channel, error)
    finally:
        os._exit(code)
