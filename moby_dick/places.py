"""Where things are: moby-dick's caches (root's ``/var/cache/moby-dick``, or for a caller without root its own,
``$XDG_CACHE_HOME/moby-dick``, by default ``~/.cache/moby-dick``, which nobody else can write into), and the offline
peer suites (runtime-tools, the podman scenario) that the tests and the final exam run."""

from __future__ import annotations

import os

SYSTEM_CACHE = "/var/cache/moby-dick"


def cache_dir(name: str) -> str:
    if os.geteuid() == 0:
        return os.path.join(SYSTEM_CACHE, name)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "moby-dick", name)


def peer_dir():
    """The peer suites: ``$MOBY_PEER_DIR``, else ``shared/peer`` beside the checkout."""
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "shared" / "peer"
    return Path(os.environ.get("MOBY_PEER_DIR", default))
