"""The state directory of ``moby-dick-oci``: one directory per container, and the start gate.

Layout (runc and crun keep the same idea under their ``--root``)::

    <root>/<id>/state.json    id, bundle, pid and its start time, cgroup directories, created, annotations
    <root>/<id>/exec.fifo     the start gate: PID 1 blocks opening it for writing until ``start`` reads it
    <root>/<id>/.lock         flock(2): one lifecycle operation on a container at a time

The status is never trusted from the file. It is derived from the kernel each time it is asked for
(runtime-spec runtime.md, "State"): the pid is alive and is still *our* process (its start time in
``/proc/<pid>/stat`` matches the one recorded: pids are reused), and the gate still exists -> created;
alive and the gate gone -> running; dead or a zombie -> stopped; no pid yet -> creating.
Syscalls: ``mkdir(2)``, ``mkfifo(3)``, ``rename(2)`` (atomic writes), ``flock(2)``. Read proc(5), stat.
"""

from __future__ import annotations

import errno
import fcntl
from . import jsontext  # json through its C module: ~8 ms less per call an engine makes
import os
import time

from .errors import MobyError, UsageError
from .procstat import read_stat, start_time_of  # noqa: F401  (the lifecycle imports them from here)

DEFAULT_ROOT = "/run/moby-dick-oci"
GATE = "exec.fifo"


class NotFound(MobyError):
    pass


def valid_id(container_id: str) -> bool:
    """Ids name directories: letters, digits and ``_ + - .`` only, as runc accepts, and not "." or ".."."""
    return bool(container_id) and container_id not in (".", "..") and len(container_id) <= 1024 and all(
        ch.isascii() and (ch.isalnum() or ch in "_+-.") for ch in container_id)


class ContainerState:
    """One container's directory under the runtime's root."""

    def __init__(self, root: str, container_id: str):
        if not valid_id(container_id):
            raise UsageError(f'invalid container id "{container_id}": use letters, digits, "_", "+", "-", "."')
        self.root, self.id = root, container_id
        self.dir = os.path.join(root, container_id)
        self.data: dict = {}
        # what create forked: attached (`run`), the process to wait for, PID 1 itself or (with a user
        # namespace) the waiter, which exits as PID 1 did
        self.child = 0

    # ---- the directory --------------------------------------------------------------------------
    def make(self, gate: bool = True) -> None:
        """Create the directory (it must not exist: ids are unique) and the gate (none for `run`)."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(self.dir, 0o711)
        except FileExistsError:
            raise UsageError(f'container "{self.id}" already exists') from None
        if not gate:
            return
        os.mkfifo(self.gate_path, 0o622)
        os.chmod(self.gate_path, 0o622)  # whatever the umask: the container's user must be able to write it

    @property
    def gate_path(self) -> str:
        return os.path.join(self.dir, GATE)

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.dir, "state.json")) or os.path.isdir(self.dir)

    def lock(self) -> int:
        """An exclusive flock on the container's lock file, held until the returned fd is closed."""
        fd = os.open(os.path.join(self.dir, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def save(self, **changes) -> None:
        """Write state.json atomically (a temporary file renamed over it)."""
        self.data.update(changes)
        temporary = os.path.join(self.dir, f".state.{os.getpid()}")
        with open(temporary, "w") as file:
            jsontext.dump(self.data, file)
        os.rename(temporary, os.path.join(self.dir, "state.json"))

    def load(self) -> ContainerState:
        try:
            with open(os.path.join(self.dir, "state.json")) as file:
                self.data = jsontext.load(file)
        except FileNotFoundError:
            if os.path.isdir(self.dir):  # made, but create died before writing anything
                self.data = {"id": self.id, "pid": 0}
                return self
            raise NotFound(f'container "{self.id}" does not exist') from None
        except ValueError:
            raise MobyError(f'state of container "{self.id}" is unreadable ({self.dir}/state.json)') from None
        return self

    def remove(self) -> None:
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else ():
            try:
                os.unlink(os.path.join(self.dir, name))
            except OSError as error:
                if error.errno != errno.ENOENT:
                    raise
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass

    # ---- what the kernel says -------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return int(self.data.get("pid") or 0)

    def alive(self) -> bool:
        """PID 1 exists, is not a zombie, and is the process we started (same start time)."""
        if not self.pid:
            return False
        stat = read_stat(self.pid)
        if stat is None or stat[0] in ("Z", "X"):
            return False
        return int(stat[19]) == self.data.get("pid_start")

    def status(self) -> str:
        if not self.pid:
            return "creating"
        if not self.alive():
            return "stopped"
        if os.path.exists(self.gate_path):
            return "created"
        if self.frozen():
            return "paused"
        return "running"

    def frozen(self) -> bool:
        """The container's cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.freeze 1): paused."""
        dirs = (self.data.get("cgroup") or {}).get("dirs") or {}
        for key, name, value in (("freezer", "freezer.state", "FROZEN"), ("", "cgroup.freeze", "1")):
            if key in dirs:
                try:
                    with open(os.path.join(dirs[key], name)) as file:
                        return file.read().strip() == value
                except OSError:
                    return False
        return False

    def public(self) -> dict:
        """The runtime-spec's state document (runtime.md, "State")."""
        status = self.status()
        document = {"ociVersion": "1.3.0", "id": self.id, "status": status,
                    "pid": self.pid if status not in ("stopped", "creating") else 0,
                    "bundle": self.data.get("bundle", ""), "annotations": self.data.get("annotations", {})}
        document["created"] = self.data.get("created", "")
        return document


def now_rfc3339() -> str:
    seconds = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1e9):09d}Z"


def list_ids(root: str) -> list[str]:
    try:
        return sorted(name for name in os.listdir(root) if valid_id(name) and os.path.isdir(os.path.join(root, name)))
    except FileNotFoundError:
        return []
