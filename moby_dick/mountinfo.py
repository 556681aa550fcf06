"""``/proc/<pid>/mountinfo`` parsed into records (proc(5), "/proc/pid/mountinfo"). Pure and light: no
dataclasses or pathlib, because the cgroup layout is read on the start path of every container with
a cgroup (``moby_dick.probe`` builds on it for the demos and tests)."""

from __future__ import annotations

from .records import Record


class MountEntry(Record):
    """One mount: ids, root within its file system, mount point, per-mount options, optional fields
    (propagation: ("shared:1",), ("master:2",), () for private), fstype, source, super options (for a
    v1 cgroup mount: its controllers)."""

    __slots__ = ("mount_id", "parent_id", "root", "mount_point", "options", "propagation", "fstype", "source",
                 "super_options")
    DEFAULTS = {"super_options": ""}

    @property
    def is_shared(self) -> bool:
        return any(field.startswith("shared:") for field in self.propagation)


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse mountinfo text: fields, optional fields, ``-``, file-system fields."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split(" ")
        separator = fields.index("-", 6)
        entries.append(MountEntry(
            mount_id=int(fields[0]), parent_id=int(fields[1]), root=unescape(fields[3]),
            mount_point=unescape(fields[4]), options=fields[5],
            propagation=tuple(fields[6:separator]), fstype=fields[separator + 1],
            source=unescape(fields[separator + 2]),
            super_options=fields[separator + 3] if len(fields) > separator + 3 else "",
        ))
    return entries
