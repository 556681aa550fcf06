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
DENY_ALL_DEVICES = {"devices": [{"allow": False, "access": "rwm"}]}  # then the defaults (oci.DEFAULT_DEVICE_RULES)


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
        if spec.cap_add or spec.cap_drop or spec.privileged or spec.security_opt:
            raise UsageError("--cap-add, --cap-drop, --privileged and --security-opt need --rootfs: without a root "
                             "of its own the container is the host's root anyway")
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
