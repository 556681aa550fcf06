"""Describe first, then do: turn a spec into the ordered list of steps the container's child runs.

Pure: no syscalls. Each step is a small object from an isolation module with ``apply(kernel)`` and
a ``str()`` that reads like the syscall it makes, so ``moby-dick --dry-run`` prints the plan and unit
tests check its order (bubblewrap's setup ops and youki's ordered namespace list are the model).

The order matters:
  1. ``unshare`` every namespace at once (the seed's clone flags);
  2. make ``/`` private *before* mounting anything, or the mounts propagate to the host;
  3. set the hostname (only in a new UTS namespace, never the host's);
  4. mount the tmpfs file systems.
"""

from __future__ import annotations

from .mounts import MakeRootPrivate, MountTmpfs
from .namespaces import UnshareNamespaces
from .spec import SHAREABLE, ContainerSpec
from .uts import SetHostname


def plan(spec: ContainerSpec) -> list:
    kinds = tuple(kind for kind in ("mnt",) + SHAREABLE if kind not in spec.share)
    steps: list = [UnshareNamespaces(kinds)]
    if spec.propagation != "unchanged":
        steps.append(MakeRootPrivate(spec.propagation))
    if spec.effective_hostname is not None:
        steps.append(SetHostname(spec.effective_hostname))
    steps += [MountTmpfs(path) for path in spec.tmpfs_paths]
    return steps


def describe(steps: list) -> str:
    return "\n".join(f"{number}. {step}" for number, step in enumerate(steps, 1))
