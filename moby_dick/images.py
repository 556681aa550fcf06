"""Root file systems from tarballs, unpacked safely into a cache. No registry, no network.

A tarball is untrusted input: a member may be named ``../../etc/cron.d/x`` or ``/etc/shadow``, a
symlink may point out of the tree and a later member be written through it, or a member may be a
device node. Python's ``tarfile`` extraction filter ``data`` (PEP 706) refuses all of these; moby-dick
unpacks into a temporary directory next to the cache entry, and renames it into place only when every
member was accepted, so a refused tarball leaves nothing behind. The cache key is the tarball's
SHA-256. Read tar(5) and PEP 706.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile

from .errors import UsageError


def hold_entry(target: str) -> int | None:
    """A shared flock on the entry directory itself, or None when it is not there (any more): a
    clear_cache that removed it between our open and our lock leaves us a descriptor of a deleted
    directory, which the inode check catches."""
    import fcntl

    try:
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        if os.stat(target).st_ino == os.fstat(fd).st_ino:
            return fd
    except FileNotFoundError:
        pass
    os.close(fd)
    return None


def unpack_tarball(path: str, cache_dir: str, holds: list | None = None) -> str:
    """Return the directory holding ``path`` unpacked; unpack it first if it is not cached. With
    ``holds``, a descriptor holding the entry (closed when the container ends) is appended to it."""
    digest = hashlib.sha256()
    with open(path, "rb") as tarball:
        for block in iter(lambda: tarball.read(1 << 20), b""):
            digest.update(block)
    target = os.path.join(cache_dir, digest.hexdigest())
    os.makedirs(cache_dir, exist_ok=True)
    while True:
        fd = hold_entry(target)
        if fd is not None:
            break
        _unpack(path, cache_dir, target)
    if holds is None:
        os.close(fd)
    else:
        holds.append(fd)
    return target


def _unpack(path: str, cache_dir: str, target: str) -> None:
    from .guard import Guard

    staging = os.path.join(cache_dir, f".unpacking-{os.getpid()}-{os.urandom(4).hex()}")
    guard = Guard([("shutil", "rmtree", staging, True)])  # before anything is made (True: ignore_errors)
    try:
        os.mkdir(staging, 0o700)
        _extract(path, staging, target)
    finally:
        guard.dismiss()


def _extract(path: str, staging: str, target: str) -> None:
    try:
        with tarfile.open(path) as archive:
            archive.extractall(staging, filter="data")
        os.chmod(staging, 0o755)
        os.rename(staging, target)
    except (tarfile.TarError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and os.path.isdir(target):
            return  # another run unpacked the same tarball first
        raise UsageError(f'tarball "{path}" refused: {error}') from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def clear_cache(cache_dir: str) -> list[str]:
    """Remove the entries no live container holds (and staging directories of dead runs). Returns names."""
    import fcntl

    removed = []
    if not os.path.isdir(cache_dir):
        return removed
    for name in sorted(os.listdir(cache_dir)):
        path = os.path.join(cache_dir, name)
        if name.startswith(".unpacking-"):
            owner = name.split("-")[1]
            if not (owner.isdigit() and os.path.exists(f"/proc/{owner}")):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(name)
            continue
        if not os.path.isdir(path):
            continue
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a running container uses it
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
        finally:
            os.close(fd)
    return removed
