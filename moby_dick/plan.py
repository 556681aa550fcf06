"""Describe first, then do: turn a :class:`~moby_dick.config.Config` into the whole plan of a start.

Pure: no syscalls (the cgroup layout, read from /proc, is passed in). Each step is a small object from
an isolation module with ``apply(kernel)`` and a ``str()`` that reads like the syscall it makes, so
``moby-dick --dry-run`` prints the plan and unit tests check its order (bubblewrap's setup ops and
youki's ordered namespace list are the model). Steps that talk over the channel
(:mod:`moby_dick.channel`) are steps too, so every round trip shows in the plan.

The plan has five phases, one per process that runs them (runc: PARENT, CHILD, INIT; youki: main,
intermediate, init):

  host     moby-dick, before the fork: the cgroup (named now, created here), mount-point directories
  child    the first child: unshare every namespace at once; fork PID 1 (unsharing the PID namespace
           only places the *next child* in it); the waiter left outside sends "pid1 N"
  runtime  moby-dick, on "pid1 N": on cgroup v2 or with a user namespace, write N to the cgroup's
           cgroup.procs (before any of the container's code runs, and before a user namespace could take
           the right to); connect eth0; then send "go" (only if it had work)
  init     PID 1: on cgroup v1 (no user namespace) join its cgroup itself, first; await "go" as late
           as is safe (its mounts run meanwhile); its own cgroup namespace (after joining, so its cgroup
           is its root); make ``/`` private *before* mounting anything (or the mounts propagate to the host); the hostname
           (only in a new UTS namespace); the new root and every mount of the list, each path resolved
           inside the root; ``pivot_root``; send "ready <namespace ids>"
  final    the command's process (PID 1, or PID 2 under --init), in runc's order: mark every
           descriptor above stdio close-on-exec, chdir, identity (setgroups, setresgid, setresuid),
           then execve; the channel closes with the exec and moby-dick reads EOF: the command runs.
"""

from __future__ import annotations

import os

from .config import Config
from .mounts import MakeRootPrivate, MountFilesystem, parse_options
from .namespaces import JoinNamespaces, UnshareNamespaces
from .pid import AwaitGo, ForkChildIntoPidNamespace, ForkIntoPidNamespace, ReportPid, ReportReady
from .records import Record
from .uts import SetHostname

PHASES = ("host", "child", "runtime", "init", "final")
_TITLES = {"host": "host (moby-dick, before the fork)", "child": "child (moby-dick:child, after fork)",
           "runtime": 'runtime (moby-dick, on "pid1 N")', "init": "init (PID 1 of the container)",
           "final": "final (the command's process)"}


class Plan(Record):
    """The steps of every phase, and the cgroup (named, not yet made) or None."""

    __slots__ = PHASES + ("cgroup", "config", "detached", "preserve_fds", "keep_fds", "on_map_ids", "network")
    DEFAULTS = {"cgroup": None, "detached": False, "preserve_fds": 0, "keep_fds": (), "on_map_ids": (),
                "network": None}

    def map(self, change) -> Plan:
        """A copy with ``change(step)`` for every step: a step, or None to leave it out (tests use this
        to remove one isolation and show that its demo fails)."""
        phases = {}
        for phase in PHASES:
            changed = (change(step) for step in getattr(self, phase))
            phases[phase] = tuple(step for step in changed if step is not None)
        return self.replace(**phases)

    @property
    def fork_step(self):
        """The host step the runtime's fork applies (pid.ForkChildIntoPidNamespace), or None: a plain fork."""
        return next((step for step in self.host if getattr(step, "forks", False)), None)

    @property
    def awaits_go(self) -> bool:
        """PID 1 waits for the runtime's "go" (see :func:`await_go_where_needed`)."""
        return any(isinstance(step, AwaitGo) for step in self.init)

    def steps(self) -> tuple:
        return sum((getattr(self, phase) for phase in PHASES), ()) + self.on_map_ids

    def to_send(self) -> Plan:
        """What the fork server needs of this plan, prepared (:func:`moby_dick.runner.prepare_steps`): the
        seccomp profile stays here, its program goes (``InstallSeccomp.without_profile``)."""
        if self.config.seccomp is None:
            return self
        sent = self.map(lambda step: step.without_profile() if hasattr(step, "without_profile") else step)
        return sent.replace(config=self.config.replace(seccomp=None))


def plan(config, layout=None, *, gate_fd: int | None = None, preserve_fds: int = 0) -> Plan:
    """``config``: a Config, or a ContainerSpec (turned into one). ``layout``: the cgroup layout
    (:func:`moby_dick.cgroups.detect`), needed only when the container gets a cgroup. ``gate_fd``
    (``moby-dick-oci create``): the start gate's descriptor; the container is then detached: the
    waiter exits once PID 1 exists, and PID 1 waits at the gate in front of ``execve``."""
    if not isinstance(config, Config):
        from .config import from_spec

        config = from_spec(config)
    cgroup = joins_cgroup = None
    after_go: list = []  # PID 1's steps right after "go" (its devices cgroup, once the runtime made it)
    waiter = False
    host, runtime = [], []
    if config.cgroup:
        from .cgroups import Cgroup, CreateCgroup, JoinCgroup, Limits, PlaceInCgroup

        if layout is None:
            from .cgroups import detect

            layout = detect()
        files = {}
        if config.resources is not None:  # OCI linux.resources, or the device rules of a --rootfs container
            from .resources import resource_files

            files = resource_files(config.resources, config.devices, "v2" if layout.version == "v2" else "v1")
        if config.cgroup_path:  # an OCI container: a cgroup in every hierarchy, as runc makes
            parent, name = os.path.split(config.cgroup_path.rstrip("/"))
            cgroup = Cgroup(layout, config.limits or Limits(), parent or None, name or None,
                            make_parents=True, every_controller=True, files=files)
        else:
            cgroup = Cgroup(layout, config.limits or Limits(), config.cgroup_parent, files=files)
        joins_itself = _joins_itself(config, layout)
        # v1's device rules are written while PID 1 starts (CreateDeviceCgroup), not before the fork
        later = ("devices",) if joins_itself and "devices" in cgroup.dirs and files.get("devices") else ()
        host.append(CreateCgroup(cgroup, later))
        if layout.version == "v2" and config.resources is not None and config.resources.get("devices"):
            from .devices_bpf import AttachDeviceFilter  # v2 has no devices.allow: a BPF program decides
            from .resources import device_rules

            host.append(AttachDeviceFilter(cgroup, tuple(device_rules(config.resources["devices"], config.devices))))
        if joins_itself:
            joins_cgroup = JoinCgroup(cgroup, tuple(c for c in cgroup.dirs if c not in later) if later else None)
            if later:
                from .cgroups import CreateDeviceCgroup

                runtime.append(CreateDeviceCgroup(cgroup))
                after_go.append(JoinCgroup(cgroup, later))
        else:
            runtime.append(PlaceInCgroup(cgroup))
    if config.network is not None:  # after the cgroup: PID 1 is counted before anything else is made for it
        from .network import ConnectToBridge

        bridge = ConnectToBridge(config.network)
        runtime.append(bridge)
        if config.network.publish:  # bound first: a port in use fails the start before anything is made
            from .ports import BindPorts, Listeners, PublishPorts

            listeners = Listeners()
            host.append(BindPorts(config.network.publish, listeners))
            runtime.append(PublishPorts(config.network.publish, bridge.lease, listeners))
    if config.tmpfs_on_host:
        from .mountpoints import ClaimMountpoint

        host += [ClaimMountpoint(path) for path in config.tmpfs_on_host]
    detached = gate_fd is not None
    joins = tuple((n.kind, n.path) for n in config.namespaces if n.path is not None)
    kinds = tuple(n.kind for n in config.namespaces if n.path is None and n.kind not in ("cgroup", "user"))
    child: list = [JoinNamespaces(joins)] if joins else []
    on_map_ids = ()
    if config.unshares("user"):  # first, alone: the namespaces unshared after it belong to it
        from .userns import RequestIdMaps, WriteIdMaps

        child += [UnshareNamespaces(("user",)), RequestIdMaps()]
        on_map_ids = (WriteIdMaps(config.uid_mappings, config.gid_mappings, config.deny_setgroups, config.map_helper),)
    if "pid" in kinds and not detached and not config.unshares("user"):
        # one fork per container: the runtime's own fork makes PID 1 (see ForkChildIntoPidNamespace)
        host.append(ForkChildIntoPidNamespace())
        kinds = tuple(kind for kind in kinds if kind != "pid")
        child += [UnshareNamespaces(kinds), ReportPid()]
    else:
        child.append(UnshareNamespaces(kinds))
        forks = "pid" in kinds or any(kind == "pid" for kind, _ in joins)
        child.append(ForkIntoPidNamespace(detached) if forks else ReportPid())
        # PID 1's pid then comes from the waiter, another process: only "go" keeps PID 1's own messages
        # ("ready", "hooks") behind that "pid1 N" on the channel
        waiter = forks
    init: list = [joins_cgroup] if joins_cgroup is not None else []
    if config.propagation != "unchanged" and config.namespace("mnt") is not None:
        # never shared at first: the container's mounts would reach the host (see mounts.py)
        init.append(MakeRootPrivate("slave" if config.propagation == "slave" else "private"))
    if config.hostname is not None and config.namespace("uts") is not None:
        init.append(SetHostname(config.hostname))
    if config.domainname is not None:
        from .uts import SetDomainname

        init.append(SetDomainname(config.domainname))
    init += _root_steps(config, cgroup) if config.root else _mount_steps(config.mounts, None, cgroup)
    if config.process.terminal:
        from .terminal import OpenTerminal

        init.append(OpenTerminal(config.process.console_size))
    if detached and config.process.args:
        from .finalize import CheckExecutable

        init.append(CheckExecutable(config.process.args, config.process.env, config.process.cwd))
    init.append(ReportReady())
    init = await_go_where_needed(init, bool(runtime) or waiter, config.unshares("cgroup"), after_go)
    final = _final_steps(config, gate_fd, preserve_fds)
    return Plan(tuple(host), tuple(child), tuple(runtime), tuple(init), final, cgroup, config, detached,
                preserve_fds, () if gate_fd is None else (gate_fd,), on_map_ids, config.network)


def _joins_itself(config: Config, layout) -> bool:
    """PID 1 moves itself into its v1 cgroup (``tasks``, no RCU wait: see cgroups.JoinCgroup) when it
    can: not on v2, not in a user namespace (the host's cgroup files are not its to write), not in a
    joined mount namespace (the host's /sys/fs/cgroup is not there to write to)."""
    return (layout.version != "v2" and config.namespace("user") is None
            and not any(n.kind == "mnt" and n.path is not None for n in config.namespaces))


# The first init steps that need the runtime's phase done: its own cgroup namespace and cgroupfs (PID 1
# must be in its cgroup first), the hooks (they look at the container's cgroup), sysctls (eth0 must
# exist), and "ready" (nothing of the container's own runs before it is counted and connected).
_NEED_GO = ("MountCgroupFs", "RuntimeHooks", "ContainerHooks", "SetSysctls", "ReportReady")


_CHANGES_ROOT = ("PivotRoot", "ChrootOnly")


def await_go_where_needed(init: list, runtime: bool, cgroup_namespace: bool, after_go=()) -> list:
    """Await "go" as late as is safe, so PID 1's own setup (mounts, /dev, the root) runs while the
    runtime places it in its cgroup (on v2 or with a user namespace: a cgroup.procs write may wait for
    an RCU grace period, milliseconds), makes its v1 devices cgroup and connects its network; not at all
    when the runtime has nothing to do and PID 1's pid is no other process's to report. ``after_go``
    (joining the devices cgroup) and its own cgroup namespace come right after "go", so that its cgroup
    is the namespace's root. Already awaiting: ``init`` as it is."""
    awaiting = next((index for index, step in enumerate(init) if isinstance(step, AwaitGo)), None)
    if awaiting is not None:
        return init[:awaiting + 1] + list(after_go) + init[awaiting + 1:]
    at = next(index for index, step in enumerate(init) if type(step).__name__ in _NEED_GO)
    if after_go:  # they write the host's cgroup files: before the root is changed, at the latest
        at = min([at] + [index for index, step in enumerate(init) if type(step).__name__ in _CHANGES_ROOT])
    after = list(after_go) + ([UnshareNamespaces(("cgroup",))] if cgroup_namespace else [])
    return init[:at] + ([AwaitGo()] if runtime else []) + after + init[at:]


def _root_steps(config: Config, cgroup) -> list:
    from .rootfs import BindRoot, ChrootOnly, InRoot, MakeDirectory, OverlayRoot, PivotRoot, ReadOnlyRoot, new_root_of

    root = config.root
    new_root = new_root_of(root.path, not root.copy_on_write)
    steps = [OverlayRoot(root.path) if root.copy_on_write else BindRoot(root.path)]
    steps += _mount_steps(config.mounts, new_root, cgroup)
    destinations = {m.destination.rstrip("/") for m in config.mounts}
    if "/dev" in destinations and not any(m.type == "dev" for m in config.mounts):  # an OCI /dev: add the defaults
        from .rootfs import DefaultDevices

        bound_dev = any(m.destination.rstrip("/") == "/dev" and m.type == "bind" for m in config.mounts)
        if not bound_dev:
            skip = destinations | {d.path for d in config.devices}
            steps.append(DefaultDevices(InRoot(new_root, "/dev"), tuple(sorted(skip))))
    if config.devices:
        from .rootfs import CreateDevices

        steps.append(CreateDevices(new_root, config.devices, config.unshares("user")))
    if config.process.cwd and config.process.function is None:
        steps.append(MakeDirectory(InRoot(new_root, config.process.cwd)))  # docker creates a missing -w
    if any(h.when in ("prestart", "createRuntime") for h in config.hooks):
        from .hooks import RuntimeHooks

        steps.append(RuntimeHooks())
    if any(h.when == "createContainer" for h in config.hooks):
        from .hooks import ContainerHooks

        steps.append(ContainerHooks(config.hooks, "createContainer"))
    # without a mount namespace of its own there is nothing to pivot: chroot, as runc does
    pivot = root.jail == "pivot" and config.namespace("mnt") is not None
    steps.append(PivotRoot(new_root) if pivot else ChrootOnly(new_root))
    if config.sysctl:
        from .masks import SetSysctls

        steps.append(SetSysctls(config.sysctl))
    if config.masked_paths:
        from .masks import MaskPaths

        steps.append(MaskPaths(config.masked_paths))
    if config.readonly_paths:
        from .masks import ReadOnlyPaths

        steps.append(ReadOnlyPaths(config.readonly_paths))
    if root.readonly:
        steps.append(ReadOnlyRoot())
    if config.propagation in ("slave", "shared", "unbindable") and config.namespace("mnt") is not None:
        steps.append(MakeRootPrivate(config.propagation))  # the rootfs propagation the config asked for
    return steps


def _mount_steps(mounts, new_root, cgroup) -> list:
    """One step per entry of the mount list; inside a root, every target is resolved inside it. (The
    rootfs module only when a root, /dev or a bind needs it: the seed's form mounts /proc and tmpfs.)"""
    steps = []
    for mount in mounts:
        target = mount.destination
        if new_root is not None:
            from .rootfs import InRoot

            target = InRoot(new_root, mount.destination)
        if mount.type == "dev":
            from .rootfs import MountDev

            steps.append(MountDev(target))
        elif mount.type == "bind" or "bind" in mount.options or "rbind" in mount.options:
            from .rootfs import BindVolume

            steps.append(BindVolume(mount.source, target, mount.read_only))
        elif mount.type == "cgroup":
            if cgroup is not None:
                from .cgroups import MountCgroupFs, cgroupfs_mounts

                steps.append(MountCgroupFs(target, cgroupfs_mounts(cgroup.layout, set(cgroup.dirs))))
        else:
            flags, _, data = parse_options(mount.options)
            steps.append(MountFilesystem(target, mount.source or mount.type, mount.type, flags, data))
    return steps


def _final_steps(config: Config, gate_fd=None, preserve_fds: int = 0) -> tuple:
    from .finalize import (AwaitStart, CallFunction, ChangeDirectory, Exec, MarkDescriptorsCloseOnExec,
                           SetIdentity, SetRlimits, SetUmask)

    process = config.process
    if process.function is not None:
        return (CallFunction(process.function),)
    steps = [MarkDescriptorsCloseOnExec(3 + preserve_fds)]
    if gate_fd is not None:
        steps.append(AwaitStart(gate_fd))
    if any(h.when == "startContainer" for h in config.hooks):
        from .hooks import ContainerHooks

        steps.append(ContainerHooks(config.hooks, "startContainer"))
    if process.cwd:
        steps.append(ChangeDirectory(process.cwd))
    if process.oom_score_adj is not None:
        from .finalize import SetOomScoreAdj

        steps.append(SetOomScoreAdj(process.oom_score_adj))
    if process.rlimits:
        steps.append(SetRlimits(process.rlimits))
    if process.user is not None and process.user.umask is not None:
        steps.append(SetUmask(process.user.umask))
    caps = process.capabilities
    if caps is not None:
        from .capabilities import DropBoundingSet, KeepCapabilities

        steps += [DropBoundingSet.keeping(caps.bounding), KeepCapabilities()]
    if process.user is not None:
        # with setgroups "deny" (a map of one's own gid) setgroups(2) fails: leave the (empty) list as it is
        keep_groups = config.deny_setgroups and not process.user.additional_gids
        steps.append(SetIdentity(process.user, set_groups=not keep_groups))
    if caps is not None:
        from .capabilities import SetCapabilities

        steps.append(SetCapabilities.of(caps))
    if process.no_new_privs:
        from .finalize import NoNewPrivileges

        steps.append(NoNewPrivileges())
    if config.seccomp is not None:
        from .seccomp import InstallSeccomp

        effective = tuple(caps.effective) if caps is not None else ()
        step = InstallSeccomp(config.seccomp, effective)
        # last before execve: it may forbid what the steps before it do; without no_new_privs the kernel
        # asks CAP_SYS_ADMIN for it, so then it goes first, while the process still has every capability
        steps.insert(len(steps) if process.no_new_privs else 1, step)
    steps.append(Exec(process.args, process.env))
    return tuple(steps)


def describe(the_plan: Plan) -> str:
    """Every phase, its steps numbered in the order they run."""
    lines, number = [], 0
    for phase in PHASES:
        steps = getattr(the_plan, phase)
        if not steps:
            continue
        title = _TITLES[phase]
        if phase == "child" and the_plan.fork_step is not None:  # one fork: the child is PID 1 itself
            title = "child (PID 1 of the container, right after the fork)"
        lines.append(f"{title}:")
        for step in steps:
            number += 1
            lines.append(f"{number:3}. {step}")
            if type(step).__name__ == "RequestIdMaps":
                for answer in the_plan.on_map_ids:
                    number += 1
                    lines.append(f"{number:3}.   runtime, on \"map-ids\": {answer}")
    if the_plan.config is not None and the_plan.config.process.init:
        lines.append("    (with --init, PID 1 is moby-dick's init and the final phase runs in PID 2)")
    return "\n".join(lines)
