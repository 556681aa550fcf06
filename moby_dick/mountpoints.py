"""Mount-point directories that moby-dick creates on the host, and removes again, even after SIGKILL.

The seed required ``/mytmp`` to exist. moby-dick creates a missing mount point, and must then remove
it, but only when no other moby-dick still uses it: two containers may run at once (pytest-xdist
does this all day), and ``rmdir`` of a directory that is a mount point in *another* mount namespace
succeeds and silently detaches that container's tmpfs (Linux >= 3.18, "vfs: Lazily remove mounts on
unlinked files and directories"). So:

* a directory moby-dick created has a lock file ``<state>/<path>.lock`` (its existence says "ours");
* every run that uses it holds a shared ``flock(2)`` on that file for the container's lifetime;
  the kernel drops the lock when the holder dies, however it dies;
* the run that ends last (its ``LOCK_EX|LOCK_NB`` succeeds) removes the directory and the lock file;
* a short exclusive lock on ``<state>/.lock`` orders creation against removal.

If moby-dick itself is SIGKILLed it cannot clean up; its guard (:mod:`moby_dick.guard`) then removes
what no live run holds any more (:meth:`MountpointRegistry.release_abandoned`).
Syscalls: ``mkdir(2)``, ``rmdir(2)``, ``flock(2)``. Read flock(2).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

STATE_DIR = "/run/moby-dick/mountpoints"


class Claim:
    """One run's hold on a mount point moby-dick created: the path, its lock file, the locked fd."""

    __slots__ = ("path", "lock_path", "fd")

    def __init__(self, path: str, lock_path: str, fd: int):
        self.path, self.lock_path, self.fd = path, lock_path, fd


class ClaimMountpoint:
    """Host step: create the mount point ``path`` on the host if it is missing, and hold it with a
    shared flock for the container's lifetime (the last run to let go removes it)."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def apply(self, host) -> None:
        claim = host.registry.acquire(self.path)
        if claim is not None:
            host.cleanup.append(lambda: host.registry.release(claim))

    def __eq__(self, other) -> bool:
        return type(other) is ClaimMountpoint and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"ClaimMountpoint({self.path!r})"

    def __str__(self) -> str:
        return f'mkdir("{self.path}") on the host if missing; flock(LOCK_SH) its lock file until the end'


class _Exclusive:
    """``with _Exclusive(state_dir):`` holds ``flock(LOCK_EX)`` on ``<state_dir>/.lock``."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir

    def __enter__(self):
        os.makedirs(self.state_dir, exist_ok=True)
        self.fd = os.open(os.path.join(self.state_dir, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self.fd)


def release_abandoned(state_dir: str, paths) -> None:
    """The guard's undo (:mod:`moby_dick.guard`) after its runtime died: remove those of ``paths`` whose
    users all died (:meth:`MountpointRegistry.release_abandoned`)."""
    MountpointRegistry(state_dir).release_abandoned(paths)


class MountpointRegistry:
    def __init__(self, state_dir=STATE_DIR):
        self.state_dir = os.fspath(state_dir)

    def lock_path(self, path: str) -> str:
        return os.path.join(self.state_dir, path.replace("%", "%25").replace("/", "%2F") + ".lock")

    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self.state_dir)

    def _lock_files(self) -> list[str]:
        if not os.path.isdir(self.state_dir):
            return []
        return [os.path.join(self.state_dir, name) for name in os.listdir(self.state_dir) if name.endswith(".lock")
                and name != ".lock"]

    @staticmethod
    def _path_of(lock_path: str) -> str:
        return os.path.basename(lock_path)[: -len(".lock")].replace("%2F", "/").replace("%25", "%")

    def acquire(self, path: str) -> Claim | None:
        """Create ``path`` if it is missing and claim it; None if it is the host's own directory."""
        lock_path = self.lock_path(path)
        with self._exclusive():
            if os.path.lexists(path) and not os.path.exists(lock_path):
                return None  # not created by moby-dick: never touch it
            # The lock file first, then the directory: killed in between, a lock file nobody holds
            # is left, which the guard and `cleanup` remove; the other order left a directory that
            # every later run took for the host's own.
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                pass
            except BaseException:
                os.close(fd)
                raise
            return Claim(path, lock_path, fd)

    def release(self, claim: Claim) -> None:
        """Drop the claim; the last user removes the directory. Safe to call twice."""
        if claim.fd < 0:
            return
        with self._exclusive():
            try:
                fcntl.flock(claim.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another container still uses it; the last one removes it
            else:
                self._remove(claim.path, claim.lock_path)
            finally:
                os.close(claim.fd)
                claim.fd = -1

    def _remove(self, path: str, lock_path: str) -> None:
        try:
            os.rmdir(path)
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EBUSY, errno.ENOTDIR):
                raise
        try:
            os.unlink(lock_path)
        except FileNotFoundError:
            pass

    def release_abandoned(self, paths, timeout: float = 2.0) -> None:
        """The guard's clean-up: remove those of ``paths`` whose users all died. A dying container may
        hold its claim a moment longer, so retry until ``timeout``; a live run's claim is left to it."""
        deadline = time.monotonic() + timeout
        while True:
            self.sweep()
            if not any(os.path.exists(self.lock_path(path)) for path in paths) or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def owner(self, path: str) -> str:
        """"absent", "host" (a directory moby-dick did not create) or "moby-dick", read atomically."""
        with self._exclusive():
            if not os.path.lexists(path):
                return "absent"
            return "moby-dick" if os.path.exists(self.lock_path(path)) else "host"

    def sweep(self) -> list[str]:
        """Remove directories whose users all died without releasing them. Returns their paths."""
        removed = []
        if not os.path.isdir(self.state_dir):
            return removed
        with self._exclusive():
            for lock_path in self._lock_files():
                fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use
                else:
                    path = self._path_of(lock_path)
                    self._remove(path, lock_path)
                    removed.append(path)
                finally:
                    os.close(fd)
        return removed

    def in_use(self) -> list[str]:
        """Paths of moby-dick-created directories that some live run holds."""
        held = []
        for lock_path in self._lock_files():
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(self._path_of(lock_path))
            finally:
                os.close(fd)
        return held
