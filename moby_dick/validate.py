"""Small check functions that return problems instead of raising. Pure except :func:`host_problems`.

runc's validators are the model: each check says *what* is wrong and how to fix it, and the first
problem becomes the one-line error the CLI prints (exit status 125). Nothing has been created when
these run, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os

from .errors import UsageError
from .mounts import PROPAGATIONS, tmpfs_path_problems
from .namespaces import KINDS
from .spec import SHAREABLE, ContainerSpec
from .uts import hostname_problems


def spec_problems(spec: ContainerSpec) -> list[str]:
    """Everything wrong with the spec itself. Pure."""
    problems: list[str] = []
    if not spec.argv:
        problems.append("no command given; try: moby-dick /bin/sh")
    elif spec.argv[0] in ("", b""):
        problems.append("the command is an empty string")
    elif any(("\0" if isinstance(a, str) else b"\0") in a for a in spec.argv):
        problems.append("an argument contains a NUL byte, which execve(2) cannot pass")
    if spec.hostname is not None:
        if "uts" in spec.share:
            problems.append("--hostname conflicts with --uts host (it would rename the host)")
        problems += hostname_problems(spec.hostname)
    for path in spec.tmpfs:
        problems += tmpfs_path_problems(path)
    unknown = sorted(set(spec.share) - set(SHAREABLE))
    if unknown:
        problems.append(f"cannot share namespace {unknown[0]!r} with the host; choose from {', '.join(SHAREABLE)}")
    if spec.propagation not in PROPAGATIONS:
        problems.append(f"unknown propagation {spec.propagation!r}; choose from {', '.join(PROPAGATIONS)}")
    return problems


def host_problems(spec: ContainerSpec, proc: str = "/proc", euid: int | None = None) -> list[str]:
    """What this machine lacks for the spec: root, namespace support, usable mount points."""
    problems: list[str] = []
    if (os.geteuid() if euid is None else euid) != 0:
        problems.append("moby-dick needs root to create namespaces (CAP_SYS_ADMIN); run it with sudo")
    for kind in ("mnt",) + tuple(k for k in SHAREABLE if k not in spec.share):
        if not os.path.exists(f"{proc}/self/ns/{kind}"):
            problems.append(f"this kernel has no {kind} namespaces ({KINDS[kind].man}); "
                            f"rebuild it with CONFIG_{kind.upper()}_NS or share it with --{kind} host")
    for path in spec.tmpfs_paths:
        if os.path.lexists(path):
            if not os.path.isdir(path):
                problems.append(f'tmpfs path "{path}" exists and is not a directory')
        elif not os.path.isdir(os.path.dirname(path)):
            problems.append(f'tmpfs path "{path}": its parent directory does not exist; create it first')
    return problems


def check(spec: ContainerSpec) -> None:
    """Raise :class:`UsageError` with the first problem, if any."""
    problems = spec_problems(spec) or host_problems(spec)
    if problems:
        raise UsageError(problems[0])
