"""The mount-point registry on tmp_path: create once, remove after the last user, never touch others'."""

import os

from moby_dick.mountpoints import MountpointRegistry


def make(tmp_path):
    return MountpointRegistry(tmp_path / "state"), str(tmp_path / "mnt")


def test_creates_and_removes_a_missing_directory(tmp_path):
    registry, path = make(tmp_path)
    claim = registry.acquire(path)
    assert os.path.isdir(path) and registry.in_use() == [path]
    registry.release(claim)
    assert not os.path.exists(path) and registry.in_use() == []
    registry.release(claim)  # twice is harmless


def test_never_touches_a_directory_it_did_not_create(tmp_path):
    registry, path = make(tmp_path)
    os.mkdir(path)
    assert registry.acquire(path) is None
    assert os.path.isdir(path)


def test_the_last_user_removes_it(tmp_path):
    registry, path = make(tmp_path)
    first, second = registry.acquire(path), registry.acquire(path)
    registry.release(first)
    assert os.path.isdir(path), "removed while the second container still used it"
    registry.release(second)
    assert not os.path.exists(path)


def test_sweep_removes_what_a_dead_run_left(tmp_path):
    registry, path = make(tmp_path)
    claim = registry.acquire(path)
    os.close(claim.fd)  # the run died: the kernel dropped its lock, nobody released
    assert registry.in_use() == []
    assert registry.sweep() == [path]
    assert not os.path.exists(path)


def test_sweep_leaves_directories_in_use(tmp_path):
    registry, path = make(tmp_path)
    claim = registry.acquire(path)
    assert registry.sweep() == []
    assert os.path.isdir(path)
    registry.release(claim)


def test_a_stale_claim_is_taken_over(tmp_path):
    registry, path = make(tmp_path)
    os.close(registry.acquire(path).fd)
    claim = registry.acquire(path)  # the directory is still moby-dick's
    assert claim is not None
    registry.release(claim)
    assert not os.path.exists(path)


def test_paths_with_odd_characters_round_trip(tmp_path):
    registry = MountpointRegistry(tmp_path / "state")
    path = str(tmp_path / "a%2Fb c")
    claim = registry.acquire(path)
    assert registry.in_use() == [path]
    os.close(claim.fd)
    assert registry.sweep() == [path]


def test_owner(tmp_path):
    registry, path = make(tmp_path)
    assert registry.owner(path) == "absent"
    claim = registry.acquire(path)
    assert registry.owner(path) == "moby-dick"
    registry.release(claim)
    os.mkdir(path)
    assert registry.owner(path) == "host"
