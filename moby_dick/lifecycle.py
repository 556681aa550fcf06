"""The OCI lifecycle: create, start, state, kill, delete, exec, and the rest of runc's verbs.

Read the runtime-spec's runtime.md ("Lifecycle", "Operations"). The shape, and why:

  create   config.json -> Config -> plan (detached, with the start gate) -> the container's processes as
           for `moby-dick run` (:mod:`moby_dick.process`), except that the child exits once PID 1 exists,
           so PID 1 goes to the caller's subreaper (conmon, containerd-shim), and PID 1 stops in front of
           ``execve`` at the gate. `create` returns once PID 1 said "ready": the state is "created".
  start    opens the gate (reads exec.fifo): PID 1 execs the program. "running".
  state    derived from the kernel each time (:mod:`moby_dick.state`), never trusted from the file.
  kill     a signal to PID 1 (or, with --all, to every process of its cgroup).
  delete   a stopped container's cgroup, poststop hooks and state go; --force kills first.
  exec     a new process that joins every namespace and the cgroup of PID 1 and goes through the same
           final phase (identity, close-on-exec, execve).
`moby-dick-oci run` = create + start + wait + delete, in one process with nothing between create and
           start: PID 1 is planned attached (no gate, one fork, as `moby-dick run`), its poststart hooks
           run once it exec'd, and the runtime waits for it as its parent.
"""

from __future__ import annotations

from . import jsontext  # json through its C module: ~8 ms less per call an engine makes
import os
import time

import _signal as signal

from .errors import MobyError, UsageError
from .state import DEFAULT_ROOT, ContainerState, NotFound, list_ids, now_rfc3339, start_time_of


def load_config(bundle: str):
    from .oci import from_oci

    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as file:
            document = jsontext.load(file)
    except FileNotFoundError:
        raise UsageError(f"no config.json in the bundle {bundle}") from None
    except ValueError as error:
        raise UsageError(f"{path} is not valid JSON: {error}") from None
    return from_oci(document, bundle), document


def config_problems(config) -> list[str]:
    """What moby-dick-oci cannot honour in a config (one line each). Pure."""
    problems = []
    if config.root is None:
        problems.append("config.json: root is missing")
    if not config.process.args:
        problems.append("config.json: process.args must name a program")
    if config.hostname and config.namespace("uts") is None:
        problems.append("config.json: a hostname needs a uts namespace of the container's own")
    import resource

    for rlimit in config.process.rlimits:
        if not rlimit.type.startswith("RLIMIT_") or not hasattr(resource, rlimit.type):
            problems.append(f"config.json: process.rlimits: unknown type {rlimit.type!r}")
    if config.unshares("user") and not (config.uid_mappings and config.gid_mappings):
        problems.append("config.json: a new user namespace needs linux.uidMappings and linux.gidMappings")
    if config.process.capabilities is not None:
        from .capabilities import problems as capability_problems

        problems += capability_problems(config.process.capabilities)
    kinds = [n.kind for n in config.namespaces]
    if len(kinds) != len(set(kinds)):
        problems.append("config.json: a namespace type is listed twice")
    if config.root is not None and not os.path.isdir(config.root.path):
        problems.append(f"root.path {config.root.path} is not a directory")
    return problems


def state_json(state: ContainerState, status: str | None = None) -> bytes:
    document = state.public()
    if status is not None:
        document["status"] = status
        document["pid"] = state.pid
    return jsontext.dumps(document).encode()


def create(root: str, container_id: str, bundle: str, *, pid_file: str | None = None,
           console_socket: str | None = None, preserve_fds: int = 0, kernel=None, gate: bool = True) -> ContainerState:
    """``gate=False`` is the demo's negative control: PID 1 execs at once, as if `start` came with `create`."""
    bundle, config = _bundle_config(bundle)
    return create_from_config(root, container_id, config, bundle=bundle, pid_file=pid_file,
                              console_socket=console_socket, preserve_fds=preserve_fds, kernel=kernel, gate=gate)


def _bundle_config(bundle: str):
    """``(the bundle's absolute path, its config.json as a Config)``; UsageError for one it cannot run."""
    bundle = os.path.abspath(bundle)
    config, _ = load_config(bundle)
    problems = config_problems(config)
    if problems:
        raise UsageError(problems[0])
    return bundle, config


def create_from_config(root: str, container_id: str, config, *, bundle: str = "", pid_file: str | None = None,
                       console_socket: str | None = None, preserve_fds: int = 0, kernel=None, gate: bool = True,
                       stdio: tuple = (None, None, None), labels: dict | None = None,
                       attached: bool = False) -> ContainerState:
    """The lifecycle's create from a typed spec (the OCI front end, or `moby-dick run -d`). ``attached``
    (`moby-dick-oci run`): the plan is not detached and has no gate: PID 1 is forked once, by this
    process, and execs as soon as it is ready; this returns once it exec'd (its exec error raised)."""
    from . import runner  # its `plan`: the one a test replaces to remove an isolation (testing/mutations.py)
    from .cgroups import detect
    from .runner import Host, _converse, _run_host_phase, _run_in_order, fork_child, prepare_steps
    from .syscalls import KERNEL

    kernel = kernel or KERNEL
    if config.process.terminal and not console_socket:
        raise UsageError("process.terminal is true: give --console-socket (a unix socket for the pty master)")
    if os.geteuid() != 0:
        config = rootless_config(config)
    if not config.cgroup_path:  # runc's default: <the runtime's own cgroup>/<id>
        config = config.replace(cgroup_path=container_id)
    state = ContainerState(root, container_id)
    state.make(gate=not attached)
    lock = state.lock()
    host = Host(kernel, None, [])
    pid = child = 0
    ours = holding = None
    gate_fd = -1
    try:
        state.save(id=container_id, bundle=bundle, pid=0, created=now_rfc3339(),
                   annotations=dict(config.annotations), config=os.path.join(bundle, "config.json") if bundle else "",
                   labels=labels or {})
        if labels is not None:  # made from the CLI: keep the typed spec, as OCI, for exec and inspect
            from .oci import to_oci

            state.save(oci=jsontext.dumps(to_oci(config)))
        if not attached:
            gate_fd = os.open(state.gate_path, os.O_PATH | os.O_CLOEXEC)
        the_plan = runner.plan(config, detect(), gate_fd=None if attached else gate_fd, preserve_fds=preserve_fds)
        if not gate:
            the_plan = the_plan.map(lambda step: None if type(step).__name__ == "AwaitStart" else step)
        if the_plan.cgroup is not None:  # named before it exists: a create killed meanwhile leaves delete --force
            # the directories to remove; saved again below with the parents the host phase made
            state.save(cgroup={"dirs": the_plan.cgroup.dirs, "version": the_plan.cgroup.layout.version})
        prepare_steps(the_plan, kernel)
        _run_host_phase(the_plan, host)
        if the_plan.cgroup is not None:
            state.save(cgroup={"dirs": the_plan.cgroup.dirs, "made": the_plan.cgroup.made,
                               "version": the_plan.cgroup.layout.version})
        child, ours, holding = fork_child(the_plan, kernel, stdio)
        forks_pid_one = any(type(step).__name__ == "ForkIntoPidNamespace" for step in the_plan.child)

        started = _Started(child)

        def on_pid1(number):
            nonlocal pid
            pid = number
            if forks_pid_one and not attached:
                kernel.waitpid(child, 0)  # the child exits once PID 1 exists
            state.save(pid=number, pid_start=start_time_of(number))

        def on_hooks(payload, fds):
            from .hooks import run_hooks

            current = state_json(state, "created")  # what runtime-tools and runc's hooks expect to read
            for when in ("prestart", "createRuntime"):
                run_hooks(config.hooks, when, current)
            return "go", current

        _converse(ours, the_plan, kernel, started, {"pid1": on_pid1, "hooks": on_hooks, "pty": _pty_to(console_socket)},
                  until_ready=not attached)  # attached: until EOF, its exec
        if pid_file:
            _write_pid_file(pid_file, pid)
        for action in host.cleanup:  # success: the guard stands down, the cgroup stays for `delete`
            if getattr(action, "__name__", "") == "dismiss":
                action()
        state.child = child
        return state
    except BaseException:
        if pid:
            kernel.kill(pid, signal.SIGKILL)
        if child and not pid:
            kernel.kill(child, signal.SIGKILL)
            try:
                kernel.waitpid(child, 0)
            except ChildProcessError:
                pass
        _run_in_order(host.cleanup)
        state.remove()
        raise
    finally:
        if gate_fd >= 0:
            os.close(gate_fd)
        if ours is not None:
            ours.close()
        if holding is not None:  # (one fork: the pipe PID 1 watched until it reported)
            os.close(holding)
        os.close(lock)


def rootless_config(config):
    """An OCI config as a caller without root can have it (runc's rootless rules): the user namespace's maps
    written as an unprivileged process may (its own ids, setgroups denied) or by newuidmap/newgidmap (more),
    and no cgroup, which it could not create on a layout without delegation; limits are refused in one line."""
    if not config.unshares("user"):
        raise UsageError("config.json: without root the container needs a user namespace (moby-dick-oci spec --rootless)")
    from .cgroups import Limits

    if config.limits not in (None, Limits()):
        raise UsageError("without root, cgroup limits need a delegated cgroup v2 subtree; remove linux.resources' "
                         "limits or run as root")
    own = {(m.host_id, m.size) for m in config.uid_mappings} <= {(os.getuid(), 1)} and \
        {(m.host_id, m.size) for m in config.gid_mappings} <= {(os.getgid(), 1)}
    return config.replace(cgroup=False, resources=None, deny_setgroups=own, map_helper=not own)


class _Started:
    """What the runtime's side of the channel learns about a start (runner._converse fills it in)."""

    def __init__(self, child: int):
        self.pid, self.namespaces, self.value, self._child, self._status = 0, {}, None, child, None


def _pty_to(console_socket: str | None):
    """The runtime's handler for "pty": pass the master it carries on to the engine's console socket."""
    def on_pty(payload, fds):
        from .terminal import send_to_console_socket

        try:
            send_to_console_socket(console_socket, fds[0])
        finally:
            for fd in fds:
                os.close(fd)
    return on_pty


def _write_pid_file(path: str, pid: int) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        file.write(str(pid))
    os.rename(temporary, path)


def load(root: str, container_id: str) -> ContainerState:
    return ContainerState(root, container_id).load()


def start(root: str, container_id: str, timeout: float = 30.0) -> None:
    from .hooks import run_hooks

    state = load(root, container_id)
    status = state.status()
    if status != "created":
        raise MobyError(f'cannot start container "{container_id}": it is {status}, not created')
    from select import select

    gate = os.open(state.gate_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        deadline = time.monotonic() + timeout
        while True:  # PID 1's open(O_WRONLY) returns now that a reader exists; its "0" follows
            try:
                if os.read(gate, 1):
                    break
            except BlockingIOError:
                pass
            if not state.alive():
                raise MobyError(f'container "{container_id}" stopped before it could start')
            if time.monotonic() > deadline:
                raise MobyError(f'container "{container_id}" did not take the start gate in {timeout:.0f} s')
            select([gate], [], [], 0.05)  # until its byte comes (a FIFO nobody wrote to yet is not readable)
    finally:
        os.close(gate)
        try:
            os.unlink(state.gate_path)
        except FileNotFoundError:
            pass
    run_hooks(_hooks_of(state), "poststart", state_json(state, "running"), warn=_warn)


def _hooks_of(state: ContainerState) -> tuple:
    """The hooks of the container's bundle (none for a container `moby-dick run -d` made)."""
    config_path = state.data.get("config") or ""
    if not config_path or not os.path.exists(config_path):
        return ()
    try:
        config, _ = load_config(os.path.dirname(config_path))
    except UsageError:
        return ()
    return config.hooks


def _warn(message: str) -> None:
    from .oci_cli import log_warning

    log_warning(message)


SIGNALS = {name[3:]: number for name, number in vars(signal).items()
           if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(number, int)}


def parse_signal(text: str) -> int:
    """"9", "KILL", "SIGKILL", "kill" -> 9; UsageError otherwise."""
    word = text.strip().upper()
    if word.isdigit() and 0 < int(word) < 65:
        return int(word)
    word = word[3:] if word.startswith("SIG") else word
    if word in SIGNALS:
        return SIGNALS[word]
    raise UsageError(f'unknown signal "{text}"')


def kill(root: str, container_id: str, number: int, all_processes: bool = False) -> None:
    state = load(root, container_id)
    status = state.status()
    if all_processes:  # every process of the cgroup, whatever PID 1's status (runc's --all)
        pids = cgroup_pids(state)
    elif status in ("created", "running", "paused"):
        pids = [state.pid]
    else:  # runc's words: containerd's shim reads "container not running" as "already finished"
        raise MobyError(f'container not running: cannot kill container "{container_id}", it is {status}')
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def _cgroup_of(state: ContainerState):
    recorded = state.data.get("cgroup")
    if not recorded:
        return None
    from .cgroups import Cgroup, detect

    cgroup = Cgroup.existing(detect(), recorded["dirs"])
    cgroup.made = list(recorded.get("made", []))
    return cgroup


def cgroup_pids(state: ContainerState) -> list[int]:
    cgroup = _cgroup_of(state)
    return sorted(cgroup.pids()) if cgroup is not None else ([state.pid] if state.alive() else [])


def delete(root: str, container_id: str, force: bool = False, hooks: tuple | None = None) -> None:
    """``hooks``: the bundle's (`run` has them); None: read from its config.json again."""
    from .hooks import run_hooks

    container = ContainerState(root, container_id)
    try:
        state = container.load()
    except NotFound:
        if force:
            return
        raise
    lock = state.lock() if os.path.isdir(state.dir) else -1
    try:
        status = state.status()
        if status not in ("stopped", "creating") and not force:
            raise MobyError(f'cannot delete container "{container_id}" that is {status}: stop it or use --force')
        if state.alive():
            os.kill(state.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while state.alive() and time.monotonic() < deadline:
                time.sleep(0.002)
        cgroup = _cgroup_of(state)
        if cgroup is not None:
            cgroup.remove()  # kills what is left (--all semantics) and removes the directories
        run_hooks(_hooks_of(state) if hooks is None else hooks, "poststop", state_json(state, "stopped"), warn=_warn)
        state.remove()
    finally:
        if lock >= 0:
            os.close(lock)


def pause(root: str, container_id: str, frozen: bool = True) -> None:
    state = load(root, container_id)
    status = state.status()
    if frozen and status != "running" or not frozen and status != "paused":
        raise MobyError(f'cannot {"pause" if frozen else "resume"} container "{container_id}": it is {status}')
    cgroup = _cgroup_of(state)
    if cgroup is None:
        raise MobyError(f'container "{container_id}" has no cgroup to freeze')
    cgroup.freeze(frozen)
    state.save(paused=frozen)


def list_states(root: str) -> list[dict]:
    found = []
    for container_id in list_ids(root):
        try:
            found.append(load(root, container_id).public())
        except MobyError:
            continue
    return found


def update(root: str, container_id: str, resources: dict) -> None:
    from .cgroups import limit_files
    from .oci import limits_from_resources

    state = load(root, container_id)
    cgroup = _cgroup_of(state)
    if cgroup is None:
        raise MobyError(f'container "{container_id}" has no cgroup to update')
    limits = limits_from_resources(resources)
    if limits is None:
        return
    version = "v2" if "" in cgroup.dirs else "v1"
    for controller, files in limit_files(limits, version).items():
        directory = cgroup.dirs.get(controller) or cgroup.dirs.get("")
        if directory is None:
            raise MobyError(f'container "{container_id}" has no {controller} cgroup')
        names = list(files)
        if "memory.memsw.limit_in_bytes" in files:
            # v1 keeps memory <= memory+swap at every moment: lowering writes the memory limit first,
            # raising writes memsw first. Try one order, and the other if the kernel refuses it.
            names.remove("memory.memsw.limit_in_bytes")
            names.append("memory.memsw.limit_in_bytes")
            try:
                _write_all(cgroup, directory, files, names)
            except OSError:
                _write_all(cgroup, directory, files, list(reversed(names)))
            continue
        _write_all(cgroup, directory, files, names)


def _write_all(cgroup, directory: str, files: dict, names: list) -> None:
    for name in names:
        cgroup.kernel.write_file(os.path.join(directory, name), files[name])


def run(root: str, container_id: str, bundle: str, **options) -> int:
    """create + start + wait + delete; the exit status is the container's (128+N for a signal). Nothing
    comes between its create and its start, so PID 1 is attached: forked once, by this process, with
    no gate to wait at; the poststart hooks run once it exec'd, as after `start`."""
    from .hooks import run_hooks

    bundle, config = _bundle_config(bundle)  # once: the hooks below are this config's too
    state = create_from_config(root, container_id, config, bundle=bundle, attached=True, **options)
    try:
        run_hooks(config.hooks, "poststart", state_json(state, "running"), warn=_warn)
        _, status = os.waitpid(state.child, 0)
    finally:
        delete(root, container_id, force=True, hooks=config.hooks)
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def exec_process(root: str, container_id: str, process_doc: dict, *, detach: bool = False,
                 pid_file: str | None = None, console_socket: str | None = None, kernel=None, seccomp=None) -> int:
    """A new process in a running container: every namespace of PID 1 joined, its cgroup, the final
    phase. Attached: returns its exit status. Detached: returns 0 once it runs (its pid in pid_file)."""
    from .channel import Channel
    from .config import Config, Namespace
    from .namespaces import namespace_ids
    from .oci import _process
    from .plan import plan
    from .process import child_main
    from .runner import _converse, prepare_steps
    from .syscalls import KERNEL

    kernel = kernel or KERNEL
    state = load(root, container_id)
    status = state.status()
    if status != "running":
        raise MobyError(f'cannot exec in container "{container_id}": it is {status}, not running')
    process = _process(process_doc)
    if not process.args:
        raise UsageError("exec: no command given")
    if process.terminal and not console_socket:
        raise UsageError("exec with a terminal needs --console-socket")
    theirs_ns, ours_ns = namespace_ids(state.pid), namespace_ids("self")
    joins = tuple(Namespace(kind, f"/proc/{state.pid}/ns/{kind}") for kind in
                  ("cgroup", "ipc", "uts", "net", "pid", "mnt") if kind in theirs_ns and theirs_ns[kind] != ours_ns.get(kind))
    cgroup = _cgroup_of(state)
    if seccomp is None and state.data.get("config") and os.path.exists(state.data["config"]):
        seccomp = load_config(os.path.dirname(state.data["config"]))[0].seccomp  # the container's own filter
    config = Config(process=process, namespaces=joins, cgroup=False, seccomp=seccomp)
    the_plan = plan(config)
    from .pid import ForkIntoPidNamespace

    the_plan = the_plan.replace(child=tuple(ForkIntoPidNamespace(detach) if isinstance(s, ForkIntoPidNamespace) else s
                                            for s in the_plan.child), detached=detach)
    if cgroup is not None:
        from .cgroups import PlaceInCgroup

        from .plan import await_go_where_needed

        # the exec'd process waits for its placement, as PID 1 does
        the_plan = the_plan.replace(runtime=(PlaceInCgroup(cgroup),),
                                    init=tuple(await_go_where_needed(list(the_plan.init), True, False)))
    from .finalize import CheckExecutable
    init = list(the_plan.init)
    init.insert(len(init) - 1, CheckExecutable(process.args, process.env, process.cwd))
    the_plan = the_plan.replace(init=tuple(init))
    prepare_steps(the_plan, kernel)
    ours, theirs = Channel.pair()
    child = kernel.fork()
    if child == 0:
        ours.close()
        child_main(the_plan, kernel, theirs, os.getppid(), (None, None, None))
    theirs.close()

    started = _Started(child)

    def on_pid1(number):
        if detach:
            kernel.waitpid(child, 0)

    try:
        _converse(ours, the_plan, kernel, started, {"pid1": on_pid1, "pty": _pty_to(console_socket)},
                  until_ready=detach)
    except BaseException:
        if started.pid:
            kernel.kill(started.pid, signal.SIGKILL)
        if not detach:
            try:
                kernel.waitpid(child, 0)
            except ChildProcessError:
                pass
        raise
    finally:
        ours.close()
    if pid_file:
        _write_pid_file(pid_file, started.pid)
    if detach:
        return 0
    _, status = kernel.waitpid(child, 0)
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def default_root() -> str:
    return DEFAULT_ROOT
