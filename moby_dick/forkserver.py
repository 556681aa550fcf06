"""The fork server: containers forked from a small process, so a start costs the same from a 16 MB
script as from a 1 GB notebook kernel or test worker.

``fork(2)`` copies the caller's page tables and marks every private page copy-on-write: its cost
grows with the caller's memory (here ~1.5 ms for 16 MB, ~10 ms for 200 MB, ~40 ms for 1 GB), and the
first writes after it fault page by page. The API's caller is whatever program imports moby_dick, so
the API starts its containers from a helper that stays small: one fork server per caller process,
spawned at the first start with ``posix_spawn(3)`` (a ``vfork``: nothing is copied) as ``python -I -S``
with only the runtime imported. It plans nothing: the caller plans (so what the caller sees of the
plan, a mutation in the tests included, is what runs) and sends the whole :class:`moby_dick.plan.Plan`;
the server runs the host phase, forks, and speaks the child protocol (:func:`moby_dick.runner.launch`),
exactly as the CLI does in its own process. Python functions (``ContainerSpec.function``) still fork
from the caller: they need its memory.

The messages, on the one channel (:mod:`moby_dick.channel`); each container has a connection of its own,
made by the caller and sent with "start", so one container's news never waits behind another's:

  caller (the API)                                 fork server (comm "moby-dick:server")
    |-- socketpair; posix_spawn(python -I -S) ------->|  imports the runtime, once
    |-- "start <pickle: spec, plan>" [conn, 0, 1, 2] ->|  (control channel)
    |                                                  |  launch(): host phase, fork, child protocol
    |<------- "started <pickle: pid, namespaces, cgroup>" [pty master]   (on conn)
    |<------- or "raise <pickle>" / "error <fields>": it could not start; conn closes
    |-------- "kill N" ------------------------------->|  kill(2) PID 1, unless already reaped
    |<------- "exited <pickle: status, stats>" ---------|  PID 1's pidfd was readable: reaped, cleaned up
    |-------- EOF of conn (closed, or the caller died)->|  SIGKILL, reap, clean up
    |-------- EOF of the control channel -------------->|  every container closed, then exit

Nothing outlives the caller: its death closes both channels (the kernel closes a dead process's
descriptors), and the server then kills, reaps and cleans up each container and exits. If the server
itself is killed, each container's child dies by ``PR_SET_PDEATHSIG`` and each guard undoes its run.

Syscalls: ``posix_spawn(3)``, ``socketpair(2)``, ``sendmsg(2)``/``recvmsg(2)`` with ``SCM_RIGHTS``,
``pidfd_open(2)``, ``poll(2)``. Read fork(2) (NOTES: copy-on-write), vfork(2), pidfd_open(2).
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock  # not ``threading``: see below

from .channel import Channel, ProtocolError
from .runner import Container, _run_in_order, open_capture, prepare_steps

_SERVER = None  # this process's ForkServer, once started
# The server imports this module too, and it forks every container: ``threading`` registers an at-fork
# handler that runs, as Python, in each child before anything else, and the pages it writes are copied:
# fork-to-child was 1.4 ms with it, 0.65 ms without (python -IS, the runtime imported; this VM).
_LOCK = allocate_lock()


class ForkServer:
    """The caller's handle on its fork server: the control channel and the server's pid."""

    def __init__(self):
        ours, theirs = Channel.pair()
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths = [package_parent] + [path for path in sys.path if path and path != package_parent]
        boot = f"import sys; sys.path[:0] = {paths!r}; from moby_dick.forkserver import serve; serve(3)"
        import _signal as signal

        # a daemon's start: default dispositions and no blocked signal, whatever the caller had (an
        # ignored SIGCHLD would make the kernel reap the containers before the server could wait for them)
        everything = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
        self.pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", boot], os.environ,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 3),
                                                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
                                  setsigdef=everything, setsigmask=())
        theirs.close()
        self.channel = ours
        self.owner = os.getpid()  # a fork of the caller must not share it (its messages would interleave)

    def close(self) -> None:
        """EOF on the control channel: the server closes what is left and exits; reap it."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
            os.waitpid(self.pid, 0)


def server() -> ForkServer:
    """This process's fork server, spawned at the first call (and again in a forked child of the caller)."""
    global _SERVER
    with _LOCK:
        if _SERVER is None or _SERVER.owner != os.getpid():
            _SERVER = ForkServer()
            import atexit

            atexit.register(_SERVER.close)
        return _SERVER


def running() -> int | None:
    """The pid of this process's fork server, if it has one."""
    current = _SERVER
    return current.pid if current is not None and current.owner == os.getpid() and current.channel else None


def start_remote(spec, the_plan, *, capture: bool, stdin: int | None, cleanup: list) -> RemoteContainer:
    """:func:`moby_dick.runner.start` through the fork server: the container's stdio are this process's
    0, 1, 2 (or ``stdin``, and pipes when ``capture``), passed as descriptors."""
    import pickle

    opened: list = []
    stdio = [stdin if stdin is not None else 0, 1, 2]
    readers: list = []
    conn = theirs = None
    try:
        if capture:
            open_capture(stdio, opened, readers, stdin_given=stdin is not None)
        conn, theirs = Channel.pair()
        # the seccomp program is compiled (or read from its cache) here, where this process keeps it for
        # its next starts (seccomp.cached_program); the server receives it ready with the plan
        prepare_steps(the_plan)
        payload = pickle.dumps((spec, the_plan.to_send()))
        fork_server = server()
        with _LOCK:
            fork_server.channel.send("start", payload, fds=(theirs.fileno(), *stdio))
        theirs.close()
        for fd in opened:
            os.close(fd)
        opened.clear()
        kind, payload, fds = conn.receive()
        if kind == "started":
            pid, namespaces, cgroup = pickle.loads(payload)
            container = RemoteContainer(spec, pid, conn, *(readers or [None, None]), cleanup=cleanup)
            container.namespaces, container.cgroup = namespaces, cgroup
            container.terminal = fds[0] if fds else None
            return container
        for fd in fds:
            os.close(fd)
        if kind == "raise":
            raise pickle.loads(payload)
        if kind == "error":
            from .process import decode_error

            raise decode_error(payload)
        raise ProtocolError(f"the fork server answered {kind or 'EOF'!r} to start")
    except BaseException:
        for fd in opened + readers:
            os.close(fd)
        for end in (conn, theirs):
            if end is not None:
                end.close()
        _run_in_order(cleanup)
        raise


class RemoteContainer(Container):
    """A container the fork server started: the same interface as :class:`moby_dick.runner.Container`,
    its end told by the server ("exited") rather than by ``waitpid``, which only the parent may call."""

    def __init__(self, spec, pid: int, conn: Channel, stdout=None, stderr=None, cleanup=None):
        super().__init__(spec, pid, stdout, stderr, cleanup=cleanup)
        self._conn = conn

    def kill(self, number: int = 9) -> None:
        """Through the server, which knows whether PID 1 was reaped (its pid may be another's by then)."""
        if self._status is None and self._conn is not None:
            try:
                self._conn.send("kill", str(number).encode())
            except OSError:  # the server is gone: so is the container
                pass

    def poll(self) -> int | None:
        if self._status is None and self._conn is not None and self._conn.readable():
            self._take_exit()
        return self._status

    def _reap(self, timeout: float | None) -> int:
        if timeout is not None and not self._conn.readable(timeout):
            self.kill(9)
        self._take_exit()
        return self._status

    def _take_exit(self) -> None:
        import pickle

        kind, payload, _ = self._conn.receive()
        if kind != "exited":
            raise ProtocolError(f"expected 'exited' from the fork server, got {kind or 'EOF'!r}")
        self._status, self.stats = pickle.loads(payload)

    def close(self) -> None:
        if self._status is None and self._conn is not None:
            self.kill(9)
            try:
                self._take_exit()
            except (OSError, ProtocolError):
                self._status = 9  # the server died: PDEATHSIG killed the container with it
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for fd in (self._stdout, self._stderr, self.terminal):
            if fd is not None:
                os.close(fd)
        self._stdout = self._stderr = self.terminal = None
        _run_in_order(self._cleanup)


# --- the server's side --------------------------------------------------------------------------------

GLIBC_INTERNAL_SIGNALS = (32, 33)  # SIGCANCEL and SIGSETXID (nptl/pthreadP.h): below SIGRTMIN, 34


def serve(fd: int) -> None:
    """The fork server's loop (in the spawned process): start, kill and report containers until the
    control channel reaches EOF. Never raises: a failed start is reported on its connection."""
    import pickle
    import selectors

    import _signal as signal

    from .syscalls import KERNEL, PR_SET_NAME

    KERNEL.prctl(PR_SET_NAME, b"moby-dick:server")
    # It shares the caller's terminal: a ^C typed for the caller is the caller's to handle (it closes
    # its containers); the server's death would kill them all through PR_SET_PDEATHSIG.
    for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(number, signal.SIG_IGN)
    KERNEL.prepare()
    for number in GLIBC_INTERNAL_SIGNALS:  # left ignored by posix_spawn(3): see Kernel.default_disposition
        KERNEL.default_disposition(number)
    control = Channel.from_fd(fd)
    selector = selectors.DefaultSelector()
    selector.register(control.fileno(), selectors.EVENT_READ, None)
    served: dict = {}  # pidfd -> (connection, Container)

    def finish(pidfd: int, tell: bool) -> None:
        conn, container = served.pop(pidfd)
        selector.unregister(pidfd)
        selector.unregister(conn.fileno())
        os.close(pidfd)
        container.close()  # kill (if still running), reap, read the stats, undo the host phase
        if tell:
            try:
                conn.send("exited", pickle.dumps((container._status, container.stats)))
            except OSError:
                pass
        conn.close()

    while True:
        for key, _ in selector.select():
            if key.data is None:  # the control channel
                kind, payload, fds = control.receive()
                if kind is None:
                    for pidfd in list(served):
                        finish(pidfd, tell=False)
                    return
                conn = Channel.from_fd(fds[0])
                container = _start_one(conn, payload, fds[1:4])
                if container is not None:
                    pidfd = os.pidfd_open(container._child)
                    served[pidfd] = (conn, container)
                    selector.register(pidfd, selectors.EVENT_READ, ("exit", pidfd))
                    selector.register(conn.fileno(), selectors.EVENT_READ, ("conn", pidfd))
                else:
                    conn.close()
            else:
                role, pidfd = key.data
                if pidfd not in served:
                    continue  # finished earlier in this same round
                conn, container = served[pidfd]
                if role == "exit":
                    finish(pidfd, tell=True)
                    continue
                kind, payload, _ = conn.receive()
                if kind == "kill":  # not yet reaped (finish() reaps), so the pid is still PID 1's
                    container.kill(int(payload))
                else:  # EOF: the caller closed the container, or died
                    finish(pidfd, tell=False)


def _start_one(conn: Channel, payload: bytes, stdio: list):
    """launch() one container from a "start" message; its Container, or None after reporting why not."""
    import pickle

    from .runner import launch

    try:
        spec, the_plan = pickle.loads(payload)
        container = launch(spec, the_plan, stdio=tuple(stdio))
    except BaseException as error:  # noqa: BLE001  every failure goes back to the caller as it was
        try:
            message = pickle.dumps(error)
            pickle.loads(message)  # an exception whose __init__ differs from its args cannot come back
            kind = "raise"
        except Exception:  # as text, then, the way the container's child reports
            from .process import encode_error

            kind, message = "error", encode_error(error)
        try:
            conn.send(kind, message)
        except OSError:  # the caller is gone
            pass
        return None
    finally:
        for fd in stdio:
            os.close(fd)
    extra = (container.terminal,) if container.terminal is not None else ()
    try:
        cgroup = container.cgroup
        if cgroup is not None:  # the caller reads it (pids, stats, dirs): not the files it was made with
            cgroup = cgroup.existing(cgroup.layout, cgroup.dirs, name=cgroup.name)
        conn.send("started", pickle.dumps((container.pid, container.namespaces, cgroup)), fds=extra)
    except OSError:  # the caller gave up meanwhile (^C): nobody will ever wait for this one
        container.close()
        return None
    if container.terminal is not None:
        os.close(container.terminal)  # the caller holds the master now
        container.terminal = None
    return container
