"""What the user asked for, as plain data. Pure: no syscalls, no I/O.

The CLI turns argv into a :class:`ContainerSpec`; the Python API builds one directly. Everything
after this (validation, planning, running) takes a spec, so the CLI and the API cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .mounts import SEED_TMPFS, normalize
from .uts import DEFAULT_HOSTNAME

# Namespaces the user may share with the host (docker's --uts/--ipc/--network host).
SHAREABLE = ("uts", "ipc", "net")


@dataclass(frozen=True)
class ContainerSpec:
    argv: tuple  # the command and its arguments (str or bytes)
    hostname: str | None = None  # None: DEFAULT_HOSTNAME when UTS is private
    tmpfs: tuple[str, ...] = ()  # extra tmpfs mount points, absolute paths
    seed_tmpfs: bool = True  # the seed's tmpfs on /mytmp
    share: frozenset = field(default_factory=frozenset)  # kinds from SHAREABLE shared with the host
    propagation: str = "private"  # see moby_dick.mounts.PROPAGATIONS

    def __post_init__(self):
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "tmpfs", tuple(self.tmpfs))
        object.__setattr__(self, "share", frozenset(self.share))

    @property
    def effective_hostname(self) -> str | None:
        """The hostname the container will get, or None when it keeps the host's (``--uts host``)."""
        if "uts" in self.share:
            return None
        return self.hostname if self.hostname is not None else DEFAULT_HOSTNAME

    @property
    def tmpfs_paths(self) -> tuple[str, ...]:
        """Every tmpfs mount point, normalized, without duplicates, in the order given."""
        paths = ([SEED_TMPFS] if self.seed_tmpfs else []) + [normalize(p) for p in self.tmpfs]
        return tuple(dict.fromkeys(paths))
