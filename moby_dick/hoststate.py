"""A snapshot of what a container run must leave on the host as it found it, and the comparison.

Used by the test suite's leak fixture after every privileged test, and by ``tests/`` that kill
moby-dick with SIGKILL. What it reads: the host's mount table (``/proc/self/mountinfo``), its System
V IPC objects (``/proc/sysvipc/*``), its hostname, the caller's child processes
(``/proc/<pid>/stat``), and the seed's ``/mytmp`` (which may exist only if it did before, or while a
live moby-dick run holds it).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from . import probe
from .mounts import SEED_TMPFS
from .mountpoints import MountpointRegistry


@dataclass(frozen=True)
class HostState:
    mounts: frozenset
    sysvipc: tuple
    hostname: str
    children: frozenset
    mytmp: str  # "absent", "host" (the host's own directory) or "moby-dick" (created by a run)

    @classmethod
    def capture(cls) -> HostState:
        return cls(
            mounts=frozenset((m.mount_id, m.mount_point, m.fstype, m.source) for m in probe.mounts()),
            sysvipc=tuple(sorted((k, tuple(v)) for k, v in probe.sysvipc_snapshot().items())),
            hostname=probe.hostname(),
            children=frozenset(_children()),
            mytmp=_mytmp_owner(),
        )


def _children() -> list[int]:
    """This process's children, seen through its fork server (moby_dick.forkserver): the server lives
    as long as its caller, by design; what it forked on the caller's behalf counts as the caller's."""
    from . import forkserver

    server = forkserver.running()
    mine = probe.children_of(os.getpid())
    if server is None:
        return mine
    return [pid for pid in mine if pid != server] + probe.children_of(server)


def differences(before: HostState, after: HostState, registry: MountpointRegistry | None = None) -> list[str]:
    problems = []
    added = after.mounts - before.mounts
    removed = before.mounts - after.mounts
    if added:
        problems.append(f"mounts left on the host: {sorted(m[1] for m in added)}")
    if removed:
        problems.append(f"host mounts gone: {sorted(m[1] for m in removed)}")
    if after.sysvipc != before.sysvipc:
        problems.append(f"SysV IPC objects changed: {before.sysvipc} -> {after.sysvipc}")
    if after.hostname != before.hostname:
        problems.append(f"host hostname changed: {before.hostname!r} -> {after.hostname!r}")
    if after.children - before.children:
        problems.append(f"child processes left running: {sorted(after.children - before.children)}")
    registry = registry or MountpointRegistry()
    if after.mytmp != "absent" and before.mytmp != "host" and SEED_TMPFS not in registry.in_use():
        problems.append(f"{SEED_TMPFS} was created and left behind")
    if before.mytmp == "host" and after.mytmp != "host":
        problems.append(f"the host's own {SEED_TMPFS} was removed or taken over")
    left = leftover_cgroups()
    if left:
        problems.append(f"cgroups left behind: {left}")
    return problems


def leftover_cgroups() -> list[str]:
    """moby-dick cgroups beneath our own whose creator is this process or a dead one."""
    from .cgroups import PREFIX, detect

    try:
        layout = detect()
    except OSError:
        return []
    left = []
    for mount, path in set(layout.roots.values()):
        base = os.path.join(mount, path.lstrip("/"))
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            creator = name[len(PREFIX):].split("-")[0] if name.startswith(PREFIX) else ""
            if creator.isdigit() and (int(creator) == os.getpid() or not os.path.exists(f"/proc/{creator}")):
                left.append(os.path.join(base, name))
    return sorted(left)


def _mytmp_owner(registry: MountpointRegistry | None = None) -> str:
    return (registry or MountpointRegistry()).owner(SEED_TMPFS)


def wait_for_clean(before: HostState, settle: float = 3.0) -> list[str]:
    """Compare now with ``before``, retrying for ``settle`` seconds (guards release asynchronously)."""
    deadline = time.monotonic() + settle
    while True:
        problems = differences(before, HostState.capture())
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(0.05)
