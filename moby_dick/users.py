"""Who ``-u NAME[:GROUP]`` is: looked up in the root file system's ``/etc/passwd`` and ``/etc/group``.

Pure parsing and resolution (passwd(5), group(5)), with docker's and runc's rules: a name must exist; a
number need not (an unknown uid runs with gid 0 and HOME=/); a known user brings its primary group, its home
and, as supplementary groups, every group of ``/etc/group`` that lists it as a member. The one reader,
:func:`account_files`, opens the files *inside* the root (``openat2(RESOLVE_IN_ROOT)``, see
``Kernel.open_in_root``): a rootfs whose ``/etc`` is a symlink to the host's cannot make moby-dick read the
host's accounts.
"""

from __future__ import annotations

from .errors import UsageError
from .records import Record

MAX_ID = 4294967294  # 4294967295 is (uid_t)-1: "no change" to setresuid(2)


class Account(Record):
    """The resolved user: uid, gid, supplementary gids, and the home directory (for HOME)."""

    __slots__ = ("uid", "gid", "additional_gids", "home")
    DEFAULTS = {"additional_gids": (), "home": "/"}


def parse_passwd(text: str) -> list[tuple[str, int, int, str]]:
    """``name:password:uid:gid:gecos:home:shell`` lines -> (name, uid, gid, home); malformed lines skipped."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2].isdigit() and fields[3].isdigit():
            entries.append((fields[0], int(fields[2]), int(fields[3]), fields[5] or "/"))
    return entries


def parse_group(text: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """``name:password:gid:member,member`` lines -> (name, gid, members); malformed lines skipped."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit():
            entries.append((fields[0], int(fields[2]), tuple(m for m in fields[3].split(",") if m)))
    return entries


def is_id(text: str) -> bool:
    return text.isdigit() and text.isascii() and int(text) <= MAX_ID


def resolve(text: str, passwd: str, group: str) -> Account:
    """``USER[:GROUP]`` (names or numbers) -> Account, from the texts of /etc/passwd and /etc/group.
    Raises UsageError with docker's wording when a name is not found."""
    user_text, has_group, group_text = text.partition(":")
    if not user_text or (has_group and not group_text):
        raise UsageError(f'user "{text}": give USER or USER:GROUP (names or numeric ids)')
    for part in (user_text, group_text):
        if part.isdigit() and not is_id(part):
            raise UsageError(f'user "{text}": ids go up to {MAX_ID} (a 32-bit id; 4294967295 means "none")')
    users = parse_passwd(passwd)
    found = next((u for u in users if (u[1] == int(user_text) if is_id(user_text) else u[0] == user_text)), None)
    if found is None and not is_id(user_text):
        raise UsageError(f'unable to find user {user_text}: no matching entries in passwd file')
    name, uid, gid, home = found if found else (None, int(user_text), 0, "/")
    groups = parse_group(group)
    if group_text:
        if is_id(group_text):
            gid = int(group_text)
        else:
            named = next((g for g in groups if g[0] == group_text), None)
            if named is None:
                raise UsageError(f'unable to find group {group_text}: no matching entries in group file')
            gid = named[1]
    additional = tuple(dict.fromkeys(g[1] for g in groups if name is not None and name in g[2] and g[1] != gid))
    return Account(uid, gid, additional, home)


def account_files(root: str) -> tuple[str, str]:
    """The texts of ``root``'s /etc/passwd and /etc/group, read inside ``root`` ("" when one is missing)."""
    import os
    import stat

    from .syscalls import KERNEL

    texts = []
    for path in ("/etc/passwd", "/etc/group"):
        try:
            handle = KERNEL.open_in_root(root, path)
        except OSError:
            texts.append("")
            continue
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                raise OSError("not a regular file")  # a FIFO or a device would block or mislead the read
            fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as file:
                texts.append(file.read(1 << 20).decode(errors="replace"))
        except OSError:
            texts.append("")
        finally:
            os.close(handle)
    return texts[0], texts[1]
