"""``moby-dick doctor``: what this machine gives a container runtime, and what is missing, with the fix.

Read-only: every check reads the kernel's own files (/proc, /sys) or asks for a capability without
changing anything (openat2 on "/", pidfd_open on itself). Exit 0 when the basics work (root, mount, UTS,
IPC, network and PID namespaces); ``--json`` for machines.
"""

from __future__ import annotations

import os
import shutil

from .records import Record


class Check(Record):
    """name; ok: True, False, or None (information); found: what is there; fix: what to do, when not ok;
    basic: a run needs it."""

    __slots__ = ("name", "ok", "found", "fix", "basic")
    DEFAULTS = {"fix": "", "basic": False}


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None


def checks() -> list[Check]:
    found: list[Check] = []
    release = os.uname().release
    major_minor = tuple(int(part) for part in release.split(".")[:2] if part.isdigit())
    found.append(Check("kernel", major_minor >= (5, 11), release,
                       "overlayfs in a user namespace needs 5.11, cgroup.kill 5.14: upgrade the kernel"))
    found.append(Check("root", os.geteuid() == 0, f"euid {os.geteuid()}", "run moby-dick as root (sudo)", basic=True))
    from .namespaces import KINDS

    present = [kind for kind in KINDS if os.path.exists(f"/proc/self/ns/{kind}")]
    for kind in ("mnt", "uts", "ipc", "net", "pid"):
        found.append(Check(f"{kind} namespace", kind in present, "present" if kind in present else "missing",
                           f"rebuild the kernel with CONFIG_{kind.upper()}_NS", basic=True))
    found.append(Check("cgroup, user, time namespaces", None, ", ".join(k for k in ("cgroup", "user", "time") if k in present)))
    limit = _read("/proc/sys/user/max_user_namespaces")
    found.append(Check("user.max_user_namespaces", limit not in (None, "0"), limit or "absent",
                       "sysctl -w user.max_user_namespaces=15000 (needed by --userns private and rootless use)"))
    clone = _read("/proc/sys/kernel/unprivileged_userns_clone")
    if clone is not None:
        found.append(Check("kernel.unprivileged_userns_clone", clone == "1", clone,
                           "sysctl -w kernel.unprivileged_userns_clone=1 (Debian's switch for unprivileged users)"))
    apparmor = _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if apparmor is not None:
        found.append(Check("apparmor_restrict_unprivileged_userns", apparmor == "0", apparmor,
                           "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for moby-dick"))
    filesystems = _read("/proc/filesystems") or ""
    found.append(Check("overlayfs", "overlay" in filesystems, "available" if "overlay" in filesystems else "missing",
                       "modprobe overlay (--rootfs then needs --read-only)"))
    found.append(Check("openat2 (RESOLVE_IN_ROOT)", _openat2_works(), "works" if _openat2_works() else "absent",
                       "kernel 5.6+; moby-dick falls back to a component walk"))
    seccomp = "Seccomp:" in (_read("/proc/self/status") or "")
    library = _libseccomp()
    found.append(Check("seccomp", seccomp and library, f"kernel {'yes' if seccomp else 'no'}, libseccomp {'yes' if library else 'no'}",
                       "apt-get install libseccomp2 (or --security-opt seccomp=unconfined)"))
    try:
        from .cgroups import detect

        layout = detect()
        cgroup = f"{layout.version}; controllers {', '.join(sorted(layout.available)) or 'none delegated'}"
        found.append(Check("cgroups", layout.version != "none", cgroup,
                           "mount cgroup2 on /sys/fs/cgroup; on v2 delegate memory, pids, cpu to moby-dick's cgroup"))
    except OSError as error:
        found.append(Check("cgroups", False, str(error), "mount the cgroup file systems"))
    found.append(Check("pidfd", _pidfd_works(), "works" if _pidfd_works() else "absent", "kernel 5.3+"))
    root_shared = _root_is_shared()
    found.append(Check("propagation of /", None, "shared (moby-dick makes it private inside)" if root_shared else "private"))
    for tool, why in (("newuidmap", "uidmap: subordinate ids for rootless use"), ("busybox", "busybox-static: mkrootfs")):
        path = shutil.which(tool)
        found.append(Check(tool, bool(path), path or "missing", f"apt-get install {why}"))
    if os.geteuid() != 0:  # rootless: the maps this caller gets
        from .errors import UsageError
        from .userns import caller_maps

        try:
            uids, gids, helper = caller_maps()
            text = ("its own uid and a subordinate range, through newuidmap" if helper else
                    "its own uid only (no subordinate range of its own in /etc/subuid and /etc/subgid, or no newuidmap)")
            found.append(Check("rootless id maps", True, text, "usermod --add-subuids 100000-165535 --add-subgids "
                               "100000-165535 USER (as root) for ids 1..65536 inside"))
        except UsageError as error:
            found.append(Check("rootless id maps", False, str(error), "give yourself a range without your own id"))
    for engine in ("podman", "docker", "containerd"):
        path = shutil.which(engine)
        found.append(Check(f"engine {engine}", None, (path + ("; moby-dick-oci registered" if _registered(engine) else
                                                              "; moby-dick-oci not registered")) if path else "not installed"))
    return found


def _openat2_works() -> bool:
    from .syscalls import Kernel

    try:
        os.close(Kernel().open_in_root("/", "/"))
        return Kernel._openat2_usable
    except OSError:
        return False


def _libseccomp() -> bool:
    try:
        from .seccomp import _library

        _library()
        return True
    except Exception:
        return False


def _pidfd_works() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
        return True
    except (AttributeError, OSError):
        return False


def _root_is_shared() -> bool:
    from .mountinfo import parse_mountinfo

    entries = parse_mountinfo(_read("/proc/self/mountinfo") or "")
    return any(entry.mount_point == "/" and entry.is_shared for entry in entries)


def _registered(engine: str) -> bool:
    configs = {"podman": ("/etc/containers/containers.conf",), "docker": ("/etc/docker/daemon.json",),
               "containerd": ("/etc/containerd/config.toml",)}[engine]
    return any("moby-dick-oci" in (_read(path) or "") for path in configs)


def report(as_json: bool = False) -> int:
    found = checks()
    if as_json:
        import json

        print(json.dumps([{name: getattr(check, name) for name in Check.__slots__} for check in found], indent=1))
    else:
        for check in found:
            mark = {True: "ok  ", False: "MISS", None: "info"}[check.ok]
            line = f"{mark}  {check.name}: {check.found}"
            if check.ok is False and check.fix:
                line += f"  -> {check.fix}"
            print(line)
        print("moby-dick on a container without its own root (no --rootfs) is no security boundary: see the README.")
    return 0 if all(check.ok for check in found if check.basic) else 1
