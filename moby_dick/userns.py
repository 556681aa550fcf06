"""User namespaces: root inside, somebody else outside.

Syscalls: ``unshare(CLONE_NEWUSER)``, then the *runtime* (a process outside, with the right to) writes
``/proc/<pid>/uid_map`` and ``gid_map`` (and ``setgroups`` = "deny" when it may not map groups),
then the child becomes uid 0 of its namespace (``setresuid``/``setresgid``) and unshares the other
namespaces, which the new user namespace then owns. Read user_namespaces(7), especially "Defining
user and group ID mappings" and "Interaction of user namespaces and other types of namespaces".

Why the round trip: a process cannot map arbitrary ids for itself; only a process with
CAP_SETUID/CAP_SETGID in the *parent* namespace can write a map of more than its own id. So the child
unshares, says "map-ids" on the channel and waits; the runtime writes the maps and answers
"ids-mapped". The cgroup is joined by the runtime (written from outside), so the container's root
never needs the right to write cgroup.procs.
"""

from __future__ import annotations

from .records import Record


def map_text(mappings) -> str:
    """IdMap records -> the text of a uid_map/gid_map file ("container host size" per line). Pure."""
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


class RequestIdMaps(Record):
    """Step (child, right after unshare(CLONE_NEWUSER)): send "map-ids", await "ids-mapped", then become
    root of the new namespace."""

    __slots__ = ()
    talks = True

    def exchange(self, kernel, channel) -> None:
        channel.expect_after_send("map-ids", "ids-mapped")
        kernel.setresgid(0, 0, 0)
        kernel.setresuid(0, 0, 0)

    def __str__(self) -> str:
        return 'send "map-ids"; await "ids-mapped"; setresgid(0, 0, 0); setresuid(0, 0, 0)'


class WriteIdMaps(Record):
    """Runtime step, on "map-ids": write the child's gid_map and uid_map (setgroups "deny" first when
    asked: an unprivileged writer may map its own gid only that way). ``helper``: a rootless caller's maps
    with its subordinate ranges are written by the setuid ``newgidmap``/``newuidmap`` (shadow-utils), which
    check /etc/subuid and /etc/subgid; an unprivileged process may write only a map of its own ids."""

    __slots__ = ("uid_mappings", "gid_mappings", "deny_setgroups", "helper")
    DEFAULTS = {"deny_setgroups": False, "helper": False}

    def apply(self, kernel, pid: int) -> None:
        if self.helper:
            for tool, mappings in (("newgidmap", self.gid_mappings), ("newuidmap", self.uid_mappings)):
                _run_helper(tool, pid, mappings)
            return
        if self.deny_setgroups:
            kernel.write_file(f"/proc/{pid}/setgroups", "deny")
        if self.gid_mappings:
            kernel.write_file(f"/proc/{pid}/gid_map", map_text(self.gid_mappings))
        if self.uid_mappings:
            kernel.write_file(f"/proc/{pid}/uid_map", map_text(self.uid_mappings))

    def __str__(self) -> str:
        uid = map_text(self.uid_mappings).strip().replace("\n", ", ")
        gid = map_text(self.gid_mappings).strip().replace("\n", ", ")
        if self.helper:
            return f'newgidmap N {gid.replace(",", "")}; newuidmap N {uid.replace(",", "")}; send "ids-mapped"'
        deny = 'write "deny" to /proc/N/setgroups; ' if self.deny_setgroups else ""
        return f'{deny}write "{uid}" to /proc/N/uid_map and "{gid}" to gid_map; send "ids-mapped"'


def _run_helper(tool: str, pid: int, mappings) -> None:
    import shutil
    import subprocess

    from .errors import MobyError

    path = shutil.which(tool) or f"/usr/bin/{tool}"
    argv = [path, str(pid)] + [str(n) for m in mappings for n in (m.container_id, m.host_id, m.size)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise MobyError(f"{tool} {pid}: {reason} (check your ranges in /etc/sub{tool[3:6]})")


# ---- a rootless caller: its own uid as root, plus its subordinate ranges ---------------------------

def rootless_maps(uid: int, gid: int, name: str, subuid: str, subgid: str, helpers: bool) -> tuple:
    """(uid maps, gid maps, use newuidmap) for an unprivileged caller. Pure. Its own uid and gid become 0
    inside; with newuidmap/newgidmap and a subordinate range of its own in both files (subuid(5)), that range
    becomes 1..N; otherwise the map is its single id (and setgroups is denied). Raises UsageError when a range
    of the caller's contains its own id (the maps would overlap: the kernel refuses)."""
    from .config import IdMap
    from .errors import UsageError

    def own(text, own_id, kind):
        ranges = [(start, count) for who, start, count in parse_subordinate(text) if who in (name, str(uid))]
        for start, count in ranges:
            if start <= own_id < start + count:
                raise UsageError(f"your subordinate {kind} range {start}:{count} in /etc/sub{kind} contains your own "
                                 f"{kind} {own_id}; give yourself a range that does not (e.g. usermod --add-sub{kind}s)")
        return ranges[0] if ranges else None

    uid_range, gid_range = own(subuid, uid, "uid"), own(subgid, gid, "gid")
    if helpers and uid_range and gid_range:
        return ((IdMap(0, uid, 1), IdMap(1, uid_range[0], uid_range[1])),
                (IdMap(0, gid, 1), IdMap(1, gid_range[0], gid_range[1])), True)
    return (IdMap(0, uid, 1),), (IdMap(0, gid, 1),), False


def caller_maps() -> tuple:
    """:func:`rootless_maps` for this process: its ids and name, /etc/subuid, /etc/subgid, newuidmap's presence."""
    import os
    import shutil

    def read(path):
        try:
            with open(path) as file:
                return file.read()
        except OSError:
            return ""

    uid, gid = os.getuid(), os.getgid()
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    helpers = bool(shutil.which("newuidmap") and shutil.which("newgidmap"))
    return rootless_maps(uid, gid, name, read("/etc/subuid"), read("/etc/subgid"), helpers)


# ---- moby-dick's own subordinate range, for --userns private --------------------------------------

SUBORDINATE_NAME = "moby-dick"
RANGE_SIZE = 65536
FIRST_ID = 100000


def parse_subordinate(text: str) -> list[tuple[str, int, int]]:
    """/etc/subuid or /etc/subgid text -> [(name, start, count)] (subuid(5)). Pure."""
    entries = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            entries.append((parts[0], int(parts[1]), int(parts[2])))
    return entries


def free_range(entries, size: int = RANGE_SIZE, first: int = FIRST_ID) -> int:
    """The lowest start >= first, aligned to size, whose range overlaps no entry. Pure."""
    start = first
    while any(start < other + count and other < start + size for _, other, count in entries):
        start += size
    return start


def own_range(path: str, create: bool) -> int | None:
    """moby-dick's range start in ``path`` (/etc/subuid or /etc/subgid); with ``create`` (root), add one
    that no other entry uses when there is none."""
    import fcntl
    import os

    try:
        with open(path) as file:
            entries = parse_subordinate(file.read())
    except FileNotFoundError:
        entries = []
    for name, start, count in entries:
        if name == SUBORDINATE_NAME and count >= RANGE_SIZE:
            return start
    if not create:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two first runs at once must not both append
        with open(path) as file:
            entries = parse_subordinate(file.read())
        for name, start, count in entries:
            if name == SUBORDINATE_NAME and count >= RANGE_SIZE:
                return start
        start = free_range(entries)
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, f"{SUBORDINATE_NAME}:{start}:{RANGE_SIZE}\n".encode())
        return start
    finally:
        os.close(fd)


def private_maps(euid: int | None = None) -> tuple:
    """--userns private as root: (uid maps, gid maps) from moby-dick's ranges, created on first use."""
    import os

    from .config import IdMap
    from .errors import UsageError

    root = (os.geteuid() if euid is None else euid) == 0
    uid_start, gid_start = own_range("/etc/subuid", root), own_range("/etc/subgid", root)
    if uid_start is None or gid_start is None:
        raise UsageError(f'--userns private: no "{SUBORDINATE_NAME}" range in /etc/subuid and /etc/subgid; as root '
                         f'moby-dick adds one itself, or add "{SUBORDINATE_NAME}:{FIRST_ID}:{RANGE_SIZE}" to both')
    return (IdMap(0, uid_start, RANGE_SIZE),), (IdMap(0, gid_start, RANGE_SIZE),)
