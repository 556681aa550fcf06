"""A docker user's verbs on moby_dick's lifecycle: ``run -d``, ``ps``, ``logs``, ``stop``, ``kill``, ``rm``,
``exec``, ``wait``, ``inspect``.

The containers live in ``/run/moby-dick/containers`` (the lifecycle's state directories, :mod:`moby_dick.state`).
``run -d`` is what conmon is to podman: it forks a small **monitor** (its own session, PR_SET_CHILD_SUBREAPER)
that creates and starts the container, so that PID 1 is re-parented to it, waits for PID 1 and writes its exit
status into the state directory (``exit``), then goes. The container's stdout and stderr go to ``container.log``
beside the state. Ids are 64 hex digits, as docker's; a unique prefix or the name (``--name``) selects one.

  moby-dick run -d ──fork──> monitor (setsid, subreaper) ── create + start ──> PID 1 ... exits
        │  <─── "started <id>" on a pipe ───┘      waitpid(PID 1) -> <state>/exit
        prints the id, exits
"""

from __future__ import annotations

import json
import os
import time

from .errors import MobyError, UsageError

ROOT = "/run/moby-dick/containers"


def new_id() -> str:
    return os.urandom(32).hex()


def _states(root: str = ROOT):
    from .state import ContainerState, list_ids

    for container_id in list_ids(root):
        try:
            yield ContainerState(root, container_id).load()
        except MobyError:
            continue


def resolve(reference: str, root: str = ROOT):
    """A name, an id or a unique id prefix -> the container's state. UsageError otherwise."""
    matches = [s for s in _states(root) if s.data.get("labels", {}).get("name") == reference]
    if not matches:
        matches = [s for s in _states(root) if s.id.startswith(reference)] if reference else []
    if not matches:
        raise UsageError(f'no such container: "{reference}"')
    if len(matches) > 1:
        raise UsageError(f'"{reference}" names {len(matches)} containers; give more of the id')
    return matches[0]


def log_path(state) -> str:
    return os.path.join(os.path.dirname(state.dir), f"{state.id}.log")


def run_detached(spec, name: str | None = None, root: str = ROOT, remove: bool = False) -> str:
    """Start ``spec`` detached under a monitor; return its id once it runs. ``remove`` (docker's --rm):
    the monitor deletes the container, and its log, once PID 1 has exited."""
    from .config import from_spec

    if not spec.rootfs:
        raise UsageError("run -d needs --rootfs (a detached container needs a root of its own)")
    if os.geteuid() != 0:
        raise UsageError("run -d needs root for now: detached containers keep their state in /run/moby-dick; "
                         "run it attached (moby-dick run ...), which works without root")
    if name is not None:
        if not name or not all(c.isalnum() or c in "_.-" for c in name):
            raise UsageError(f'--name "{name}": use letters, digits, "_", ".", "-"')
        if any(s.data.get("labels", {}).get("name") == name for s in _states(root)):
            raise UsageError(f'the name "{name}" is in use by another container; remove it first (moby-dick rm)')
    from . import validate

    validate.check(spec)
    config = from_spec(spec.replace(seed_tmpfs=False), os.environ)
    container_id = new_id()
    os.makedirs(root, mode=0o711, exist_ok=True)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    monitor = os.fork()
    if monitor == 0:  # the monitor
        os.close(read_end)
        _monitor(root, container_id, config, name, " ".join(map(str, spec.argv)), write_end, remove)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        word = pipe.read()
    os.waitpid(monitor, 0)  # it forked once more and left: the grandchild monitors
    if not word.startswith(b"started"):
        raise MobyError(word.decode(errors="replace").removeprefix("error ").strip() or "the monitor died")
    return container_id


def _forget_failed_start(root: str, container_id: str) -> None:
    """A detached start that failed leaves nothing: neither its state (created, maybe, before start
    failed) nor its log."""
    from . import lifecycle

    try:
        lifecycle.delete(root, container_id, force=True)
    except Exception:  # noqa: BLE001  the error that made the start fail is the one to report
        pass
    try:
        os.unlink(os.path.join(root, f"{container_id}.log"))
    except FileNotFoundError:
        pass


def _record_exit(state, exit_code: int) -> None:
    """Write the exit status into the container's state, under its lock: an ``rm -f`` holds that lock
    from the kill to the last file it removes, so the status is written before it starts or not at
    all (after it, the directory is gone), never into a directory being emptied."""
    try:
        lock = state.lock()
    except OSError:
        return  # removed with -f meanwhile
    try:
        with open(os.path.join(state.dir, "exit"), "w") as file:
            file.write(str(exit_code))
    except OSError:
        pass  # removed while this waited for the lock
    finally:
        os.close(lock)


def _monitor(root: str, container_id: str, config, name, command: str, report: int, remove: bool = False) -> None:
    import gc

    from . import lifecycle
    from .syscalls import KERNEL

    gc.enable()  # the monitor lives as long as its container (the launcher turned the collector off)
    code = 0
    try:
        os.setsid()
        if os.fork():  # leave the caller's process tree: the caller waits for this one only
            os._exit(0)
        KERNEL.prepare()
        KERNEL.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: PID 1 comes to us when the runtime's child exits
        log = os.open(os.path.join(root, f"{container_id}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                      0o600)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        console = master = None
        try:
            if config.process.terminal:  # -d -t: the pty's master is ours, its output goes to the log
                from .terminal import ConsoleSocket

                console = ConsoleSocket(root)
            state = lifecycle.create_from_config(root, container_id, config, stdio=(null, log, log),
                                                 console_socket=console.path if console else None,
                                                 labels={"name": name or container_id[:12], "command": command})
            if console:
                master = console.receive()
                console.close()
            lifecycle.start(root, container_id)
        except BaseException as error:
            if console:
                console.close()
            _forget_failed_start(root, container_id)
            os.write(report, f"error {error}".encode(errors="replace"))
            raise
        os.write(report, b"started")
        os.close(report)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if master is not None:
            from .terminal import copy_until_end

            copy_until_end(master, log)  # EIO once the last process holding the pty is gone
        _, status = os.waitpid(state.pid, 0)
        exit_code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _record_exit(state, exit_code)
        if remove:
            rm(container_id, force=True, root=root)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def exit_code(state) -> int | None:
    try:
        with open(os.path.join(state.dir, "exit")) as file:
            return int(file.read())
    except (OSError, ValueError):
        return None


def ps(all_containers: bool = False, root: str = ROOT) -> list[dict]:
    rows = []
    for state in _states(root):
        status = state.status()
        if status == "stopped":
            code = exit_code(state)
            shown = f"Exited ({code})" if code is not None else "Exited"
            if not all_containers:
                continue
        else:
            shown = "Up" if status == "running" else status.capitalize()
        labels = state.data.get("labels", {})
        rows.append({"id": state.id[:12], "name": labels.get("name", ""), "command": labels.get("command", ""),
                     "status": shown, "created": state.data.get("created", "")})
    return rows


def stop(reference: str, seconds: float = 10.0, root: str = ROOT) -> None:
    """SIGTERM, then SIGKILL after ``seconds``, as docker stop."""
    from . import lifecycle

    state = resolve(reference, root)
    if state.status() == "stopped":
        return
    lifecycle.kill(root, state.id, 15)
    deadline = time.monotonic() + seconds
    while state.status() != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    if state.status() != "stopped":
        lifecycle.kill(root, state.id, 9, all_processes=True)
        while state.status() != "stopped":
            time.sleep(0.01)


def kill(reference: str, number: int, root: str = ROOT) -> None:
    from . import lifecycle

    lifecycle.kill(root, resolve(reference, root).id, number)


def rm(reference: str, force: bool = False, root: str = ROOT) -> None:
    from . import lifecycle

    state = resolve(reference, root)
    if state.status() != "stopped" and not force:
        raise UsageError(f"container {state.id[:12]} is {state.status()}: stop it first or use rm -f")
    path = log_path(state)
    lifecycle.delete(root, state.id, force=True)
    if os.path.exists(path):
        os.unlink(path)


def wait(reference: str, root: str = ROOT) -> int:
    state = resolve(reference, root)
    while state.status() != "stopped":
        time.sleep(0.02)
    deadline = time.monotonic() + 5
    while exit_code(state) is None and time.monotonic() < deadline:  # the monitor writes it as PID 1 goes
        time.sleep(0.01)
    code = exit_code(state)
    return 255 if code is None else code


def logs(reference: str, follow: bool = False, root: str = ROOT, out=None) -> None:
    import sys

    out = out or sys.stdout.buffer
    state = resolve(reference, root)
    with open(log_path(state), "rb") as file:
        while True:
            chunk = file.read(65536)
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if not follow or state.status() == "stopped":
                return
            time.sleep(0.05)


def execute(reference: str, argv: list, env: list = (), workdir: str | None = None, root: str = ROOT, *,
            user: str | None = None, tty: bool = False, interactive: bool = False) -> int:
    """A process in the container, through the same final phase as its PID 1 (its capabilities,
    no_new_privs and seccomp filter, from the container's own config). ``user``: USER[:GROUP], names
    looked up in the container's own /etc/passwd (through /proc/PID/root, inside it); ``tty``: a pty of
    its own, relayed by moby-dick (stdin too when ``interactive``), as ``docker exec -it``."""
    from . import lifecycle
    from .config import parse_env

    state = resolve(reference, root)
    if state.status() != "running":
        raise UsageError(f"container {state.id[:12]} is {state.status()}, not running: nothing to exec in")
    document = json.loads(state.data.get("oci") or "{}")
    process = dict(document.get("process") or {})
    process.update({"args": list(argv), "terminal": tty, "cwd": workdir or process.get("cwd") or "/"})
    process["env"] = list(process.get("env") or []) + [f"{k}={v}" for k, v in parse_env(env, os.environ)]
    if user is not None:
        from .users import account_files, resolve as resolve_user

        account = resolve_user(user, *account_files(f"/proc/{state.pid}/root"))
        process["user"] = {"uid": account.uid, "gid": account.gid, "additionalGids": list(account.additional_gids)}
    seccomp = (document.get("linux") or {}).get("seccomp")
    if not tty:
        return lifecycle.exec_process(root, state.id, process, seccomp=seccomp)
    return _execute_with_terminal(root, state, process, seccomp, interactive)


def _execute_with_terminal(root: str, state, process: dict, seccomp, interactive: bool) -> int:
    """exec -t: the process detached under us (PR_SET_CHILD_SUBREAPER, so that it comes back to us as a
    child), its pty master received on a console socket, then relayed until it exits."""
    from . import lifecycle
    from .runner import FORWARDED_SIGNALS, exit_code_from_status
    from .syscalls import KERNEL
    from .terminal import ConsoleSocket, relay

    KERNEL.prctl(36, 1)
    with ConsoleSocket(root) as console:
        pid_file = os.path.join(console.directory, "pid")
        lifecycle.exec_process(root, state.id, process, detach=True, pid_file=pid_file,
                               console_socket=console.path, seccomp=seccomp)
        with open(pid_file) as file:
            pid = int(file.read())
        master = console.receive()
    status = None

    def poll():
        nonlocal status
        if status is None:
            done, code = os.waitpid(pid, os.WNOHANG)
            status = code if done else None
        return status

    try:
        relay(master, poll, lambda number: os.kill(pid, number), FORWARDED_SIGNALS, interactive)
    finally:
        os.close(master)
        if status is None:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
    return exit_code_from_status(status)[0]


def inspect(reference: str, root: str = ROOT) -> dict:
    state = resolve(reference, root)
    document = state.public()
    document.update({"name": state.data.get("labels", {}).get("name"), "exit_code": exit_code(state),
                     "config": json.loads(state.data.get("oci") or "{}")})
    return document
