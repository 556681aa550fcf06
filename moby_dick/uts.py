"""UTS isolation: the container's own hostname.

Syscalls: ``unshare(CLONE_NEWUTS)`` (in :mod:`moby_dick.namespaces`), then ``sethostname(2)``.
Read uts_namespaces(7) and sethostname(2). ``uname(2)``'s ``nodename`` is what ``hostname`` prints.

The kernel accepts any bytes up to 64 (``__NEW_UTS_LEN``) in a hostname, NUL included; moby-dick
checks names against RFC 1123 first, so that what the container gets is a name other programs can
resolve and print.
"""

from __future__ import annotations

from .records import Record

DEFAULT_HOSTNAME = "containerhostname"  # the seed's
MAX_HOSTNAME_BYTES = 64  # __NEW_UTS_LEN in include/uapi/linux/utsname.h
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def hostname_problems(name: str) -> list[str]:
    """What is wrong with ``name`` as a hostname (empty list: nothing). Pure."""
    if name == "":
        return ["hostname is empty"]
    if len(name.encode("utf-8", "surrogateescape")) > MAX_HOSTNAME_BYTES:
        return [f"hostname is longer than {MAX_HOSTNAME_BYTES} bytes"]
    if "\0" in name:
        return ["hostname contains a NUL byte"]
    for label in name.split("."):
        if label == "":
            return ["hostname has an empty label (leading, trailing or double dot)"]
        if len(label) > 63:
            return ["a hostname label is longer than 63 characters"]
        bad = sorted(set(label) - _LABEL_CHARS)
        if bad:
            return [f"hostname contains {bad[0]!r}; use letters, digits, '-' and '.'"]
        if label.startswith("-") or label.endswith("-"):
            return ["a hostname label starts or ends with '-'"]
    return []


class SetHostname(Record):
    """Step: ``sethostname(name)`` inside the container's new UTS namespace."""

    __slots__ = ("name",)

    def apply(self, kernel) -> None:
        kernel.sethostname(self.name)

    def __str__(self) -> str:
        return f'sethostname("{self.name}")'


class SetDomainname(Record):
    """Step: ``setdomainname(2)``, the NIS domain name, in the container's own UTS namespace."""

    __slots__ = ("name",)

    def apply(self, kernel) -> None:
        kernel.sethostname_domain(self.name)

    def __str__(self) -> str:
        return f'setdomainname("{self.name}")'
