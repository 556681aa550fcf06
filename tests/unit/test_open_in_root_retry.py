"""openat2(RESOLVE_IN_ROOT) answers EAGAIN when a rename or mount elsewhere raced a ".." (a busy machine): the
door retries, and falls back to the component walk (as safe) if the race goes on. Never an error to the user."""

import ctypes
import os

from moby_dick.syscalls import Kernel


class RacingKernel(Kernel):
    def __init__(self, eagain_times):
        super().__init__()
        self.left, self.calls = eagain_times, 0

    def _openat2(self, root_fd, path):
        self.calls += 1
        if self.left:
            self.left -= 1
            ctypes.set_errno(11)
            return -1
        return super()._openat2(root_fd, path)


def test_a_few_eagains_are_retried(tmp_path):
    (tmp_path / "inside").mkdir()
    kernel = RacingKernel(3)
    fd = kernel.open_in_root(str(tmp_path), "/inside")
    try:
        assert os.path.samestat(os.fstat(fd), os.stat(tmp_path / "inside")) and kernel.calls == 4
    finally:
        os.close(fd)


def test_an_endless_race_falls_back_to_the_walk_inside_the_root(tmp_path):
    (tmp_path / "inside").mkdir()
    os.symlink("/", tmp_path / "inside" / "escape")  # an absolute link: inside the root it is the root itself
    kernel = RacingKernel(10_000)
    fd = kernel.open_in_root(str(tmp_path), "/inside/escape")
    try:
        assert os.path.samestat(os.fstat(fd), os.stat(tmp_path)) and kernel.calls == 64
    finally:
        os.close(fd)
