"""Describe first, then do: turn a spec into the ordered list of steps the container's child runs.

Pure: no syscalls. Each step is a small object from an isolation module with ``apply(kernel)`` and
a ``str()`` that reads like the syscall it makes, so ``moby-dick --dry-run`` prints the plan and unit
tests check its order (bubblewrap's setup ops and youki's ordered namespace list are the model).

The order matters:
  1. ``unshare`` every namespace at once (the seed's clone flags, plus PID);
  2. ``fork``: unsharing the PID namespace only places the *next child* in it; that child is PID 1
     and makes every later step (a proc mount shows the PID namespace of whoever mounts it);
     with limits, PID 1 first joins the container's cgroup, then unshares the cgroup namespace;
  3. make ``/`` private *before* mounting anything, or the mounts propagate to the host;
  4. set the hostname (only in a new UTS namespace, never the host's);
  5. build the new root and mount /proc, /dev, /sys, /tmp, volumes and tmpfs inside it;
  6. ``pivot_root`` into it and detach the old root; then, if asked, make it read-only.
"""

from __future__ import annotations

from .cgroups import JoinCgroup
from .mounts import MakeRootPrivate, MountTmpfs
from .namespaces import UnshareNamespaces
from .pid import ForkIntoPidNamespace, MountProc
from .process import DEFAULT_PATH, Command
from .spec import SHAREABLE, ContainerSpec
from .uts import SetHostname


def plan(spec: ContainerSpec, cgroup_procs: tuple = (), cgroup_mounts: tuple = ()) -> list:
    """``cgroup_procs``: the ``cgroup.procs`` files of the container's cgroup, when it has one. PID 1
    joins it first thing, before any of the container's own code runs, so that the limits count the
    container's processes and nothing else (not the waiter left outside the PID namespace).
    ``cgroup_mounts``: the hierarchies to show read-only at the jail's /sys/fs/cgroup
    (:func:`moby_dick.cgroups.cgroupfs_mounts`)."""
    kinds = tuple(kind for kind in ("mnt",) + SHAREABLE if kind not in spec.share)
    steps: list = [UnshareNamespaces(kinds)]
    if "pid" in kinds:
        steps.append(ForkIntoPidNamespace())
    if cgroup_procs:
        steps.append(JoinCgroup(cgroup_procs))
        if spec.private_cgroupns:  # unshared after joining: the container's cgroup becomes its root
            steps.append(UnshareNamespaces(("cgroup",)))
    if spec.propagation != "unchanged":
        steps.append(MakeRootPrivate(spec.propagation))
    if spec.effective_hostname is not None:
        steps.append(SetHostname(spec.effective_hostname))
    if spec.rootfs:
        steps += _jail_steps(spec, cgroup_mounts if cgroup_procs and spec.private_cgroupns else ())
    else:
        # A fresh /proc for the new PID namespace; not in the seed's mode, where / may be shared and
        # the mount would land on the host's /proc.
        if "pid" in kinds and spec.propagation != "unchanged":
            steps.append(MountProc("/proc"))
        steps += [MountTmpfs(path) for path in spec.tmpfs_paths]
    return steps


def _jail_steps(spec: ContainerSpec, cgroup_mounts: tuple = ()) -> list:
    from .rootfs import (BindRoot, BindVolume, ChrootOnly, MountDev, MountSys, OverlayRoot, PivotRoot,
                         ReadOnlyRoot, inside, new_root_of, parse_volume)

    root = new_root_of(spec.rootfs, spec.read_only)
    steps = [BindRoot(spec.rootfs) if spec.read_only else OverlayRoot(spec.rootfs),
             MountProc(inside(root, "/proc")), MountDev(inside(root, "/dev")), MountSys(inside(root, "/sys")),
             MountTmpfs(inside(root, "/tmp"))]
    if cgroup_mounts:
        from .cgroups import MountCgroupFs

        steps.append(MountCgroupFs(inside(root, "/sys/fs/cgroup"), cgroup_mounts))
    for volume in spec.volumes:
        source, target, read_only = parse_volume(volume)
        steps.append(BindVolume(source, inside(root, target), read_only))
    steps += [MountTmpfs(inside(root, path)) for path in spec.tmpfs_paths]
    steps.append(PivotRoot(root) if spec.jail == "pivot" else ChrootOnly(root))
    if spec.read_only:
        steps.append(ReadOnlyRoot())
    return steps


def command(spec: ContainerSpec, environ=None) -> Command:
    """What runs after the steps. Without a rootfs the command inherits moby-dick's environment (as
    the seed's execvp did); in a rootfs it gets a clean one, as docker gives. ``-e`` adds to either."""
    env = None
    if spec.rootfs or spec.env:
        if spec.rootfs:
            env = {"PATH": DEFAULT_PATH, "HOME": "/root", "HOSTNAME": spec.effective_hostname or ""}
            if environ and "TERM" in environ:
                env["TERM"] = environ["TERM"]
        else:
            env = dict(environ or {})
        for item in spec.env:
            key, _, value = item.partition("=")
            env[key] = value
    uid = gid = None
    if spec.user is not None:
        uid_text, _, gid_text = spec.user.partition(":")
        uid = int(uid_text)
        gid = int(gid_text) if gid_text else uid
    return Command(list(spec.argv), env, spec.workdir, uid, gid, spec.init, spec.function)


def describe(steps: list) -> str:
    return "\n".join(f"{number}. {step}" for number, step in enumerate(steps, 1))
