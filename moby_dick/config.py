"""The typed spec: what a container is, as records, built by front ends and by nothing else. Pure.

Two front ends make a :class:`Config`: :func:`from_spec` (the ``moby-dick`` command line and the Python
API, through :class:`moby_dick.spec.ContainerSpec`) and :mod:`moby_dick.oci` (an OCI ``config.json``,
runtime-spec v1.3.0, and back). Strings such as ``HOST:CONTAINER:ro``, ``KEY=VALUE`` or ``UID:GID`` are
parsed here, once; everything below (the plan, the isolation modules, the runner) reads typed fields.

The shape follows the runtime-spec (config.md, config-linux.md) so that the OCI front end is a
translation, not a second model: a list of :class:`Mount` drives the jail (the default ``/proc``,
``/dev``, ``/sys``, ``/tmp`` are entries of that list, not code), namespaces may name a path to join,
and the process carries its identity, capabilities and limits.
"""

from __future__ import annotations

import os

from .records import Record

NAMESPACE_ORDER = ("mnt", "uts", "ipc", "net", "pid", "cgroup", "user", "time")


class User(Record):
    """uid/gid inside the container; additional_gids: supplementary groups; umask: None keeps it."""

    __slots__ = ("uid", "gid", "additional_gids", "umask")
    DEFAULTS = {"uid": 0, "gid": 0, "additional_gids": (), "umask": None}


class Capabilities(Record):
    """The five capability sets (names such as ``CAP_KILL``), as the runtime-spec lists them."""

    __slots__ = ("bounding", "effective", "inheritable", "permitted", "ambient")
    DEFAULTS = {"bounding": (), "effective": (), "inheritable": (), "permitted": (), "ambient": ()}


class Rlimit(Record):
    """setrlimit(2): type (``RLIMIT_NOFILE``), soft and hard."""

    __slots__ = ("type", "soft", "hard")


class Process(Record):
    """What runs: args; env: ``((KEY, VALUE), ...)`` or None (inherit the runtime's); cwd; user (None:
    stay who the runtime is); init: moby-dick's init as PID 1; function: a Python callable run instead
    of args (demos, tests); capabilities (None: keep the runtime's), no_new_privs, rlimits, terminal,
    console_size ``(height, width)``, oom_score_adj: as the runtime-spec."""

    __slots__ = ("args", "env", "cwd", "user", "init", "function", "terminal", "capabilities",
                 "no_new_privs", "rlimits", "console_size", "oom_score_adj")
    DEFAULTS = {"env": None, "cwd": None, "user": None, "init": False, "function": None, "terminal": False,
                "capabilities": None, "no_new_privs": False, "rlimits": (), "console_size": None,
                "oom_score_adj": None}

    def environment(self) -> dict | None:
        return None if self.env is None else dict(self.env)


class Root(Record):
    """path: the root file system (a directory); readonly; jail: "pivot" or "chroot" (the escapable
    negative control); copy_on_write: an overlay whose upper layer is discarded at exit."""

    __slots__ = ("path", "readonly", "jail", "copy_on_write")
    DEFAULTS = {"readonly": False, "jail": "pivot", "copy_on_write": True}


class Mount(Record):
    """One entry of the mount list (runtime-spec ``mounts[]``): destination inside the container, type
    (proc, tmpfs, bind, sysfs, dev, cgroup...), source, options (``("ro", "nosuid", ...)``)."""

    __slots__ = ("destination", "type", "source", "options")
    DEFAULTS = {"source": None, "options": ()}

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


class Namespace(Record):
    """kind: a name under /proc/<pid>/ns (mnt, uts, ...); path: join this namespace instead of making one."""

    __slots__ = ("kind", "path")
    DEFAULTS = {"path": None}


class Hook(Record):
    """One hook of the runtime-spec: when (prestart, createRuntime, ...), path, args, env, timeout (s)."""

    __slots__ = ("when", "path", "args", "env", "timeout")
    DEFAULTS = {"args": (), "env": (), "timeout": None}


class Device(Record):
    """A device node to create in the container (runtime-spec ``linux.devices[]``)."""

    __slots__ = ("path", "type", "major", "minor", "file_mode", "uid", "gid", "access")
    DEFAULTS = {"file_mode": 0o666, "uid": 0, "gid": 0, "access": "rwm"}


class IdMap(Record):
    """One line of uid_map/gid_map: ids container_id.. map to host_id.. for size ids."""

    __slots__ = ("container_id", "host_id", "size")


class Config(Record):
    """A whole container. hostname None: keep the host's (no UTS namespace). namespaces: the kinds the
    container gets (private, or joined by path); the rest are the host's. tmpfs_on_host: mount points
    outside a rootfs (the seed's /mytmp) that the runtime may have to create on the host. limits:
    cgroups.Limits or None; cgroup: whether the container gets a cgroup of its own; cgroup_parent:
    where (None: beneath the runtime's own); propagation: what / becomes before anything is mounted."""

    __slots__ = ("process", "root", "hostname", "mounts", "namespaces", "uid_mappings", "gid_mappings",
                 "limits", "cgroup", "cgroup_parent", "cgroup_path", "propagation", "tmpfs_on_host", "masked_paths",
                 "readonly_paths", "sysctl", "seccomp", "hooks", "annotations", "domainname", "devices", "resources",
                 "network", "map_helper", "deny_setgroups")
    DEFAULTS = {"root": None, "hostname": None, "mounts": (), "uid_mappings": (), "gid_mappings": (),
                "limits": None, "cgroup": False, "cgroup_parent": None, "cgroup_path": None, "propagation": "private",
                "tmpfs_on_host": (), "masked_paths": (), "readonly_paths": (), "sysctl": (), "seccomp": None,
                "hooks": (), "annotations": (), "domainname": None, "devices": (), "resources": None,
                "network": None, "map_helper": False, "deny_setgroups": False}

    def namespace(self, kind: str) -> Namespace | None:
        for namespace in self.namespaces:
            if namespace.kind == kind:
                return namespace
        return None

    def unshares(self, kind: str) -> bool:
        """The container gets a new namespace of this kind (not the host's, not a joined one)."""
        namespace = self.namespace(kind)
        return namespace is not None and namespace.path is None


# ---- the jail's default mounts (what docker and runc's `spec` give every container) -----------

DEFAULT_MOUNTS = (
    Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
    Mount("/dev", "dev", "moby-dick-dev", ("nosuid", "noexec")),
    Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
    Mount("/tmp", "tmpfs", "moby-dick", ("nosuid", "nodev", "mode=1777")),
)


# ---- front end: the command line and the Python API -------------------------------------------

def parse_env(items, environ=None) -> tuple:
    """``("KEY=VALUE", "KEY", ...)`` -> ``(("KEY", "VALUE"), ...)``; a bare KEY takes its value from
    ``environ`` (the caller's), and is left out when the caller has none, as docker's ``-e KEY``."""
    pairs = []
    for item in items:
        key, equals, value = item.partition("=")
        if equals:
            pairs.append((key, value))
        elif environ and key in environ:
            pairs.append((key, environ[key]))
    return tuple(pairs)


def resolve_user(text: str, root: str):
    """``USER[:GROUP]`` -> users.Account, names looked up in ``root``'s /etc/passwd and /etc/group."""
    from .users import Account, account_files, is_id, resolve

    user, _, group = text.partition(":")
    if is_id(user) and (not group or is_id(group)) and not os.path.isdir(root):
        return Account(int(user), int(group) if group else 0)  # (a tarball not unpacked yet: --dry-run)
    return resolve(text, *account_files(root))


def network_namespace_path(mode: str) -> str:
    """``container:NAME|ID|PID`` or ``ns:PATH`` -> the path of the network namespace to join."""
    from .errors import UsageError

    kind, _, value = mode.partition(":")
    if kind == "ns":
        path = value
    elif value.isascii() and value.isdigit():
        path = f"/proc/{value}/ns/net"
    else:
        from .engine import resolve

        state = resolve(value)
        if state.status() != "running":
            raise UsageError(f'--network {mode}: the container is {state.status()}, not running')
        path = f"/proc/{state.pid}/ns/net"
    if not os.path.exists(path):
        raise UsageError(f'--network {mode}: no network namespace at {path}')
    return path


def parse_volume(text: str) -> Mount:
    """``HOST:CONTAINER[:ro|rw]`` -> a bind Mount (validated before: see rootfs.volume_problems)."""

    source, target, *mode = text.split(":")
    options = ("rbind", "ro") if mode == ["ro"] else ("rbind",)
    return Mount(os.path.normpath(target), "bind", os.path.normpath(source), options)


def from_spec(spec, environ=None) -> Config:
    """ContainerSpec (the CLI's and the API's shape) -> Config. ``environ``: the caller's environment,
    inherited without a rootfs (as the seed's execvp did); a rootfs gets a clean one, as docker gives."""
    from .finalize import DEFAULT_PATH

    kinds = [kind for kind in ("mnt", "uts", "ipc", "net", "pid") if kind not in spec.share]
    joined, network = (), None
    if spec.shares_network or spec.network.startswith(("container:", "ns:")):
        if "net" in kinds:
            kinds.remove("net")
        if not spec.shares_network:
            joined = (Namespace("net", network_namespace_path(spec.network)),)
    elif spec.network == "bridge":
        from .network import DEFAULT_SUBNET, Network

        publish = ()
        if spec.publish:
            from .ports import parse_publish

            publish = tuple(map(parse_publish, spec.publish))
        network = Network(subnet=spec.subnet or DEFAULT_SUBNET, publish=publish)
    root = None
    if spec.rootfs:
        root = Root(spec.rootfs, spec.read_only, spec.jail, not spec.read_only)
    if spec.wants_cgroup and spec.private_cgroupns:  # unshared by PID 1 once it is in its cgroup
        kinds.append("cgroup")
    uid_mappings = gid_mappings = ()
    map_helper = deny_setgroups = False
    if spec.userns == "private":
        from .userns import private_maps

        kinds.append("user")
        uid_mappings, gid_mappings = private_maps()
    elif spec.userns == "rootless":  # an unprivileged caller: its own uid is root inside
        from .userns import caller_maps

        kinds.append("user")
        uid_mappings, gid_mappings, map_helper = caller_maps()
        deny_setgroups = not map_helper
    hostname = spec.effective_hostname
    account = resolve_user(spec.user, spec.rootfs or "/") if spec.user is not None else None
    env = None
    if spec.rootfs or spec.env:
        if spec.rootfs:
            env = {"PATH": DEFAULT_PATH, "HOME": account.home if account else "/root", "HOSTNAME": hostname or ""}
            if spec.tty:
                env["TERM"] = (environ or {}).get("TERM", "xterm")
            elif environ and "TERM" in environ:
                env["TERM"] = environ["TERM"]
        else:
            env = dict(environ or {})
        env.update(parse_env(spec.env, environ))
    secure = None
    if spec.rootfs or spec.hardening_options:  # (the seed's form has none: its plan skips the module)
        from .security import parse_devices, parse_sysctls, settings

        secure = settings(spec)
    process = Process(args=tuple(spec.argv), env=None if env is None else tuple(env.items()), cwd=spec.workdir,
                      user=User(account.uid, account.gid, account.additional_gids) if account else None,
                      init=spec.init, terminal=spec.tty, console_size=spec.console_size,
                      function=spec.function, capabilities=secure.capabilities if secure else None,
                      no_new_privs=bool(secure and secure.no_new_privs))
    mounts: list = []
    if spec.rootfs:
        mounts += DEFAULT_MOUNTS
        if spec.wants_cgroup and spec.private_cgroupns and spec.userns not in ("private", "rootless"):
            # (a v1 cgroup file system cannot be mounted from a user namespace: the kernel refuses it)
            mounts.append(Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "ro")))
        mounts += [parse_volume(volume) for volume in spec.volumes]
    elif "pid" in kinds and spec.propagation != "unchanged":
        # A fresh /proc for the new PID namespace; not in the seed's mode, where / may be shared and
        # the mount would land on the host's /proc.
        mounts.append(Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")))
    mounts += [Mount(path, "tmpfs", "moby-dick", options) for path, options in spec.tmpfs_mounts]
    return Config(process=process, root=root, hostname=hostname, mounts=tuple(mounts),
                  namespaces=tuple(Namespace(kind) for kind in kinds) + joined, limits=spec.limits, network=network,
                  cgroup=spec.wants_cgroup, cgroup_parent=spec.cgroup_parent, propagation=spec.propagation,
                  tmpfs_on_host=() if spec.rootfs or spec.userns == "rootless" else spec.tmpfs_paths,
                  seccomp=secure.seccomp if secure else None,
                  masked_paths=secure.masked_paths if secure else (), readonly_paths=secure.readonly_paths if secure else (),
                  resources=secure.resources if secure and spec.wants_cgroup else None,  # (device rules need a cgroup)
                  devices=parse_devices(spec.devices) if spec.rootfs else (),
                  sysctl=parse_sysctls(spec.sysctls, spec.share) if spec.rootfs else (),
                  uid_mappings=uid_mappings, gid_mappings=gid_mappings, map_helper=map_helper,
                  deny_setgroups=deny_setgroups)
