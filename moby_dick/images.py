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
import tempfile

from .errors import UsageError


def unpack_tarball(path: str, cache_dir: str) -> str:
    """Return the directory holding ``path`` unpacked; unpack it first if it is not cached."""
    digest = hashlib.sha256()
    with open(path, "rb") as tarball:
        for block in iter(lambda: tarball.read(1 << 20), b""):
            digest.update(block)
    target = os.path.join(cache_dir, digest.hexdigest())
    if os.path.isdir(target):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".unpacking-", dir=cache_dir)
    try:
        with tarfile.open(path) as archive:
            archive.extractall(staging, filter="data")
        os.chmod(staging, 0o755)
        os.rename(staging, target)
    except (tarfile.TarError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and os.path.isdir(target):
            return target  # another run unpacked the same tarball first
        raise UsageError(f'tarball "{path}" refused: {error}') from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def clear_cache(cache_dir: str) -> list[str]:
    removed = []
    if os.path.isdir(cache_dir):
        for name in os.listdir(cache_dir):
            shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)
            removed.append(name)
    return removed
