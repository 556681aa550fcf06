"""Resource limits with cgroups, v1 and v2, and what the container used.

Syscalls: none of its own: cgroups are a file system. ``mkdir(2)`` makes a cgroup, ``write(2)`` to its
files sets limits (``memory.max`` / ``memory.limit_in_bytes`` ...), writing a pid to ``cgroup.procs``
moves that process in, writing ``0`` to a v1 ``tasks`` moves the writing thread (every child it forks
stays there), reading the files reports usage, ``rmdir(2)`` removes an empty cgroup. Read cgroups(7), the kernel's Documentation/admin-guide/cgroup-v2.rst and
cgroup-v1/{memory,pids,cpuacct}.rst, and sched-bwc.rst for CPU quotas.

Two layouts exist. **v2** (most machines): one tree, every controller in it, files such as
``memory.max``, ``pids.max``, ``cpu.max``, ``cpu.weight``. **v1** (this course's VM; "hybrid" when a v2
tree without those controllers is mounted too): one tree per controller under
``/sys/fs/cgroup/<controller>/``, files such as ``memory.limit_in_bytes``, ``cpu.cfs_quota_us``.

Placement: the container's cgroup is created *beneath the cgroup moby-dick itself runs in*, per
hierarchy, as read from ``/proc/self/cgroup`` (or beneath ``--cgroup-parent``), and named
``moby-dick-<creator pid>-<random>``: a name moby-dick can recognise as its own, and whose creator can
be checked for life. The child joins it before anything else, so there is no moment without limits.
"""

from __future__ import annotations

import os
import time

from .errors import MobyError, UsageError
from .records import Record
from .syscalls import MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY

CGROUP_ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "freezer", "cpuset", "blkio", "devices", "hugetlb",
                  "net_cls", "net_prio", "perf_event", "rdma", "misc")
PREFIX = "moby-dick-"
CPU_PERIOD_US = 100_000
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MAX_MEMORY = 1 << 50  # 1 PiB: beyond it a "limit" is a typo
MIN_MEMORY = 6 << 20  # the kernel and the runtime need some: docker's minimum is 6 MiB


class Limits(Record):
    """memory, memory_swap: bytes (memory_swap is memory + swap, -1 unlimited); pids: a count;
    cpus: a fraction of CPUs (0.5 = half of one); cpu_shares: v1 shares (v2 weight is derived)."""

    __slots__ = ("memory", "memory_swap", "pids", "cpus", "cpu_shares")
    DEFAULTS = {"memory": None, "memory_swap": None, "pids": None, "cpus": None, "cpu_shares": None}

    def controllers(self) -> set[str]:
        wanted = set()
        if self.memory is not None or self.memory_swap is not None:
            wanted.add("memory")
        if self.pids is not None:
            wanted.add("pids")
        if self.cpus is not None or self.cpu_shares is not None:
            wanted.add("cpu")
        return wanted


# ---- parsing (pure) ---------------------------------------------------------------------------

def parse_size(text: str, what: str = "--memory") -> int:
    """``64m`` -> 67108864. Units b, k, m, g, t (powers of 1024), as docker takes them."""
    value = text.strip().lower()
    unit = value[-1] if value and value[-1] in _UNITS and not value[-1].isdigit() else ""
    number = value[: len(value) - len(unit)]
    if not number or number.count(".") > 1 or not number.replace(".", "").isascii() \
            or not number.replace(".", "").isdigit():
        raise UsageError(f'{what} "{text}": give a size such as 64m, 512k or 1g')
    size = int(float(number) * _UNITS[unit])
    if size <= 0:
        raise UsageError(f'{what} "{text}": must be more than zero')
    if size > MAX_MEMORY:
        raise UsageError(f'{what} "{text}": more than 1 PiB is surely a typo')
    return size


def parse_limits(memory=None, memory_swap=None, pids=None, cpus=None, cpu_shares=None,
                 cpu_count: int | None = None) -> Limits:
    """The CLI's texts -> Limits, with one readable UsageError for each kind of bad value."""
    from .validate import is_whole_number

    limits = {}
    if memory is not None:
        limits["memory"] = parse_size(memory)
        if limits["memory"] < MIN_MEMORY:
            raise UsageError(f'--memory "{memory}": the minimum is 6m')
    if memory_swap is not None:
        if memory is None:
            raise UsageError("--memory-swap needs --memory")
        limits["memory_swap"] = -1 if memory_swap.strip() == "-1" else parse_size(memory_swap, "--memory-swap")
        if limits["memory_swap"] != -1 and limits["memory_swap"] < limits["memory"]:
            raise UsageError("--memory-swap is memory plus swap: it cannot be less than --memory")
    if pids is not None:
        if not is_whole_number(pids) or int(pids) < 1 or int(pids) > 4_194_304:
            raise UsageError(f'--pids-limit "{pids}": give a whole number from 1 to 4194304')
        limits["pids"] = int(pids)
    if cpus is not None:
        try:
            value = float(cpus)
        except ValueError:
            raise UsageError(f'--cpus "{cpus}": give a number such as 0.5') from None
        available = cpu_count or os.cpu_count() or 1
        if not 0.01 <= value <= available:
            raise UsageError(f'--cpus "{cpus}": choose from 0.01 to {available} (the CPUs of this machine)')
        limits["cpus"] = value
    if cpu_shares is not None:
        if not is_whole_number(cpu_shares) or not 2 <= int(cpu_shares) <= 262144:
            raise UsageError(f'--cpu-shares "{cpu_shares}": give a whole number from 2 to 262144')
        limits["cpu_shares"] = int(cpu_shares)
    return Limits(**limits)


def limit_files(limits: Limits, version: str) -> dict[str, dict[str, str]]:
    """``{controller: {file: text}}`` to write for ``limits`` under cgroup ``version`` ("v1"/"v2"). Pure."""
    files: dict[str, dict[str, str]] = {}
    if version == "v2":
        v2: dict[str, str] = {}
        if limits.memory is not None:
            v2["memory.max"] = str(limits.memory)
        if limits.memory_swap is not None:
            v2["memory.swap.max"] = "max" if limits.memory_swap == -1 else str(limits.memory_swap - limits.memory)
        if limits.pids is not None:
            v2["pids.max"] = str(limits.pids)
        if limits.cpus is not None:
            v2["cpu.max"] = f"{round(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"
        if limits.cpu_shares is not None:  # the kernel's own mapping, as runc and crun use it
            v2["cpu.weight"] = str(1 + ((limits.cpu_shares - 2) * 9999) // 262142)
        return {"": v2} if v2 else {}
    if limits.memory is not None:
        memory = files.setdefault("memory", {})
        memory["memory.limit_in_bytes"] = str(limits.memory)
        if limits.memory_swap is not None:
            memory["memory.memsw.limit_in_bytes"] = str(limits.memory_swap)
    if limits.pids is not None:
        files.setdefault("pids", {})["pids.max"] = str(limits.pids)
    if limits.cpus is not None:
        files.setdefault("cpu", {}).update({"cpu.cfs_period_us": str(CPU_PERIOD_US),
                                            "cpu.cfs_quota_us": str(round(limits.cpus * CPU_PERIOD_US))})
    if limits.cpu_shares is not None:
        files.setdefault("cpu", {})["cpu.shares"] = str(limits.cpu_shares)
    return files


# ---- the layout (pure parsers; the readers take the paths as parameters) ----------------------

class Layout(Record):
    """version: "v2", "v1" or "hybrid"; roots: {controller: (mount point, own cgroup path)}; for v2
    the single key "" holds the unified tree. ``available``: controllers usable for limits."""

    __slots__ = ("version", "roots", "available")


def parse_layout(mountinfo_entries, self_cgroup: str, cgroup_root: str = CGROUP_ROOT) -> Layout:
    own = {}  # hierarchy id -> (controllers, path)
    for line in self_cgroup.splitlines():
        number, controllers, path = line.split(":", 2)
        own[controllers] = path
    v1_roots, v2_root = {}, None
    for entry in mountinfo_entries:
        if not entry.mount_point.startswith(cgroup_root):
            continue
        if entry.fstype == "cgroup2":
            v2_root = (entry.mount_point, own.get("", "/"))
        elif entry.fstype == "cgroup":
            names = [o for o in entry.super_options.split(",") if o in V1_CONTROLLERS]
            path = next((p for c, p in own.items() if sorted(c.split(",")) == sorted(names)), "/")
            for name in names:
                v1_roots[name] = (entry.mount_point, path)
    if v1_roots:
        version = "hybrid" if v2_root else "v1"
        return Layout(version, v1_roots, frozenset(v1_roots))
    if v2_root:
        return Layout("v2", {"": v2_root}, frozenset())  # available: read from cgroup.controllers
    return Layout("none", {}, frozenset())


_LAYOUTS: dict = {}  # (the cgroup lines of mountinfo, /proc/self/cgroup, root) -> Layout: parsed once


def remove_abandoned(name: str, dirs: dict) -> None:
    """The guard's undo (:mod:`moby_dick.guard`) after its runtime died: kill what is left in the
    cgroup ``name`` made at ``dirs``, and remove it."""
    Cgroup.existing(detect(), dirs, name=name).remove()


def detect(proc: str = "/proc", cgroup_root: str = CGROUP_ROOT) -> Layout:
    """The cgroup layout this process sees now: both files are read at every call (a mount or a move
    changes them), parsed only when they changed (~0.15 ms of each plan of a long-lived caller)."""
    mounts = "\n".join(line for line in _read(f"{proc}/self/mountinfo").splitlines() if " - cgroup" in line)
    own = _read(f"{proc}/self/cgroup")
    layout = _LAYOUTS.get((mounts, own, cgroup_root))
    if layout is None:
        from .mountinfo import parse_mountinfo

        layout = parse_layout(parse_mountinfo(mounts), own, cgroup_root)
        if len(_LAYOUTS) > 16:
            _LAYOUTS.clear()
        _LAYOUTS[(mounts, own, cgroup_root)] = layout
    if layout.version == "v2":
        mount, path = layout.roots[""]
        try:
            with open(os.path.join(mount, path.lstrip("/"), "cgroup.controllers")) as file:
                layout = layout.replace(available=frozenset(file.read().split()))
        except OSError:
            pass
    return layout


# ---- a container's cgroup ---------------------------------------------------------------------

class Cgroup:
    """The container's cgroup: one directory per hierarchy it needs (v1), or one (v2).

    Created by the parent before the fork; PID 1 joins it (:class:`JoinCgroup`, v1) or the runtime
    places PID 1 in it (:class:`PlaceInCgroup`, v2 or a user namespace); after the container exits,
    :meth:`remove` kills what is left and removes the directories.
    """

    def __init__(self, layout: Layout, limits: Limits, parent: str | None = None, name: str | None = None,
                 kernel=None, make_parents: bool = False, every_controller: bool = False, files=None):
        from .syscalls import KERNEL

        self.layout, self.limits, self.kernel = layout, limits, kernel or KERNEL
        self.make_parents = make_parents  # OCI cgroupsPath: the directories above it may be missing too
        self.made: list = []  # directories created, the parents included, removed in reverse
        self.files = files or {}  # {controller: {file: text}} beyond the limits (OCI linux.resources)
        self.name = name or f"{PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        self.dirs: dict[str, str] = {}  # controller ("" for v2) -> directory
        wanted = limits.controllers()
        if layout.version == "v2":
            missing = wanted - set(layout.available)
            if missing:
                raise MobyError(f"cgroup v2: the {', '.join(sorted(missing))} controller is not enabled for "
                                f"moby-dick's cgroup (cgroup.controllers of {self._base('')}); run moby-dick in a "
                                "cgroup whose parent delegates it")
            self.dirs[""] = os.path.join(self._parent_dir("", parent), self.name)
        else:
            missing = wanted - set(layout.available)
            if missing:
                raise MobyError(f"this kernel has no {', '.join(sorted(missing))} cgroup controller mounted; "
                                f"drop the limit that needs it")
            # memory, pids, cpu for limits; cpuacct for the CPU time --stats reports; freezer to stop
            # everything at once before the final kill (v1 has no cgroup.kill)
            base = set(layout.available) if every_controller else wanted | {"memory", "pids", "cpuacct", "freezer"}
            base |= set(self.files) - {""}  # the controllers whose files it writes (devices for the rules)
            for controller in sorted(base & set(layout.available)):
                self.dirs[controller] = os.path.join(self._parent_dir(controller, parent), self.name)

    @classmethod
    def existing(cls, layout: Layout, dirs: dict, kernel=None, name: str = "") -> Cgroup:
        """The cgroup of a container made earlier (its directories, as recorded in its state)."""
        cgroup = cls.__new__(cls)
        from .syscalls import KERNEL

        cgroup.layout, cgroup.limits, cgroup.kernel = layout, Limits(), kernel or KERNEL
        cgroup.name, cgroup.dirs, cgroup.make_parents, cgroup.made, cgroup.files = name, dict(dirs), False, [], {}
        return cgroup

    def freeze(self, frozen: bool) -> None:
        """v2 ``cgroup.freeze``; v1 the freezer's ``freezer.state`` (``pause``/``resume``)."""
        if "" in self.dirs:
            self.kernel.write_file(os.path.join(self.dirs[""], "cgroup.freeze"), "1" if frozen else "0")
        elif "freezer" in self.dirs:
            self.kernel.write_file(os.path.join(self.dirs["freezer"], "freezer.state"), "FROZEN" if frozen else "THAWED")
        else:
            raise MobyError("pause needs the freezer cgroup controller, which this container's cgroup lacks")

    def frozen(self) -> bool:
        if "" in self.dirs:
            return (self.read("", "cgroup.freeze") or "0").strip() == "1"
        return (self.read("freezer", "freezer.state") or "").strip() == "FROZEN"

    def _parent_dir(self, controller: str, parent: str | None) -> str:
        """--cgroup-parent: an absolute cgroup path is taken from the hierarchy's root, as docker does;
        a relative one (the safe choice) from moby-dick's own cgroup in each hierarchy."""
        if parent is None:
            return self._base(controller)
        if parent.startswith("/"):
            return os.path.join(self.layout.roots[controller][0], parent.lstrip("/"))
        return os.path.join(self._base(controller), parent)

    def _base(self, controller: str) -> str:
        mount, path = self.layout.roots[controller]
        return os.path.join(mount, path.lstrip("/"))

    def create(self, controllers=None) -> None:
        """mkdir every directory (or those of ``controllers``) and write their limits and files; on any
        failure remove what was made."""
        made = []
        dirs = {c: d for c, d in self.dirs.items() if controllers is None or c in controllers}
        try:
            for controller, directory in dirs.items():
                parent = os.path.dirname(directory)
                if self.make_parents and not os.path.isdir(parent):
                    missing = []
                    while not os.path.isdir(parent):
                        missing.append(parent)
                        parent = os.path.dirname(parent)
                    for path in reversed(missing):
                        self.kernel.mkdir(path)
                        made.append(path)
                        self.made.append(path)
                    parent = os.path.dirname(directory)
                if not os.path.isdir(parent):
                    raise UsageError(f'cgroup parent "{parent}" does not exist')
                if directory in made:
                    continue  # two controllers of one hierarchy (cpu,cpuacct)
                try:
                    self.kernel.mkdir(directory)
                except OSError as error:
                    raise MobyError(f'cannot create cgroup "{directory}": {error.strerror}'
                                    + (" (is the cgroup file system read-only?)" if error.errno == 30 else "")) from None
                made.append(directory)
            version = "v2" if self.layout.version == "v2" else "v1"
            if "cpuset" in self.dirs and version == "v1":
                self._inherit_cpuset(made)
            writes = limit_files(self.limits, version)
            for controller, files in self.files.items():
                writes.setdefault(controller, {}).update(files)
            for controller, files in writes.items():
                if controllers is not None and controller not in controllers:
                    continue
                if controller not in self.dirs:
                    raise MobyError(f"the {controller or 'unified'} cgroup controller is not available here")
                for name, texts in _runs(files):
                    path = os.path.join(self.dirs[controller], name)
                    try:
                        if len(texts) == 1:
                            self.kernel.write_file(path, texts[0])
                        else:
                            self.kernel.write_each(path, texts)
                    except OSError as error:
                        text = getattr(error, "text", texts[0])
                        raise MobyError(f'cannot set {name} to {text} in "{self.dirs[controller]}": '
                                        f"{error.strerror}") from None
        except BaseException:
            for directory in reversed(made):
                _rmdir_quietly(directory, self.kernel)
            raise

    def _inherit_cpuset(self, made) -> None:
        """A new v1 cpuset cgroup starts with empty cpus and mems, and refuses tasks until they are set:
        copy them down from the parent, for every level this cgroup created (runc does the same)."""
        mount = self.layout.roots["cpuset"][0].rstrip("/") + "/"
        for directory in [d for d in made if d.startswith(mount)]:  # parents first, as they were made
            for name in ("cpuset.cpus", "cpuset.mems"):
                own = os.path.join(directory, name)
                try:
                    with open(own) as file:
                        if file.read().strip():
                            continue
                    with open(os.path.join(os.path.dirname(directory), name)) as file:
                        self.kernel.write_file(own, file.read().strip())
                except OSError:
                    pass

    def procs_files(self) -> tuple[str, ...]:
        return tuple(os.path.join(directory, "cgroup.procs") for directory in self.dirs.values())

    def tasks_files(self, controllers=None) -> tuple[str, ...]:
        """v1: each hierarchy's ``tasks`` (one per directory: cpu,cpuacct may share one), or those of
        ``controllers``."""
        dirs = (d for c, d in self.dirs.items() if controllers is None or c in controllers)
        return tuple(os.path.join(directory, "tasks") for directory in dict.fromkeys(dirs))

    def pids(self) -> set[int]:
        found = set()
        for path in self.procs_files():
            try:
                with open(path) as file:
                    found.update(int(line) for line in file.read().split())
            except FileNotFoundError:
                pass
        return found

    def read(self, controller: str, name: str) -> str | None:
        directory = self.dirs.get(controller) if controller in self.dirs else self.dirs.get("")
        if directory is None:
            return None
        try:
            return _read(os.path.join(directory, name))
        except OSError:
            return None

    def stats(self) -> dict:
        """What the container used, read from the cgroup's own files (``None``: not available)."""
        v2 = self.layout.version == "v2"
        peak = self.read("memory", "memory.peak" if v2 else "memory.max_usage_in_bytes")
        if v2:
            cpu = _field(self.read("", "cpu.stat"), "usage_usec")
            cpu_seconds = None if cpu is None else cpu / 1e6
        else:
            usage = self.read("cpuacct", "cpuacct.usage")
            cpu_seconds = None if usage is None else int(usage) / 1e9
        return {"peak_memory_bytes": None if peak is None else int(peak.split()[0]),
                "cpu_seconds": cpu_seconds,
                "pids_refused": _field(self.read("pids", "pids.events"), "max"),
                "oom_kills": self.oom_kills(),
                "cpu_throttled": _field(self.read("cpu", "cpu.stat"), "nr_throttled")}

    def oom_kills(self) -> int | None:
        if self.layout.version == "v2":
            return _field(self.read("", "memory.events"), "oom_kill")
        return _field(self.read("memory", "memory.oom_control"), "oom_kill")

    def remove(self, timeout: float = 5.0) -> None:
        """Kill every process left in the cgroup, then remove its directories.

        v2 (Linux >= 5.14): one write of "1" to ``cgroup.kill``. v1: freeze the cgroup (``freezer.state``
        FROZEN), so that nothing can fork while the list is read and killed, then thaw it: the
        SIGKILLs are delivered and everything exits."""
        kill_file = os.path.join(self.dirs.get("", ""), "cgroup.kill") if "" in self.dirs else None
        freezer = os.path.join(self.dirs["freezer"], "freezer.state") if "freezer" in self.dirs else None
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if kill_file and pids and os.path.exists(kill_file):
                _write(self.kernel, kill_file, "1")
            elif pids:
                if freezer:
                    _write(self.kernel, freezer, "FROZEN")
                for pid in self.pids():
                    self.kernel.kill(pid, 9)
                if freezer:
                    _write(self.kernel, freezer, "THAWED")
            if all(_rmdir_quietly(d, self.kernel) for d in self.dirs.values()) or time.monotonic() > deadline:
                for parent in reversed(self.made):  # the parents this cgroup made, if now empty
                    _rmdir_quietly(parent, self.kernel)
                return
            time.sleep(0.01)


def _runs(files: dict) -> list:
    """{file or "file#N": text} -> [(file, [text, ...])], the writes to one file in a row kept together
    ("devices.allow#3" is one of several writes to devices.allow), in order. Pure."""
    runs: list = []
    for key, text in files.items():
        name = key.split("#")[0]
        if runs and runs[-1][0] == name:
            runs[-1][1].append(text)
        else:
            runs.append((name, [text]))
    return runs


def _read(path: str) -> str:
    """A small kernel file, whole, with open(2) and read(2) (no buffered text file to build)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def _write(kernel, path: str, text: str) -> None:
    try:
        kernel.write_file(path, text)
    except OSError:
        pass  # gone already, or not supported: the kill loop carries on


def _field(text: str | None, key: str) -> int | None:
    if text is None:
        return None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return None


def _rmdir_quietly(directory: str, kernel=None) -> bool:
    """True once the directory is gone."""
    try:
        if kernel is None:
            os.rmdir(directory)
        else:
            kernel.rmdir(directory)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


class CreateCgroup(Record):
    """Host step: make the container's cgroup (named when the plan was made) and write its limits;
    its removal is registered first, so that nothing exists that nothing will remove. ``later``: the
    controllers :class:`CreateDeviceCgroup` makes instead, while PID 1 starts."""

    __slots__ = ("cgroup", "later")
    DEFAULTS = {"later": ()}

    def apply(self, host) -> None:
        host.cleanup.append(self.cgroup.remove)
        self.cgroup.create(None if not self.later else [c for c in self.cgroup.dirs if c not in self.later])

    def __str__(self) -> str:
        files = limit_files(self.cgroup.limits, "v2" if self.cgroup.layout.version == "v2" else "v1")
        writes = "; ".join(f"{name} = {text}" for per in files.values() for name, text in per.items())
        dirs = [d for c, d in self.cgroup.dirs.items() if c not in self.later]
        return "mkdir " + ", ".join(dirs) + (f"; write {writes}" if writes else "")


class CreateDeviceCgroup(Record):
    """Runtime step (cgroup v1): make the devices hierarchy's cgroup and write its rules (``devices.deny
    a``, then one ``devices.allow`` per device: ~0.2 ms) as soon as the runtime's fork returned, while
    PID 1 mounts its root; PID 1 joins it after "go", before its own cgroup namespace and before
    anything of the container's runs. The guard and the clean-up know its directory from the plan."""

    __slots__ = ("cgroup", "done")
    DEFAULTS = {"done": None}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.done is None:
            object.__setattr__(self, "done", [])  # a holder: whether early() made it already

    def early(self, kernel, pid: int) -> None:
        if not self.done:
            self.cgroup.create(("devices",))
            self.done.append(True)

    def apply(self, kernel, pid: int) -> None:
        self.early(kernel, pid)  # PID 1's pid came from a waiter: only now

    def __eq__(self, other) -> bool:  # what it will do, not whether it did
        return type(other) is CreateDeviceCgroup and other.cgroup is self.cgroup

    def __hash__(self) -> int:
        return hash("CreateDeviceCgroup")

    def __str__(self) -> str:
        rules = self.cgroup.files.get("devices", {})
        return f"mkdir {self.cgroup.dirs['devices']}; {len(rules)} device rules (while PID 1 starts)"


class PlaceInCgroup(Record):
    """Runtime step, on "pid1 N": write N into each ``cgroup.procs``. PID 1 is waiting for "go", so it
    is limited before any of the container's code runs; the waiter outside is not counted."""

    __slots__ = ("cgroup",)

    def apply(self, kernel, pid: int) -> None:
        for path in self.cgroup.procs_files():
            kernel.write_file(path, str(pid))

    def __str__(self) -> str:
        return "write N to " + ", ".join(self.cgroup.procs_files())


class JoinCgroup(Record):
    """Init step, PID 1's first (cgroup v1, no user namespace): PID 1 moves itself, writing ``0`` to
    each hierarchy's ``tasks``, before anything of the container's runs.

    Why not the runtime writing N to ``cgroup.procs``: moving a whole thread group write-locks the
    kernel's global ``cgroup_threadgroup_rwsem``, a per-cpu rwsem whose writer must first wait out an
    RCU grace period when it was idle (5-20 ms on this VM; ``benchmarks/cgroup_write.py`` measures it).
    A thread moving *itself* needs no such lock: it cannot exit or exec under the kernel's hands
    (``cgroup_procs_write_start`` in kernel/cgroup/cgroup.c). PID 1 was just forked, so it has one
    thread, which is the whole process. cgroup v2 has no ``tasks`` (its ``cgroup.threads`` moves a
    thread only inside a threaded subtree), so there the runtime places PID 1 (:class:`PlaceInCgroup`);
    and with a user namespace PID 1 may not write the host's cgroup files."""

    __slots__ = ("cgroup", "controllers")
    DEFAULTS = {"controllers": None}  # None: every hierarchy of the cgroup

    def apply(self, kernel) -> None:
        for path in self.cgroup.tasks_files(self.controllers):
            kernel.write_file(path, "0")

    def __str__(self) -> str:
        return "write 0 (itself, one thread) to " + ", ".join(self.cgroup.tasks_files(self.controllers))


def cgroupfs_mounts(layout: Layout, joined=None) -> tuple:
    """What to mount at the container's /sys/fs/cgroup: ``(subdirectory, fstype, options)`` per
    hierarchy the container joined (``joined``: controllers; in the others its cgroup namespace's
    root would be moby-dick's own cgroup, not its own), the v1 controllers that share a mount kept
    together (cpu,cpuacct on some machines). Pure."""
    if layout.version == "v2":
        return (("", "cgroup2", None),)
    by_mount: dict[str, list[str]] = {}
    for controller, (mount, _) in layout.roots.items():
        if controller and (joined is None or controller in joined):
            by_mount.setdefault(mount, []).append(controller)
    return tuple((os.path.basename(mount), "cgroup", ",".join(sorted(controllers)))
                 for mount, controllers in sorted(by_mount.items()))


class MountCgroupFs(Record):
    """Step: a read-only cgroup file system at ``path`` (the container's /sys/fs/cgroup). Mounted after
    ``unshare(CLONE_NEWCGROUP)``, it shows the container's own cgroup as its root."""

    __slots__ = ("target", "mounts")

    def apply(self, kernel) -> None:
        from .mounts import mount_on, mount_on_descriptor  # (a module: no importlib code runs in PID 1)

        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if len(self.mounts) == 1 and not self.mounts[0][0]:  # v2: the one hierarchy, right there
            _, fstype, options = self.mounts[0]
            mount_on(kernel, self.target, fstype, fstype, flags, options)
            return
        # v1: a fresh tmpfs holds one directory per hierarchy, each made relative to one descriptor of it
        mount_on(kernel, self.target, "moby-dick-cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
        tmpfs = kernel.open_in_root(self.target.root, self.target.path)
        try:
            for subdirectory, fstype, options in self.mounts:
                fd = kernel.make_at(tmpfs, subdirectory, "dir")
                try:
                    mount_on_descriptor(kernel, fd, f"{self.target}/{subdirectory}", fstype, fstype, flags, options)
                finally:
                    kernel.close(fd)
        finally:
            kernel.close(tmpfs)

    def __str__(self) -> str:
        return f'mount the cgroup hierarchies read-only under "{self.target}": ' + ", ".join(
            f"{fstype}({options or ''})" for _, fstype, options in self.mounts)


def sweep(layout: Layout | None = None) -> list[str]:
    """Remove moby-dick cgroups beneath this process's own cgroup whose creator is dead and that are
    empty (what a run killed with SIGKILL, and its guard, left). Returns their paths."""
    layout = layout or detect()
    removed = []
    bases = {os.path.join(mount, path.lstrip("/")) for mount, path in layout.roots.values()}
    for base in bases:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            if not name.startswith(PREFIX):
                continue
            creator = name[len(PREFIX):].split("-")[0]
            if creator.isdigit() and os.path.exists(f"/proc/{creator}"):
                continue  # its run is alive
            directory = os.path.join(base, name)
            try:
                with open(os.path.join(directory, "cgroup.procs")) as file:
                    if file.read().strip():
                        continue
            except OSError:
                continue
            if _rmdir_quietly(directory):
                removed.append(directory)
    return removed
