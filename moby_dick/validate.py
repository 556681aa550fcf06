"""Small check functions that return problems instead of raising. Pure except :func:`host_problems`.

runc's validators are the model: each check says *what* is wrong and how to fix it, and the first
problem becomes the one-line error the CLI prints (exit status 125). Nothing has been created when
these run, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os

from .errors import UsageError
from .mounts import tmpfs_problems

CLI_PROPAGATIONS = ("private", "slave", "unchanged")
from .namespaces import KINDS
from .spec import SHAREABLE, ContainerSpec
from .uts import hostname_problems


from .users import MAX_ID  # noqa: E402  uid_t is 32 bits; (uid_t)-1 means "unchanged" to setresuid(2)


def is_whole_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²" and other digits ``int`` refuses; around them
    only the whitespace ``int`` skips (``str.strip`` would also take "\x1c"-"\x1f", which ``int`` refuses)."""
    text = text.strip(" \t\n\r\x0b\x0c")
    return text.isascii() and text.isdigit()


def spec_problems(spec: ContainerSpec) -> list[str]:
    """Everything wrong with the spec itself. Pure."""
    problems: list[str] = []
    if not spec.argv and spec.function is None:
        problems.append("no command given; try: moby-dick /bin/sh")
    elif spec.argv and spec.argv[0] in ("", b""):
        problems.append("the command is an empty string")
    elif any(("\0" if isinstance(a, str) else b"\0") in a for a in spec.argv):
        problems.append("an argument contains a NUL byte, which execve(2) cannot pass")
    if spec.hostname is not None:
        if "uts" in spec.share:
            problems.append("--hostname conflicts with --uts host (it would rename the host)")
        problems += hostname_problems(spec.hostname)
    for text in spec.tmpfs:
        problems += tmpfs_problems(text)
    unknown = sorted(set(spec.share) - set(SHAREABLE))
    if unknown:
        problems.append(f"cannot share namespace {unknown[0]!r} with the host; choose from {', '.join(SHAREABLE)}")
    if spec.propagation not in CLI_PROPAGATIONS:
        problems.append(f"unknown propagation {spec.propagation!r}; choose from {', '.join(CLI_PROPAGATIONS)}")
    problems += _jail_problems(spec)
    for item in spec.env:
        key, _, _ = item.partition("=")
        if not key or "\0" in item or any(c.isspace() for c in key):
            problems.append(f'environment "{item}": write it as KEY=VALUE, or KEY for the value moby-dick has')
    if spec.workdir is not None and not spec.workdir.startswith("/"):
        problems.append(f'working directory "{spec.workdir}" must be absolute')
    if spec.user is not None:
        user, colon, group = spec.user.partition(":")
        if not user or (colon and not group) or "\0" in spec.user or group.count(":"):
            problems.append(f'user "{spec.user}": give USER or USER:GROUP (names or numeric ids)')
        elif any(is_whole_number(part) and int(part) > MAX_ID for part in (user, group)):
            problems.append(f'user "{spec.user}": ids go up to {MAX_ID} (a 32-bit id; 4294967295 means "none")')
    if spec.network != "none" or spec.publish or spec.subnet is not None:  # (the seed's default imports nothing)
        problems += network_problems(spec)
    if "net" in spec.share and spec.network not in ("none", "host"):
        problems.append(f'--network {spec.network} conflicts with sharing the host\'s network namespace')
    if spec.tty and spec.function is not None:
        problems.append("a terminal (-t) is for a program, not a Python function")
    if spec.userns not in ("host", "private", "rootless"):
        problems.append(f'--userns "{spec.userns}": choose host or private')
    if spec.cgroup_parent is not None and ".." in spec.cgroup_parent.split("/"):
        problems.append(f'--cgroup-parent "{spec.cgroup_parent}": ".." would leave moby-dick\'s own cgroup')
    return problems


def network_problems(spec: ContainerSpec) -> list[str]:
    """--network, -p and --subnet (moby_dick/network.py, ports.py)."""
    from .network import mode_problems, subnet_problems

    problems = mode_problems(spec.network)
    if spec.publish or spec.subnet is not None:
        if spec.network != "bridge" or "net" in spec.share:
            problems.append("-p and --subnet need --network bridge (a container of its own on moby-dick0)")
        from .ports import publish_problems

        problems += publish_problems(spec.publish)
        problems += subnet_problems(spec.subnet) if spec.subnet is not None else []
    return problems


def _jail_problems(spec: ContainerSpec) -> list[str]:
    problems = []
    if not spec.rootfs:
        for flag, used in (("-v", spec.volumes), ("--read-only", spec.read_only), ("--jail chroot", spec.jail != "pivot")):
            if used:
                problems.append(f"{flag} needs --rootfs")
    if spec.jail not in ("pivot", "chroot"):
        problems.append(f"unknown jail {spec.jail!r}; choose pivot or chroot")
    if not (spec.volumes or spec.rootfs):
        return problems  # the seed's form: nothing more to check (nor the rootfs module to import)
    from .rootfs import volume_problems

    for volume in spec.volumes:
        problems += volume_problems(volume)
    if spec.rootfs:  # the jail's own file systems: every later step resolves paths through /proc/self/fd
        from .config import parse_volume

        targets = [("--tmpfs", os.path.normpath(p)) for p in spec.tmpfs_paths if p.startswith("/")]
        targets += [("-v", parse_volume(v).destination) for v in spec.volumes if not volume_problems(v)]
        for flag, target in targets:
            if target in ("/proc", "/sys", "/dev") or target.startswith("/proc/"):
                problems.append(f'{flag} {target}: the container\'s own {target.split("/")[1] and "/" + target.split("/")[1]} '
                                "is mounted there; choose another path")
    return problems


def host_problems(spec: ContainerSpec, proc: str = "/proc", euid: int | None = None) -> list[str]:
    """What this machine lacks for the spec: root, namespace support, usable mount points."""
    problems: list[str] = []
    if spec.userns == "rootless" or (os.geteuid() if euid is None else euid) != 0:
        problems += rootless_problems(spec, proc)
    for kind in ("mnt",) + tuple(k for k in SHAREABLE if k not in spec.share):
        if not os.path.exists(f"{proc}/self/ns/{kind}"):
            share = "" if kind == "mnt" else f" or share it with --{kind} host"
            problems.append(f"this kernel has no {kind} namespaces ({KINDS[kind].man}); "
                            f"rebuild it with CONFIG_{kind.upper()}_NS{share}")
    if spec.rootfs:
        return problems + rootfs_problems(spec)
    if spec.userns == "rootless":
        return problems
    import stat

    for path in spec.tmpfs_paths:
        # one lstat, not exists-then-isdir: a concurrent run may remove a mount point it made between
        # two checks, which read as "exists and is not a directory"
        try:
            is_directory = stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            if not os.path.isdir(os.path.dirname(path)):
                problems.append(f'tmpfs path "{path}": its parent directory does not exist; create it first')
            continue
        if not is_directory:
            problems.append(f'tmpfs path "{path}" exists and is not a directory')
    return problems


def rootless_problems(spec: ContainerSpec, proc: str = "/proc") -> list[str]:
    """What an unprivileged caller cannot have here, each with its fix: user namespaces switched off, a cgroup
    without a delegated v2 subtree, moby-dick's own range, a tmpfs mount point only root could create."""
    problems = []
    for path, bad, fix in ((f"{proc}/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
                           (f"{proc}/sys/kernel/unprivileged_userns_clone", "0",
                            "sysctl -w kernel.unprivileged_userns_clone=1"),
                           (f"{proc}/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
                            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run as root")):
        try:
            with open(path) as file:
                value = file.read().strip()
        except OSError:
            continue
        if value == bad:
            return [f"moby-dick without root needs a user namespace, and {path.split('/sys/')[1]} is {value} here; "
                    f"fix: {fix}"]
    if spec.userns == "private":
        problems.append("--userns private needs root (it maps moby-dick's own range); without root the container "
                        "already gets a user namespace of its own, your uid as its root")
    if (spec.limits is not None or spec.accounting or spec.cgroup_parent is not None) and not delegated_v2(spec):
        problems.append("without root, cgroup limits need a delegated cgroup v2 subtree (systemd: Delegate=yes, or "
                        "chown a v2 cgroup to you); this machine's layout gives none: run as root for limits")
    for path in spec.tmpfs_paths if not spec.rootfs else ():
        if not os.path.isdir(path):
            problems.append(f'tmpfs path "{path}": without root it must exist already (only root may create it '
                            "on the host); choose an existing directory such as /tmp")
    return problems


def delegated_v2(spec: ContainerSpec, layout=None, access=os.access) -> bool:
    """The caller may make cgroups of its own: a pure v2 layout whose own cgroup it can write (cgroup.procs and
    cgroup.subtree_control: a delegated subtree, cgroup-v2.rst "Delegation"), with every controller the limits
    need enabled there. moby-dick then makes the container's cgroup beneath it, as it does for root."""
    from .cgroups import detect, limit_files

    layout = layout or detect()
    if layout.version != "v2" or "" not in layout.roots:
        return False
    mount, own = layout.roots[""]
    directory = os.path.join(mount, own.lstrip("/"))
    if not all(access(os.path.join(directory, name), os.W_OK) for name in ("cgroup.procs", "cgroup.subtree_control")):
        return False
    needed = {name.split(".")[0] for files in limit_files(spec.limits, "v2").values() for name in files} if spec.limits else set()
    return needed <= set(layout.available)


TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2")


def rootfs_problems(spec: ContainerSpec) -> list[str]:
    """The rootfs exists, holds the command, and (read-only) has the mount points; volumes exist."""
    from .config import parse_volume

    rootfs = spec.rootfs
    if not os.path.lexists(rootfs):
        return [f'rootfs "{rootfs}" does not exist; build one with: moby-dick mkrootfs {rootfs}']
    if not os.path.isdir(rootfs):
        if os.path.isfile(rootfs) and rootfs.endswith(TARBALL_SUFFIXES):
            return []  # checked while it is unpacked
        return [f'rootfs "{rootfs}" is not a directory or a tarball ({", ".join(TARBALL_SUFFIXES)})']
    problems = []
    if spec.userns == "private":  # the mapped root is "others" for the host's directories
        for path in [rootfs, *(parse_volume(v).source for v in spec.volumes)]:
            blocked = unsearchable_ancestor(path)
            if blocked:
                problems.append(f'--userns private: the container\'s root (an unprivileged id outside) cannot reach '
                                f'"{path}": "{blocked}" is not searchable by others; chmod o+x it or use another place')
                break
    if spec.function is None and spec.argv and not command_in_rootfs(rootfs, spec.argv[0], spec.workdir):
        name = os.fsdecode(spec.argv[0])
        problems.append(f'rootfs "{rootfs}" has no command "{name}" (looked in /bin, /usr/bin, /sbin, ...)')
    volumes = [parse_volume(volume) for volume in spec.volumes]
    for volume in volumes:
        if not os.path.exists(volume.source):
            problems.append(f'volume source "{volume.source}" does not exist')
    if spec.read_only:
        needed = ["/proc", "/dev", "/sys", "/tmp", *spec.tmpfs_paths, *(v.destination for v in volumes)]
        missing = [path for path in needed if not os.path.isdir(os.path.join(rootfs, path.lstrip("/")))]
        if missing:
            problems.append(f'--read-only: rootfs "{rootfs}" lacks the mount points {", ".join(missing)}')
    return problems


def unsearchable_ancestor(path: str) -> str | None:
    """The first directory on the way to ``path`` that others may not search (no o+x), or None."""
    current = "/"
    for part in os.path.abspath(path).strip("/").split("/"):
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if os.path.isdir(current) and not mode & 0o001:
            return current
    return None


def command_in_rootfs(rootfs: str, command, workdir: str | None = None) -> bool:
    """Does ``command`` name something in ``rootfs``, by path or on the default $PATH? (A symlink
    counts: it may be absolute, resolved only once inside.)"""
    from .finalize import DEFAULT_PATH

    name = os.fsdecode(command)
    if "/" in name:
        base = "/" if name.startswith("/") else (workdir or "/")
        return os.path.lexists(os.path.join(rootfs, base.lstrip("/"), name.lstrip("/")))
    return any(os.path.lexists(os.path.join(rootfs, d.lstrip("/"), name)) for d in DEFAULT_PATH.split(":"))


def check(spec: ContainerSpec) -> None:
    """Raise :class:`UsageError` with the first problem, if any."""
    problems = spec_problems(spec) or host_problems(spec)
    if problems:
        raise UsageError(problems[0])
