"""What makes a container with its own root not the host's root: the defaults, and the options.

The pieces live in their own modules (capabilities.py, seccomp.py, masks.py, finalize.py's
no_new_privs, the device rules in oci.py and cgroups.py); this module decides what a container gets.
Pure: front ends call :func:`settings` once, and the plan turns the result into steps.

For a container with its own root (``--rootfs``, every OCI bundle takes what its config says):
- docker's 14 capabilities in the bounding, effective and permitted sets; nothing inheritable or ambient
  (``--cap-add``, ``--cap-drop``, names with or without ``CAP_``, or ``ALL``);
- no_new_privs on (docker and podman leave it off): a setuid binary of the image gives nothing back;
- docker's default seccomp profile (:func:`moby_dick.seccomp.default_profile`), compiled by libseccomp;
- masked and read-only /proc and /sys paths, as docker's lists;
- a cgroup of its own whose device rules refuse every device but the defaults.
``--privileged`` is docker's: every capability, no seccomp, no masks, every device. Without ``--rootfs``
the container shares the host's files: it is the seed's form and **no security boundary** (its
``hostname josh`` must work, so it keeps root's capabilities); use ``--rootfs``.
"""

from __future__ import annotations

from .errors import UsageError
from .records import Record

MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DENY_ALL_DEVICES = {"devices": [{"allow": False, "access": "rwm"}]}  # then the defaults (resources.DEFAULT_DEVICE_RULES)


class Settings(Record):
    """capabilities (config.Capabilities or None: keep root's), no_new_privs, seccomp (a profile dict or
    None), masked and read-only paths, resources (the device rules), and a label for the plan."""

    __slots__ = ("capabilities", "no_new_privs", "seccomp", "masked_paths", "readonly_paths", "resources", "label")


def capability_set(cap_add=(), cap_drop=()) -> tuple:
    """docker's default, plus --cap-add, minus --cap-drop (either may be ALL). UsageError: a bad name."""
    from .capabilities import DOCKER_DEFAULT, NUMBERS, normalize

    every = tuple(NUMBERS)
    drop = every if any(c.upper() == "ALL" for c in cap_drop) else tuple(normalize(c) for c in cap_drop)
    add = every if any(c.upper() == "ALL" for c in cap_add) else tuple(normalize(c) for c in cap_add)
    base = () if drop == every else DOCKER_DEFAULT
    return tuple(sorted((set(base) | set(add)) - (set() if add == every else set(drop)), key=NUMBERS.get))


def settings(spec) -> Settings | None:
    """For a ContainerSpec with a rootfs: the protections it gets (None without a rootfs: the seed's form)."""
    from .config import Capabilities

    options = parse_security_opt(spec.security_opt)
    if not spec.rootfs:
        if spec.hardening_options:
            raise UsageError("--cap-add, --cap-drop, --privileged, --security-opt, --device and --sysctl need --rootfs: "
                             "without a root of its own the container is the host's root anyway")
        return None
    if spec.privileged:  # every capability the runtime holds (capabilities None: root's are kept as they are)
        return Settings(None, options.get("no-new-privileges", False), None, (), (), None, "privileged")
    caps = capability_set(spec.cap_add, spec.cap_drop)
    seccomp = options.get("seccomp", "default")
    if seccomp == "default":
        from .seccomp import default_profile

        profile, label = default_profile(caps), "docker's default profile"
    elif seccomp == "unconfined":
        profile, label = None, "unconfined"
    else:
        profile, label = load_profile(seccomp), seccomp
    return Settings(Capabilities(caps, caps, (), caps, ()), options.get("no-new-privileges", True), profile,
                    MASKED_PATHS, READONLY_PATHS, DENY_ALL_DEVICES, label)


IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")


def parse_sysctls(items, share=frozenset()) -> tuple:
    """``("net.ipv4.ip_forward=1", ...)`` -> ``(("net.ipv4.ip_forward", "1"), ...)``, namespaced keys only
    (docker's rule): what the container changes must be its own namespace's, never the host's."""
    pairs = []
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key or "/" in key or ".." in key:
            raise UsageError(f'--sysctl "{item}": write KEY=VALUE, e.g. net.ipv4.ping_group_range="0 0"')
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" in share:
                raise UsageError(f'--sysctl {key}: it would change the host\'s IPC settings (--ipc host)')
        elif key.startswith("net."):
            if "net" in share:
                raise UsageError(f'--sysctl {key}: it would change the host\'s network settings (--network host)')
        else:
            raise UsageError(f'--sysctl {key}: not a namespaced setting; only kernel.msg*, kernel.sem, kernel.shm*, '
                             "fs.mqueue.* and net.* are the container's own")
        pairs.append((key, value))
    return tuple(pairs)


def parse_devices(items) -> tuple:
    """``("/dev/fuse", "/dev/sda:/dev/xvda:r")`` -> config.Device records read from the host's nodes."""
    import os
    import stat

    from .config import Device

    devices = []
    for item in items:
        host, _, rest = item.partition(":")
        container, _, access = rest.partition(":")
        container = container or host
        if not host.startswith("/") or not container.startswith("/") or (access and set(access) - set("rwm")):
            raise UsageError(f'--device "{item}": write HOST[:CONTAINER[:rwm]] with absolute paths')
        try:
            st = os.stat(host)
        except OSError as error:
            raise UsageError(f'--device "{host}": {error.strerror}') from None
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise UsageError(f'--device "{host}" is not a device node')
        devices.append(Device(container, "c" if stat.S_ISCHR(st.st_mode) else "b", os.major(st.st_rdev),
                              os.minor(st.st_rdev), st.st_mode & 0o777, access=access or "rwm"))
    return tuple(devices)


def parse_security_opt(items) -> dict:
    """``("no-new-privileges=false", "seccomp=unconfined")`` -> {"no-new-privileges": False, "seccomp": ...}."""
    options: dict = {}
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip()
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise UsageError(f'--security-opt "{item}": write no-new-privileges=true or =false')
            options[key] = value != "false"
        elif key == "seccomp" and equals and value:
            options[key] = value
        elif key in ("label", "apparmor"):
            raise UsageError(f'--security-opt "{item}": this machine has no {"SELinux" if key == "label" else "AppArmor"}'
                             " (moby-dick does not load LSM profiles); drop the option")
        else:
            raise UsageError(f'--security-opt "{item}": choose no-new-privileges=true|false, seccomp=unconfined|PROFILE')
    return options


def load_profile(path: str) -> dict:
    """A seccomp profile file (docker's or OCI's JSON); UsageError in one line if it is not one."""
    import json

    try:
        with open(path) as file:
            profile = json.load(file)
    except OSError as error:
        raise UsageError(f'seccomp profile "{path}": {error.strerror}') from None
    except ValueError as error:
        raise UsageError(f'seccomp profile "{path}" is not JSON: {error}') from None
    if not isinstance(profile, dict) or not isinstance(profile.get("syscalls", []), list):
        raise UsageError(f'seccomp profile "{path}": expected an object with "defaultAction" and "syscalls"')
    return profile
