"""Capabilities: root's privileges split into ~41 bits, and the sets a container keeps.

Syscalls: ``prctl(PR_CAPBSET_DROP)`` (the bounding set: what this process and its descendants can
ever get back), ``prctl(PR_SET_KEEPCAPS)`` (keep the permitted set across the change of uid),
``capset(2)`` (effective, permitted, inheritable), ``prctl(PR_CAP_AMBIENT)``. Read capabilities(7):
"Transformation of capabilities during execve()", and credentials(7).

The order, as runc's ``finalizeNamespace``: drop the bounding set while still root (it takes
CAP_SETPCAP); keep-caps; change uid (which would otherwise clear the permitted set); then capset the
wanted sets and raise the ambient ones; ``execve`` then recomputes the sets from the file's.
"""

from __future__ import annotations

from .errors import SyscallError, UsageError
from .records import Record

NAMES = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
         "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
         "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
         "CHECKPOINT_RESTORE")
NUMBERS = {f"CAP_{name}": number for number, name in enumerate(NAMES)}  # <linux/capability.h>

# docker's default set (moby's oci/caps/defaults.go), which moby-dick gives a container with its own root
DOCKER_DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")

PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_SET_KEEPCAPS = 23, 24, 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, PR_CAP_AMBIENT_CLEAR_ALL = 47, 2, 4


def normalize(name: str) -> str:
    """``kill``, ``KILL``, ``CAP_KILL`` -> ``CAP_KILL``; UsageError for a name the kernel has no bit for."""
    word = name.strip().upper()
    word = word if word.startswith("CAP_") else "CAP_" + word
    if word not in NUMBERS:
        raise UsageError(f'unknown capability "{name}"')
    return word


_BITS: dict = {}  # a set of names -> its mask: the same few sets come with every start


def bits(names) -> int:
    """The capability names as a mask of their bits (UsageError for an unknown one)."""
    key = tuple(names)
    mask = _BITS.get(key)
    if mask is None:
        mask = 0
        for name in key:
            mask |= 1 << NUMBERS[normalize(name)]
        if len(_BITS) > 256:  # (a caller making endless new sets gets no memory leak from it)
            _BITS.clear()
        _BITS[key] = mask
    return mask


def problems(capabilities) -> list[str]:
    """Unknown names in any set (one line each). Pure."""
    found = []
    for set_name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for name in getattr(capabilities, set_name):
            try:
                normalize(name)
            except UsageError as error:
                found.append(f"process.capabilities.{set_name}: {error}")
    return found


class DropBoundingSet(Record):
    """Step: ``prctl(PR_CAPBSET_DROP, cap)`` for every capability not in ``keep`` (names); the numbers
    to drop are worked out when the plan is made (:meth:`keeping`), not in the container."""

    __slots__ = ("keep", "drop")

    @classmethod
    def keeping(cls, names) -> DropBoundingSet:
        mask = bits(names)
        return cls(tuple(names), tuple(number for number in range(len(NAMES)) if not mask & (1 << number)))

    def apply(self, kernel) -> None:
        kernel.drop_bounding_set(self.drop)  # dropping a bit already dropped is a no-op: nothing to read first

    def __str__(self) -> str:
        return f"prctl(PR_CAPBSET_DROP, ...) for every capability but {len(self.keep)}: " + ", ".join(self.keep)


class KeepCapabilities(Record):
    """Step: ``prctl(PR_SET_KEEPCAPS, 1)`` before the uid changes, so that the permitted set survives."""

    __slots__ = ()

    def apply(self, kernel) -> None:
        kernel.prctl(PR_SET_KEEPCAPS, 1)

    def __str__(self) -> str:
        return "prctl(PR_SET_KEEPCAPS, 1)"


class SetCapabilities(Record):
    """Step: ``capset(2)`` the effective, permitted and inheritable sets, then raise the ambient ones.
    ``masks``: the three sets as bits and ``ambient``: (number, name) to raise, from :meth:`of`, when the
    plan is made."""

    __slots__ = ("capabilities", "masks", "ambient")

    @classmethod
    def of(cls, caps) -> SetCapabilities:
        # The kernel raises an ambient capability only if it is permitted *and* inheritable
        # (capabilities(7), "Ambient"); like runc, raise those and leave the others (runc spec's
        # default lists ambient capabilities without inheritable ones).
        raisable = set(map(normalize, caps.inheritable)) & set(map(normalize, caps.permitted))
        ambient = tuple((NUMBERS[normalize(name)], name) for name in caps.ambient if normalize(name) in raisable)
        return cls(caps, (bits(caps.effective), bits(caps.permitted), bits(caps.inheritable)), ambient)

    def apply(self, kernel) -> None:
        kernel.capset(*self.masks)
        kernel.prctl(PR_SET_KEEPCAPS, 0)
        for number, name in self.ambient:
            try:
                kernel.prctl4(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)
            except SyscallError as error:
                raise SyscallError("prctl(PR_CAP_AMBIENT_RAISE)", error.errno, name) from None

    def __str__(self) -> str:
        caps = self.capabilities
        return (f"capset(effective={len(caps.effective)}, permitted={len(caps.permitted)}, "
                f"inheritable={len(caps.inheritable)}); ambient raise {len(caps.ambient)}")
