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

import os
import signal

from .errors import ExecError, MobyError
from .probe import NAMESPACE_KINDS, NamespaceId

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


def _own_namespace_ids() -> dict[str, NamespaceId]:
    ids = {}
    for kind in NAMESPACE_KINDS:
        try:
            st = os.stat(f"/proc/self/ns/{kind}")
        except FileNotFoundError:
            continue
        ids[kind] = NamespaceId(kind, st.st_dev, st.st_ino)
    return ids


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
            _write_all(sync_fd, encode_ready(_own_namespace_ids()))
            try:
                os.execvp(argv[0], argv)
            except OSError as exc:
                name = argv[0] if isinstance(argv[0], str) else os.fsdecode(argv[0])
                error = ExecError(name, exc.errno)
                code = error.exit_code
                raise error from None
        except BaseException as error:  # report it; the parent turns it into one line
            try:
                _write_all(sync_fd, encode_error(error))
            except BaseException:
                pass
    finally:
        os._exit(code)
