"""Remove one isolation from a plan: the mutation that shows a demo, a test or a lesson can fail.

"One control per claim and one mutation per isolation": ``tests/demos`` and ``tests/notebooks`` patch
:func:`moby_dick.runner.plan` with :func:`plan_without` and expect the matching claim to fail.
"""

from __future__ import annotations

KINDS = ("uts", "ipc", "net", "mnt", "pid", "user", "propagation", "cgroup", "pivot_root", "init", "gate", "security",
         "bridge", "fds")
SECURITY_STEPS = ("DropBoundingSet", "KeepCapabilities", "SetCapabilities", "NoNewPrivileges", "InstallSeccomp",
                  "MaskPaths", "ReadOnlyPaths")


def without(the_plan, kind: str):
    """A copy of ``the_plan`` in which ``kind`` is not isolated (a namespace kind, "propagation",
    "cgroup", "pivot_root", "init", "gate": the OCI start gate, "security": capabilities, no_new_privs,
    seccomp and the masked paths, "bridge": the veth, the address and the published ports, or "fds": the
    descriptor hygiene, the child's close_range and the close-on-exec marking)."""
    from ..cgroups import JoinCgroup, PlaceInCgroup
    from ..mounts import MakeRootPrivate
    from ..namespaces import UnshareNamespaces
    from ..pid import ForkChildIntoPidNamespace, ForkIntoPidNamespace, ReportPid
    from ..rootfs import ChrootOnly, PivotRoot

    def change(step):
        if isinstance(step, UnshareNamespaces):
            return UnshareNamespaces(tuple(k for k in step.kinds if k != kind))
        if kind == "propagation" and isinstance(step, MakeRootPrivate):
            return None
        if kind == "pid" and isinstance(step, ForkChildIntoPidNamespace):
            return None  # a plain fork: the child (which sends "pid1" anyway) is the container
        if kind == "pid" and isinstance(step, ForkIntoPidNamespace):
            return ReportPid()  # no PID 1 of its own: the child itself is the container
        if kind == "cgroup" and isinstance(step, (PlaceInCgroup, JoinCgroup)):
            return None
        if kind == "pivot_root" and isinstance(step, PivotRoot):
            return ChrootOnly(step.new_root)
        if kind == "gate" and type(step).__name__ == "AwaitStart":
            return None
        if kind == "security" and type(step).__name__ in SECURITY_STEPS:
            return None
        if kind == "fds" and type(step).__name__ == "MarkDescriptorsCloseOnExec":
            return None
        if kind == "bridge" and type(step).__name__ in ("ConnectToBridge", "PublishPorts"):
            return None
        if kind == "user" and type(step).__name__ == "RequestIdMaps":
            return None  # no user namespace: nothing to map
        return step

    if kind not in KINDS:
        raise ValueError(f"unknown isolation {kind!r}; choose from {', '.join(KINDS)}")
    changed = the_plan.map(change)
    if kind == "user":
        changed = changed.replace(on_map_ids=())
    if kind == "fds":  # the child keeps every descriptor below 1024, as if all were to be preserved
        changed = changed.replace(preserve_fds=1024 - 3)
    if kind == "init":  # moby-dick's init never starts: the command is PID 1 itself
        config = changed.config
        changed = changed.replace(config=config.replace(process=config.process.replace(init=False)))
    return changed


def plan_without(kind: str, real_plan=None):
    """A drop-in for :func:`moby_dick.plan.plan` that removes ``kind`` from every plan it makes."""
    if real_plan is None:
        from ..plan import plan as real_plan

    def broken_plan(*args, **kwargs):
        return without(real_plan(*args, **kwargs), kind)

    return broken_plan
