"""The container's child process, and the messages it sends its parent over the sync pipe.

  moby-dick (parent)                          container child (comm "moby-dick:child")
    |-- pipe2(O_CLOEXEC), fork ------------------->|
    |                                              | prctl(PR_SET_PDEATHSIG, SIGKILL)
    |                                              | reset signal mask and dispositions
    |                                              | step.apply() for each planned step:
    |                                              |   unshare(... CLONE_NEWPID)
    |                                              |   fork ---------------------------> PID 1 (comm "moby-dick:pid1")
    |<-------- "P <host pid of PID 1>\n" ----------|   (then waits for PID 1, exits alike)   |
    |                                              |   mount, sethostname, pivot_root ...  <-|
    |<-------- "R uts=DEV:INO ipc=... \n" ------------------------------------------------| my namespace ids
    |                                                                                     | execve(command)
    |<-------- EOF (the pipe is O_CLOEXEC) ------------------------------------------------| it is the container now
    |   or  "E" + pickle(error): a step or exec failed; _exit(125/126/127)
    |   or  "F" + pickle(value): Command.function ran instead of a program (demos, tests)

The parent blocks on the pipe until EOF, so when :func:`moby_dick.runner.start` returns, the
command is running (or start raised the child's error). The namespace ids are read by the child
itself, so they are right even for a command that exits at once. Read runc's ``libcontainer/sync.go``
for the same idea in Go.
"""

from __future__ import annotations

import errno
import os

# The C module under ``signal``: the Python wrapper builds enums, which costs ~9 ms per start.
import _signal as signal

from .errors import ExecError, MobyError, SyscallError
# Everything the child needs is imported here, before the fork: after pivot_root the standard
# library and this package may be out of reach, so the child must never import anything.
from .namespaces import NamespaceId, namespace_ids
from .pid import run_init, wait_and_exit_alike
from .records import Record
from .syscalls import PR_SET_NAME, PR_SET_PDEATHSIG

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PDEATHSIG = signal.SIGKILL
_RESET_TO_DEFAULT = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                     signal.SIGQUIT, signal.SIGCHLD)


def encode_ready(ids: dict[str, NamespaceId]) -> bytes:
    return ("R " + " ".join(f"{i.kind}={i.dev}:{i.ino}" for i in ids.values()) + "\n").encode()


def decode_ready(line: bytes) -> dict[str, NamespaceId]:
    ids = {}
    for item in line.decode()[2:].split():
        kind, _, value = item.partition("=")
        dev, _, ino = value.partition(":")
        ids[kind] = NamespaceId(kind, int(dev), int(ino))
    return ids


def encode_value(value) -> bytes:
    import pickle

    return b"F" + pickle.dumps(value)


def decode_records(message: bytes) -> tuple[int | None, dict, bytes]:
    """Split what the child sent: ("P pid" line, "R ..." line, then one "E"/"F" pickle or nothing)."""
    pid_one, ids = None, {}
    while message[:2] in (b"P ", b"R "):
        line, _, message = message.partition(b"\n")
        if line.startswith(b"P "):
            pid_one = int(line[2:])
        else:
            ids = decode_ready(line)
    return pid_one, ids, message


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
    return b"E" + "\0".join(field.replace("\0", " ") for field in fields).encode("utf-8", "surrogateescape")


def decode_error(payload: bytes) -> MobyError:
    kind, *fields = payload[1:].decode("utf-8", "surrogateescape").split("\0")
    if kind == "SyscallError":
        syscall, number, path, hint = fields
        return SyscallError(syscall, int(number), path or None, hint or None)
    if kind == "ExecError":
        return ExecError(fields[0], int(fields[1]))
    error = MobyError(fields[0])
    error.exit_code = int(fields[1])
    return error


def decode_value(payload: bytes):
    import pickle

    return pickle.loads(payload[1:])


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_until_eof(fd: int) -> bytes:
    """Everything written to the pipe until every writer closed it; closes ``fd``."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


class Command(Record):
    """What runs once the container is set up: ``argv`` with ``env`` (None: inherit moby-dick's) in
    ``cwd`` as ``uid``/``gid`` (None: stay root); ``init``: under moby-dick's init as PID 1;
    ``function``: instead of exec'ing anything, call this Python function and send back its result
    (the demos and tests use it to collect evidence from inside)."""

    __slots__ = ("argv", "env", "cwd", "uid", "gid", "init", "function")
    DEFAULTS = {"env": None, "cwd": None, "uid": None, "gid": None, "init": False, "function": None}


def exec_command(argv: list, env: dict | None = None) -> ExecError:
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
            os.execve(candidate, argv, env)
        except OSError as exc:
            if first_errno is None or exc.errno == errno.EACCES:
                first_errno = exc.errno
    return ExecError(os.fsdecode(command), first_errno)


def become_command(command: Command, sync_fd: int) -> None:
    """In the process that runs the command: change directory and identity, then exec. Never returns."""
    code = 125
    try:
        if command.cwd:
            os.chdir(command.cwd)
        if command.gid is not None:
            os.setgroups([])
            os.setgid(command.gid)
        if command.uid is not None:
            os.setuid(command.uid)
        error = exec_command(command.argv, command.env)  # returns only if every execve failed
        code = error.exit_code
        raise error
    except BaseException as error:
        _report_failure(sync_fd, error)
    finally:
        os._exit(code)


def _report_failure(sync_fd: int, error: BaseException) -> None:
    """Send the error to the parent, which turns it into one line; if even that fails, the exit
    status still tells it something went wrong."""
    try:
        write_all(sync_fd, encode_error(error))
    except BaseException:
        pass


def child_main(steps, command: Command, kernel, sync_fd: int, parent_pid: int, stdio: tuple) -> None:
    """Runs in the forked child; never returns. ``stdio`` holds fds for 0, 1, 2 (None: inherit)."""
    code = 125
    try:
        try:
            # If moby-dick dies (even by SIGKILL), the kernel kills the container too.
            kernel.prctl(PR_SET_PDEATHSIG, PDEATHSIG)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(code)
            kernel.prctl(PR_SET_NAME, b"moby-dick:child")
            for target, fd in enumerate(stdio):
                if fd is not None:
                    os.dup2(fd, target)
            # The parent may block signals (to forward them) and Python ignores SIGPIPE: a fresh
            # program must start with no blocked signals and default dispositions, as from a shell.
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for number in _RESET_TO_DEFAULT:
                signal.signal(number, signal.SIG_DFL)
            for step in steps:
                if getattr(step, "forks", False):
                    _fork_pid_one(step, kernel, sync_fd)  # returns in PID 1 only
                else:
                    step.apply(kernel)
            write_all(sync_fd, encode_ready(namespace_ids("self")))
            if command.function is not None:
                write_all(sync_fd, encode_value(command.function()))
                code = 0
            elif command.init:
                # init closes its copy of the sync pipe once PID 2 is forked; PID 2's closes at exec
                run_init(lambda: become_command(command, sync_fd), close_in_init=(sync_fd,))
            else:
                become_command(command, sync_fd)
        except BaseException as error:
            _report_failure(sync_fd, error)
    finally:
        os._exit(code)


def _fork_pid_one(step, kernel, sync_fd: int) -> None:
    """Fork PID 1 of the new PID namespace. The parent side reports PID 1's host pid ("P" record),
    then lets PID 1 go on (closing the ``go`` pipe), then waits and exits as PID 1 did."""
    go_read, go_write = os.pipe2(os.O_CLOEXEC)
    pid_one = step.apply(kernel)
    if pid_one:  # outside: the waiter
        os.close(go_read)
        write_all(sync_fd, f"P {pid_one}\n".encode())
        os.close(sync_fd)
        os.close(go_write)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # hold none of the container's stdio: its pipes reach EOF with PID 1
            os.dup2(devnull, fd)
        kernel.prctl(PR_SET_NAME, b"moby-dick:wait")
        # It shares the terminal's process group: a ^C or ^\ typed for the container reaches it too,
        # and must not kill it (its death would SIGKILL PID 1 through PDEATHSIG).
        for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        wait_and_exit_alike(pid_one)
    os.close(go_write)
    os.read(go_read, 1)  # EOF once the waiter has sent "P": the records arrive in order
    os.close(go_read)
    kernel.prctl(PR_SET_PDEATHSIG, PDEATHSIG)  # PDEATHSIG does not survive fork: set it again
    kernel.prctl(PR_SET_NAME, b"moby-dick:pid1")
