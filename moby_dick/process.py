"""The container's child process, and the messages it sends its parent over the sync pipe.

  moby-dick (parent)                          container child (comm "moby-dick:child")
    |-- pipe2(O_CLOEXEC), fork ------------------->|
    |                                              | prctl(PR_SET_PDEATHSIG, SIGKILL)
    |                                              | reset signal mask and dispositions
    |                                              | step.apply() for each planned step:
    |                                              |   unshare, mount, sethostname, mount ...
    |<-------- "R uts=DEV:INO ipc=... \n" ---------| report: setup done, my namespace ids
    |                                              | execvpe(command)
    |<-------- EOF (the pipe is O_CLOEXEC) --------| exec succeeded: it is the container now
    |   or                                         |
    |<-------- "E" + pickle(error) ----------------| a step or exec failed; _exit(125/126/127)

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

from .errors import ExecError, MobyError
from .namespaces import NamespaceId, namespace_ids

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


def encode_error(error: BaseException) -> bytes:
    import pickle

    if not isinstance(error, MobyError):
        error = MobyError(f"container setup failed: {type(error).__name__}: {error}")
    return b"E" + pickle.dumps(error)


def decode_error(payload: bytes) -> MobyError:
    import pickle

    return pickle.loads(payload[1:])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def exec_command(argv: list) -> ExecError:
    """``execvp(3)``: search ``$PATH`` for ``argv[0]`` (unless it has a ``/``) and ``execve`` it.

    Written out rather than ``os.execvp``, whose ``$PATH`` lookup imports ``warnings`` in every child
    (~3 ms). Like glibc, a permission error found on the way wins over "not found". Returns the error
    only when nothing could be executed.
    """
    command = os.fsencode(argv[0])
    if b"/" in command:
        candidates = [command]
    else:
        path = os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        candidates = [os.path.join(os.fsencode(d) or b".", command) for d in path.split(":")]
    first_errno = None
    for candidate in candidates:
        try:
            os.execv(candidate, argv)
        except OSError as exc:
            if first_errno is None or exc.errno == errno.EACCES:
                first_errno = exc.errno
    return ExecError(os.fsdecode(command), first_errno)


def child_main(steps, argv, kernel, sync_fd: int, parent_pid: int, stdio: tuple) -> None:
    """Runs in the forked child; never returns. ``stdio`` holds fds for 0, 1, 2 (None: inherit)."""
    code = 125
    try:
        try:
            from .syscalls import PR_SET_NAME, PR_SET_PDEATHSIG

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
                step.apply(kernel)
            _write_all(sync_fd, encode_ready(namespace_ids("self")))
            error = exec_command(argv)  # returns only if every execve failed
            code = error.exit_code
            raise error
        except BaseException as error:  # report it; the parent turns it into one line
            try:
                _write_all(sync_fd, encode_error(error))
            except BaseException:
                pass
    finally:
        os._exit(code)
