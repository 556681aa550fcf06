"""Helpers shared by test modules (importable because tests/ is on sys.path via conftest)."""

import os
import sys
import time
from pathlib import Path

from moby_dick.places import peer_dir


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
PEER = peer_dir()


def tree_snapshot(root):
    """Every path under root with its type, size and mtime: to show a rootfs was left untouched."""
    snapshot = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            snapshot[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return snapshot


def run_in_terminal(argv, conversation=(), size=(33, 111), timeout: float = 30.0):
    """Run ``argv`` with a pty of the test's own as its stdin, stdout and stderr (a user at a terminal of
    ``size`` rows x columns). ``conversation``: (awaited bytes, bytes to type) pairs, in order.
    Returns (exit status, everything the terminal showed)."""
    import fcntl
    import select
    import struct
    import subprocess
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    shown, steps = b"", list(conversation)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if steps and steps[0][0] in shown:
                os.write(master, steps.pop(0)[1])
            if not select.select([master], [], [], 0.2)[0]:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                break
            if not data:
                break
            shown += data
        try:
            return process.wait(timeout=max(0.1, deadline - time.monotonic())), shown
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{argv} did not finish; the terminal showed {shown!r}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
