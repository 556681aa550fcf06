"""Helpers shared by test modules (importable because tests/ is on sys.path via conftest)."""

import sys
import time


def moby_dick_command(*args):
    return [sys.executable, "-m", "moby_dick", *args]


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
