"""What the user asked for, as plain data. Pure: no syscalls, no I/O.

The CLI turns argv into a :class:`ContainerSpec`; the Python API builds one directly. Everything
after this (validation, planning, running) takes a spec, so the CLI and the API cannot drift apart.
"""

from __future__ import annotations

from .mounts import SEED_TMPFS, normalize
from .records import Record
from .uts import DEFAULT_HOSTNAME

# Namespaces the user may share with the host (docker's --uts/--ipc/--network host).
SHAREABLE = ("uts", "ipc", "net")


class ContainerSpec(Record):
    """argv: the command and its arguments (str or bytes); hostname: None means DEFAULT_HOSTNAME when
    UTS is private; tmpfs: extra tmpfs mount points (absolute); seed_tmpfs: the seed's tmpfs on
    /mytmp; share: kinds from SHAREABLE shared with the host; propagation: see mounts.PROPAGATIONS."""

    __slots__ = ("argv", "hostname", "tmpfs", "seed_tmpfs", "share", "propagation")
    DEFAULTS = {"hostname": None, "tmpfs": (), "seed_tmpfs": True, "share": frozenset(), "propagation": "private"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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
