"""Helpers shared by test modules (importable because tests/ is on sys.path via conftest)."""

import os
import sys
import time
from pathlib import Path


def moby_dick_command(*args):
    return [sys.executable, "-m", "moby_dick", *args]


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


ROOT = Path(__file__).resolve().parents[1]
# the peer suites (runtime-tools, the podman scenario): ../shared/peer beside the checkout, or $MOBY_PEER_DIR
PEER = Path(os.environ.get("MOBY_PEER_DIR", ROOT.parent / "shared" / "peer"))


def tree_snapshot(root):
    """Every path under root with its type, size and mtime: to show a rootfs was left untouched."""
    snapshot = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            snapshot[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return snapshot
