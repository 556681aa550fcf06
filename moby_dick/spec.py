"""What the user asked for, as plain data. Pure: no syscalls, no I/O.

The CLI turns argv into a :class:`ContainerSpec`; the Python API builds one directly. Everything
after this (validation, planning, running) takes a spec, so the CLI and the API cannot drift apart.
"""

from __future__ import annotations

import os

from .mounts import SEED_TMPFS, TMPFS_DEFAULTS, normalize, split_tmpfs
from .records import Record
from .uts import DEFAULT_HOSTNAME

# Namespaces the user may share with the host (docker's --uts/--ipc/--network/--pid host).
SHAREABLE = ("uts", "ipc", "net", "pid")


class ContainerSpec(Record):
    """What to run and how to isolate it.

    argv: the command and its arguments (str or bytes); hostname: None means DEFAULT_HOSTNAME when UTS
    is private; tmpfs: extra tmpfs mounts, "PATH[:OPTIONS]" as docker's --tmpfs; seed_tmpfs: the seed's tmpfs on /mytmp
    (without a rootfs only); share: kinds from SHAREABLE shared with the host; propagation: see
    mounts.PROPAGATIONS; init: moby-dick's init as PID 1; rootfs: a directory or tarball to pivot_root
    into; read_only: no copy-on-write layer, a read-only root; volumes: "HOST:CONTAINER[:ro]" texts;
    workdir: the command's directory; env: "KEY=VALUE" texts, or "KEY" for the caller's value; user:
    "USER[:GROUP]", names looked up in the rootfs's /etc/passwd and /etc/group (moby_dick/users.py); jail: "pivot" (the
    real one) or "chroot" (the escapable negative control); function: a Python callable run inside
    instead of argv (its result comes back in Result.value); cache_dir: where tarballs are unpacked;
    limits: cgroups.Limits or None; cgroup_parent: a cgroup path to create the container's cgroup under
    (default: moby-dick's own); accounting: a cgroup even without limits, for Result.stats; cgroupns:
    "private" or "host" (None: private with a rootfs, host without). With a rootfs the container is not
    the host's root (moby_dick/security.py): cap_add, cap_drop (names, "ALL"), privileged (docker's
    --privileged), security_opt ("no-new-privileges=false", "seccomp=unconfined|PATH") adjust that;
    devices: "HOST[:CONTAINER[:rwm]]" texts (docker's --device); sysctls: "KEY=VALUE" texts, namespaced keys only;
    userns: "host" (the caller's ids, docker's default for root) or "private" (root inside is moby-dick's
    unprivileged subordinate range outside, see moby_dick/userns.py) or "rootless" (what "host" becomes for a
    caller who is not root: a user namespace of its own, the caller's uid as root inside); tty: a pty of the container's own
    as its stdio (docker's -t; its master comes back as Container.terminal); console_size: (rows, columns);
    network: "none" (only lo, DOWN: the seed's), "bridge" (eth0 on moby-dick0, moby_dick/network.py), "host",
    "container:NAME|ID|PID" or "ns:PATH" (join that network namespace); publish: "[IP:]HOST:CONTAINER[/udp]"
    texts (with bridge, moby_dick/ports.py); subnet: the bridge's, "A.B.C.D/N" (None: network.DEFAULT_SUBNET).
    """

    __slots__ = ("argv", "hostname", "tmpfs", "seed_tmpfs", "share", "propagation", "init", "rootfs",
                 "read_only", "volumes", "workdir", "env", "user", "jail", "function", "cache_dir",
                 "limits", "cgroup_parent", "accounting", "cgroupns", "cap_add", "cap_drop", "privileged",
                 "security_opt", "devices", "sysctls", "userns", "tty", "console_size", "network", "publish", "subnet")
    DEFAULTS = {"hostname": None, "tmpfs": (), "seed_tmpfs": True, "share": frozenset(), "propagation": "private",
                "init": False, "rootfs": None, "read_only": False, "volumes": (), "workdir": None, "env": (),
                "user": None, "jail": "pivot", "function": None, "cache_dir": "/var/cache/moby-dick/rootfs",
                "limits": None, "cgroup_parent": None, "accounting": False, "cgroupns": None, "cap_add": (),
                "cap_drop": (), "privileged": False, "security_opt": (), "devices": (), "sysctls": (), "userns": "host",
                "tty": False, "console_size": None, "network": "none", "publish": (), "subnet": None}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "tmpfs", tuple(self.tmpfs))
        object.__setattr__(self, "share", frozenset(self.share))
        object.__setattr__(self, "volumes", tuple(self.volumes))
        object.__setattr__(self, "env", tuple(self.env))
        for name in ("cap_add", "cap_drop", "security_opt", "devices", "sysctls", "publish"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def effective_hostname(self) -> str | None:
        """The hostname the container will get, or None when it keeps the host's (``--uts host``)."""
        if "uts" in self.share:
            return None
        return self.hostname if self.hostname is not None else DEFAULT_HOSTNAME

    @property
    def hardening_options(self) -> bool:
        """Any of the options that adjust the protections of a container with a root of its own."""
        return bool(self.cap_add or self.cap_drop or self.privileged or self.security_opt or self.devices
                    or self.sysctls)

    @property
    def shares_network(self) -> bool:
        return "net" in self.share or self.network == "host"

    @property
    def wants_cgroup(self) -> bool:
        # a container with its own root always gets a cgroup of its own (accounting, device rules, kill)
        own_root = bool(self.rootfs) and self.userns != "rootless"  # rootless: no cgroup it could create on v1
        return self.limits is not None or self.accounting or self.cgroup_parent is not None or own_root

    @property
    def private_cgroupns(self) -> bool:
        return self.cgroupns == "private" or (self.cgroupns is None and bool(self.rootfs) and self.userns != "rootless")

    @property
    def tmpfs_mounts(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Every tmpfs as (mount point normalized, options), one per mount point (the last given wins), in order."""
        seed = [(SEED_TMPFS, TMPFS_DEFAULTS)] if self.seed_tmpfs and not self.rootfs else []
        if seed and self.userns == "rootless" and not os.path.isdir(SEED_TMPFS):
            seed = []  # only root could create it on the host; the seed, too, required it to exist
        mounts: dict = {}
        for path, options in seed + [split_tmpfs(text) for text in self.tmpfs]:
            mounts[normalize(path)] = options
        return tuple(mounts.items())

    @property
    def tmpfs_paths(self) -> tuple[str, ...]:
        """Every tmpfs mount point, normalized, without duplicates, in the order given."""
        return tuple(path for path, _ in self.tmpfs_mounts)


def for_caller(spec: ContainerSpec) -> ContainerSpec:
    """The spec as this caller can have it: for a caller who is not root, "host" user namespace means
    "rootless" (a user namespace of its own, its uid as root inside) and the caches are its own."""
    if spec.userns != "host" or os.geteuid() == 0:
        return spec
    from .places import cache_dir

    changes = {"userns": "rootless"}
    if spec.cache_dir == ContainerSpec.DEFAULTS["cache_dir"]:
        changes["cache_dir"] = cache_dir("rootfs")
    return spec.replace(**changes)
