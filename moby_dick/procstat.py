"""``/proc/<pid>/stat``, read with nothing imported: a process's state and start time (proc(5)).

A pid alone does not name a process for long (pids are recycled); a pid with its start time (field 22,
clock ticks after boot) does. The lifecycle's state, the address leases and the guard use this pair.
"""

from __future__ import annotations


def read_stat(pid: int, proc: str = "/proc") -> list | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces): [state, ppid, ...]."""
    try:
        with open(f"{proc}/{pid}/stat") as file:
            text = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()


def start_time_of(pid: int, proc: str = "/proc") -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), or None if there is no such process."""
    stat = read_stat(pid, proc)
    return None if stat is None else int(stat[19])


def gone(pid: int) -> bool:
    """No such process, or a zombie (it ran its last instruction; only its parent's wait(2) is left)."""
    stat = read_stat(pid)
    return stat is None or stat[0] in ("Z", "X")
