"""Compose the isolations: validate -> plan -> claim mount points -> fork -> child applies steps -> exec
-> wait -> clean up. The CLI, the demos, the tests and the notebooks all start containers here.

    >>> from moby_dick import run
    >>> result = run(["hostname"], capture=True)
    >>> result.exit_code, result.stdout
    (0, b'containerhostname\\n')

Processes: the caller forks the container's child (see :mod:`moby_dick.process` for the protocol);
``unshare`` happens in that child, never in the caller, so a multithreaded caller (a pytest-xdist
worker, a Jupyter kernel) works. A guard process (a shell, :mod:`moby_dick.guard`) is spawned only when
this run created a cgroup or a mount-point directory on the host (see :mod:`moby_dick.mountpoints`).
"""

from __future__ import annotations

import os
import time

# The C module under ``signal``: the Python wrapper builds enums, which costs ~9 ms per start.
import _signal as signal

from . import validate
from .errors import MobyError
from .channel import Channel, ProtocolError
from .config import from_spec
from .namespaces import decode_ids
from .plan import plan
from .process import child_main, decode_error
from .records import Record
from .spec import ContainerSpec
from .syscalls import KERNEL

# Signals the CLI passes on to the container (docker run's --sig-proxy).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (e.g. the terminal's ^C): not forwarded


class Result(Record):
    """exit_code: 128+N when killed by signal N, as a shell reports it; namespaces: {kind: NamespaceId}
    of the container's process; stdout/stderr: captured bytes or None; signal: what killed it, or None."""

    __slots__ = ("exit_code", "namespaces", "pid", "stdout", "stderr", "signal", "value", "stats")
    DEFAULTS = {"stdout": None, "stderr": None, "signal": None, "value": None, "stats": None}

    @property
    def oom_killed(self) -> bool:
        """The kernel's OOM killer stopped the container at its memory limit (from the cgroup's counters)."""
        return bool(self.stats and self.stats.get("oom_kills")) and self.exit_code == 137

    @property
    def text(self) -> str:
        """stdout decoded, for reading in demos and notebooks."""
        return (self.stdout or b"").decode(errors="replace")


def exit_code_from_status(status: int) -> tuple[int, int | None]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return 128 + number, number
    return os.WEXITSTATUS(status), None


class Container:
    """A started container. Use as a context manager: leaving it kills and reaps what is left."""

    def __init__(self, spec: ContainerSpec, pid: int, stdout: int | None = None, stderr: int | None = None,
                 cleanup: list | None = None, kernel=KERNEL):
        self.spec = spec
        self._kernel = kernel
        self.pid = pid  # the container's first process (PID 1 inside a PID namespace), as the host numbers it
        self._child = pid  # the process moby-dick waits for (outside the PID namespace, when there is one)
        self.value = None  # what ContainerSpec.function returned, when it ran instead of a program
        self.namespaces: dict = {}  # {kind: NamespaceId}, as the child reported them
        self._stdout, self._stderr = stdout, stderr  # pipes, when the output is captured
        self._cleanup = cleanup if cleanup is not None else []  # callables, run in order by close()
        self.cgroup = None  # moby_dick.cgroups.Cgroup, when the container has one
        self.stats: dict | None = None  # what it used, read from the cgroup at the end
        self._status: int | None = None  # the wait status, once reaped
        self.terminal: int | None = None  # the pty master, when the spec asked for a terminal (tty)

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kill(self, number: int = signal.SIGKILL) -> None:
        if self._status is None:
            self._kernel.kill(self.pid, number)

    def wait_for_exec(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the container's process has exec'd ``name`` (read from ``/proc/<pid>/comm``).

        Scripts that print, then ``exec sleep``, have written all their output once this returns.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(f"/proc/{self.pid}/comm") as comm:
                    if comm.read().strip() == name[:15]:
                        return
            except FileNotFoundError:
                pass
            if self.poll() is not None or time.monotonic() > deadline:
                raise MobyError(f"container {self.pid} never ran {name!r}")
            time.sleep(0.002)

    def poll(self) -> int | None:
        """The wait status if the command has exited (reaping it), else None."""
        if self._status is None:
            pid, status = self._kernel.waitpid(self._child, os.WNOHANG)
            if pid:
                self._status = status
        return self._status

    def wait(self, timeout: float | None = None) -> Result:
        """Read captured output until EOF, reap the command, clean up, and return its result."""
        try:
            out, err = self._collect_output(timeout)
            if self._status is None:
                self._status = self._reap(timeout)
        except BaseException:
            self.close()
            raise
        self.close()
        code, number = exit_code_from_status(self._status)
        return Result(code, self.namespaces, self.pid, out, err, number, self.value, self.stats)

    def _reap(self, timeout: float | None) -> int:
        """Wait for the command's end (SIGKILL at ``timeout``); its wait status."""
        return _waitpid_until(self._kernel, self._child, timeout, self.pid)

    def wait_forwarding_signals(self) -> Result:
        """Wait as the CLI does: pass on signals sent to moby-dick. Call :func:`block_forwarded_signals` first."""
        wanted = set(FORWARDED_SIGNALS) | {signal.SIGCHLD}
        try:
            while self.poll() is None:
                info = signal.sigwaitinfo(wanted)
                # A terminal's ^C already went to the whole foreground process group, the container
                # included (si_code SI_KERNEL); forward only what was sent to moby-dick by kill(2).
                if info.si_signo != signal.SIGCHLD and info.si_code != SI_KERNEL:
                    self.kill(info.si_signo)
        finally:
            self.close()
        code, number = exit_code_from_status(self._status)
        return Result(code, self.namespaces, self.pid, signal=number, stats=self.stats)

    def wait_relaying_terminal(self, interactive: bool = True) -> Result:
        """:meth:`wait_forwarding_signals` for a container with a terminal: moby-dick is the terminal's
        other end (stdin, when ``interactive``, to the pty; the pty to stdout), see terminal.relay."""
        from .terminal import relay

        try:
            relay(self.terminal, self.poll, self.kill, FORWARDED_SIGNALS, interactive)
        finally:
            self.close()
        code, number = exit_code_from_status(self._status)
        return Result(code, self.namespaces, self.pid, signal=number, stats=self.stats)

    def _collect_output(self, timeout):
        if self._stdout is None and self._stderr is None:
            return None, None
        import selectors

        deadline = None if timeout is None else time.monotonic() + timeout
        buffers = {self._stdout: [], self._stderr: []}
        with selectors.DefaultSelector() as selector:
            for fd in buffers:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                events = selector.select(remaining)
                if not events and deadline is not None and time.monotonic() >= deadline:
                    self.kill()
                    deadline = None  # killed: EOF follows
                for key, _ in events:
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        buffers[key.fd].append(chunk)
                    else:
                        selector.unregister(key.fd)
        return b"".join(buffers[self._stdout]), b"".join(buffers[self._stderr])

    def close(self) -> None:
        """Kill and reap the command if it still runs, close pipes, release mount points. Idempotent."""
        if self._status is None:
            self.kill(signal.SIGKILL)  # PID 1: the kernel then kills everything in its namespace
            if self._child != self.pid:
                self._kernel.kill(self._child, signal.SIGKILL)
            _, self._status = self._kernel.waitpid(self._child, 0)
        for fd in (self._stdout, self._stderr, self.terminal):
            if fd is not None:
                os.close(fd)
        self._stdout = self._stderr = self.terminal = None
        if self.cgroup is not None and self.stats is None:
            self.stats = self.cgroup.stats()  # before the clean-up removes the cgroup
        _run_in_order(self._cleanup)


def _waitpid_until(kernel, pid: int, timeout: float | None, container_pid: int) -> int:
    if timeout is None:
        return kernel.waitpid(pid, 0)[1]
    deadline = time.monotonic() + timeout
    while True:
        done, status = kernel.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            kernel.kill(container_pid, signal.SIGKILL)
            return kernel.waitpid(pid, 0)[1]
        time.sleep(0.005)


def block_forwarded_signals():
    """Block the forwarded signals and SIGCHLD in the caller, so none is lost before the wait loop.
    Returns the previous mask, to restore afterwards."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, set(FORWARDED_SIGNALS) | {signal.SIGCHLD})


def _run_in_order(actions: list) -> None:
    while actions:
        actions.pop(0)()


class Host(Record):
    """What the host phase's steps work with: the kernel, the mount-point registry, and the list of
    clean-up actions (run in order by :meth:`Container.close`, or at once if the start fails)."""

    __slots__ = ("kernel", "registry", "cleanup", "guard")
    DEFAULTS = {"guard": None}


def _run_host_phase(the_plan, host: Host) -> None:
    """The host phase: a guard first, then each step (each registers its own undo before acting).

    The guard is spawned *before* anything is made, so that no moment exists in which moby-dick could
    die leaving something behind unguarded. It gets the cgroup's names (chosen, not yet created) and
    the mount points, and on moby-dick's death removes them, or whatever of them exists."""
    steps = [step for step in the_plan.host if step is not the_plan.fork_step]  # that one: at the fork
    if not steps:  # (an address on the bridge needs no guard: the kernel ends that lease, see network.py)
        return
    cgroup = the_plan.cgroup
    actions = [("moby_dick.cgroups", "remove_abandoned", cgroup.name, cgroup.dirs)] if cgroup is not None else []
    paths = tuple(step.path for step in steps if hasattr(step, "path"))
    if paths:
        actions.append(("moby_dick.mountpoints", "release_abandoned", host.registry.state_dir, paths))
    from .guard import Guard

    guard = host.guard = Guard(actions)
    try:
        for step in steps:
            step.apply(host)
    except BaseException:
        _run_in_order(host.cleanup)
        guard.dismiss()
        raise
    host.cleanup.append(guard.dismiss)  # last: after everything was undone


def start(spec: ContainerSpec, *, capture: bool = False, stdin: int | None = None,
          kernel=KERNEL, registry=None, fork_server: bool | None = None) -> Container:
    """Start ``spec``'s command in its container and return once it runs (or raise why it cannot).

    ``fork_server``: fork the container from moby-dick's small fork server (:mod:`moby_dick.forkserver`)
    rather than from this process, so a start costs the same however big the caller is. None: yes for a
    program, with the real kernel; never for a Python function (it needs the caller's memory). The CLI,
    a small process of its own, passes False."""
    from .spec import for_caller

    spec = for_caller(spec)
    validate.check(spec)
    cleanup: list = []  # what the caller undoes when the container ends
    if spec.rootfs and not os.path.isdir(spec.rootfs):
        from .images import unpack_tarball

        holds: list = []  # the cache entry, held until the container ends: `cleanup` leaves it alone
        spec = spec.replace(rootfs=unpack_tarball(spec.rootfs, spec.cache_dir, holds))
        cleanup.extend(lambda fd=fd: os.close(fd) for fd in holds)
    try:
        the_plan = plan(from_spec(spec, os.environ))
        if fork_server is None:
            fork_server = kernel is KERNEL and registry is None and _servable(spec, the_plan)
        if fork_server:
            from .forkserver import start_remote

            return start_remote(spec, the_plan, capture=capture, stdin=stdin, cleanup=cleanup)
    except BaseException:
        _run_in_order(cleanup)
        raise
    return launch(spec, the_plan, capture=capture, stdio=(stdin, None, None), kernel=kernel,
                  registry=registry, cleanup=cleanup)


def _servable(spec: ContainerSpec, the_plan) -> bool:
    """Can the fork server start this? Not a Python function (it runs in a fork of the caller's own
    memory), nor descriptors of the caller's kept at their numbers (OCI's --preserve-fds)."""
    return spec.function is None and not the_plan.preserve_fds and not the_plan.keep_fds and not the_plan.detached


def launch(spec: ContainerSpec, the_plan, *, capture: bool = False, stdio: tuple = (None, None, None),
           kernel=KERNEL, registry=None, cleanup: list | None = None) -> Container:
    """The planned start, in this process: the host phase, the fork, the child protocol (see
    :mod:`moby_dick.process`). ``stdio``: descriptors for the container's 0, 1, 2 (None: this process's)."""
    if registry is None and any(hasattr(step, "path") for step in the_plan.host):  # a mount point to claim
        from .mountpoints import MountpointRegistry  # (only then: fcntl and the registry cost ~1 ms to import)

        registry = MountpointRegistry()
    host = Host(kernel, registry, cleanup if cleanup is not None else [])
    try:
        prepare_steps(the_plan, kernel)
    except BaseException:
        _run_in_order(host.cleanup)
        raise
    if spec.function is not None:
        import pickle  # noqa: F401  the child pickles the result after pivot_root, maybe out of the stdlib's reach
    container = None
    parent_fds: list = []  # our ends of the capture pipes
    opened: list = []  # descriptors to close if anything fails before the container owns them
    ours = holding = None
    try:
        _run_host_phase(the_plan, host)
        stdio = list(stdio)
        if capture:
            open_capture(stdio, opened, parent_fds, stdin_given=stdio[0] is not None)
        # holding: the pipe end PID 1 watches until it reported; from then on its PR_SET_PDEATHSIG watches us
        pid, ours, holding = fork_child(the_plan, kernel, tuple(stdio))
        # from here on the container owns the clean-up: close() kills, reaps and undoes
        container = Container(spec, pid, *(parent_fds or [None, None]), cleanup=host.cleanup, kernel=kernel)
        container.cgroup = the_plan.cgroup
        fork_step = the_plan.fork_step
        while opened:
            os.close(opened.pop())
        if fork_step is not None:  # PID 1's host pid is known now: what needs only that starts at once,
            if host.guard:  # while PID 1 starts (the guard first learns whom to wait for)
                host.guard.watch(pid)
            for step in the_plan.runtime:
                if hasattr(step, "early"):
                    step.early(kernel, pid)
        watch = (lambda pid: None) if fork_step is not None else (lambda pid: host.guard and host.guard.watch(pid))
        _converse(ours, the_plan, kernel, container, {"pty": lambda payload, fds: _keep_terminal(container, fds),
                                                      "pid1": watch})  # (one fork: the guard was told above)
    except BaseException:
        if container is not None:
            container.close()
        else:
            for fd in parent_fds:
                os.close(fd)
            _run_in_order(host.cleanup)
        raise
    finally:
        for fd in opened:  # left open only when something failed before the fork
            os.close(fd)
        if ours is not None:
            ours.close()
        if holding is not None:
            os.close(holding)
    return container


def fork_child(the_plan, kernel, stdio: tuple) -> tuple[int, Channel, int | None]:
    """The plan's fork: ``(pid, the runtime's end of the channel, the pipe end PID 1 watches or None)``.
    The child is PID 1 itself (the plan's fork step), or the child that makes it; it never returns."""
    ours, theirs = Channel.pair()
    parent_pid = os.getpid()
    try:
        if the_plan.fork_step is not None:  # alive: a pipe's end while PID 1 checks on us
            pid, alive = the_plan.fork_step.fork(kernel)
        else:
            pid, alive = kernel.fork(), None
    except BaseException:
        ours.close()
        theirs.close()
        raise
    if pid == 0:
        ours.close()
        child_main(the_plan, kernel, theirs, parent_pid, stdio, alive)
    theirs.close()  # the child's end: if the runtime held it, EOF would never come
    return pid, ours, alive


def open_capture(stdio: list, opened: list, readers: list, stdin_given: bool) -> None:
    """For a captured run: /dev/null as stdin unless one was given, a pipe for stdout and one for stderr.
    ``stdio`` gets the container's ends, ``opened`` every descriptor to close once the container has
    them, ``readers`` the read ends."""
    if not stdin_given:
        stdio[0] = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        opened.append(stdio[0])
    for target in (1, 2):
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        readers.append(read_end)
        stdio[target] = write_end
        opened.append(write_end)


def _keep_terminal(container: Container, fds) -> None:
    """The runtime's handler for "pty" in a run: the container's pty master is ours to relay."""
    container.terminal, *extra = fds
    for fd in extra:
        os.close(fd)


def prepare_steps(the_plan, kernel=None) -> None:
    """Before the fork: import every module a step will use in the container (after ``pivot_root``
    nothing can be imported: the standard library may be out of reach) and let steps prepare what they
    need (the seccomp program is compiled or read from its cache here). ``kernel``: the door of the
    process that will fork, which loads libc's functions now and keeps what the steps hand it (the
    seccomp filter's C struct); None in the API's caller, which only plans for the fork server."""
    if kernel is not None:
        kernel.prepare()
    for step in the_plan.steps():
        for name in getattr(step, "needs", ()):
            __import__(name)
        if hasattr(step, "prepare"):  # e.g. the seccomp program, compiled (or read from its cache) here
            step.prepare(kernel)


def _converse(channel, the_plan, kernel, container, handlers=None, until_ready: bool = False) -> None:
    """The runtime's side of the child protocol (drawn in :mod:`moby_dick.process`): a handler per
    message, until EOF, which comes when the command's process exec'd (or everything exited); with
    ``until_ready``, until "ready" (``create``: PID 1 then waits at the gate). ``handlers``: extra
    ``{kind: fn(payload, fds) -> (reply kind, payload) or None}``; "pid1" gets the pid."""
    handlers = handlers or {}
    ready = False
    while True:
        kind, payload, fds = channel.receive()
        if kind is None:
            break
        if kind == "pid1":  # its host pid, from the waiter; none: the child we forked is the first
            container.pid = int(payload) if payload else container._child
            if "pid1" in handlers:
                handlers["pid1"](container.pid)
            try:
                for step in the_plan.runtime:
                    step.apply(kernel, container.pid)
                if the_plan.awaits_go:  # only when the runtime had something to do (plan.await_go_where_needed)
                    channel.send("go")
            except (BrokenPipeError, ConnectionResetError):
                pass  # PID 1 failed in a step before "go" and exited: its "error" is read next
            except BaseException as failure:  # (ESRCH, say) because PID 1 failed meanwhile: its error is the cause
                raise _reported_error(channel) or failure
        elif kind == "map-ids":
            for step in the_plan.on_map_ids:
                step.apply(kernel, container._child)
            channel.send("ids-mapped")
        elif kind == "ready":
            container.namespaces = decode_ids(payload)
            ready = True
            if until_ready:
                return
        elif kind in handlers:
            reply = handlers[kind](payload, fds)
            if reply is not None:
                channel.send(*reply)
        elif kind == "value":
            import pickle

            container.value = pickle.loads(payload)
        elif kind == "error":
            raise decode_error(payload)
        else:
            raise ProtocolError(f"unexpected message {kind!r} from the container")
    if not ready:
        _, container._status = kernel.waitpid(container._child, 0)
        raise MobyError(f"container setup failed: the child exited with status {container._status}")


def _reported_error(channel) -> MobyError | None:
    """The error PID 1 already sent, if one is waiting on the channel (it runs its steps meanwhile)."""
    if channel.readable():
        kind, payload, _ = channel.receive()
        if kind == "error":
            return decode_error(payload)
    return None


def run(spec: ContainerSpec | list | tuple, *, capture: bool = False, timeout: float | None = None,
        **options) -> Result:
    """Run a container to completion. ``spec`` may be a ContainerSpec or an argv list plus any of its
    fields as keywords (``hostname=``, ``tmpfs=``, ``share=``, ``rootfs=``, ``init=`` ...)."""
    if not isinstance(spec, ContainerSpec):
        spec = ContainerSpec(argv=tuple(spec), **options)
    elif options:
        raise TypeError("pass options either in the ContainerSpec or as keywords, not both")
    return start(spec, capture=capture).wait(timeout)
