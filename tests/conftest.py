"""Shared fixtures. The --run-privileged plugin itself ships in the package (moby_dick.testing.plugin)."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from tests_support import moby_dick_command, tree_snapshot  # noqa: E402,F401


@pytest.fixture
def cli():
    """Run the moby-dick CLI as a whole process: ``cli("sh", "-c", "exit 7").returncode == 7``."""
    def run(*args, **kwargs):
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(moby_dick_command(*args), **kwargs)
    return run


@pytest.fixture
def scratch(tmp_path):
    """A directory of this test's own, for mount points (pytest-xdist safe)."""
    os.chmod(tmp_path, 0o755)
    return tmp_path


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    """A busybox root file system built by `moby-dick mkrootfs` (one per pytest-xdist worker)."""
    from moby_dick.mkrootfs import mkrootfs

    path = tmp_path_factory.mktemp("rootfs") / "busybox"
    mkrootfs(str(path), "busybox")
    return str(path)


@pytest.fixture
def spawn():
    """Start the moby-dick CLI as a background process; whatever a test leaves running is killed after it."""
    started = []

    def start(*args, **kwargs):
        process = subprocess.Popen(moby_dick_command(*args), **kwargs)
        started.append(process)
        return process
    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
