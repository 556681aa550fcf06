"""Mount isolation and propagation, with controls; mount points created and removed without leaks."""

import errno
import os

import pytest

from moby_dick import probe, start
from moby_dick.demos.mount import propagation_experiment
from moby_dick.errors import SyscallError, UsageError
from moby_dick.mountpoints import MountpointRegistry
from moby_dick.runner import run
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import FaultyKernel

pytestmark = pytest.mark.privileged


def sleeper(*tmpfs, **options):
    return ContainerSpec(("sleep", "30"), tmpfs=tmpfs, **options)


def test_tmpfs_exists_only_inside(scratch):
    target = str(scratch)
    with start(sleeper(target)) as container:
        inside = probe.mounts(container.pid)
        assert [(m.source, m.fstype) for m in inside if m.mount_point == target] == [("moby-dick", "tmpfs")]
        assert [m for m in inside if m.mount_point == "/mytmp"]
        assert probe.mounts_at(target) == [] and probe.mounts_at("/mytmp") == []
        assert container.namespaces["mnt"] != probe.namespace_id("self", "mnt")
    assert probe.mounts_at(target) == []


def test_mount_prints_the_tmpfs(cli):
    done = cli("sh", "-c", "mount | grep /mytmp")
    assert done.returncode == 0
    assert done.stdout.decode().startswith("moby-dick on /mytmp type tmpfs (rw,nosuid,nodev")


def test_files_written_inside_stay_inside(scratch):
    result = run(["sh", "-c", f"echo secret > {scratch}/file; cat {scratch}/file"], capture=True,
                 tmpfs=(str(scratch),))
    assert result.text == "secret\n"
    assert os.listdir(scratch) == []


def test_missing_mount_point_is_created_and_removed(scratch):
    target = str(scratch / "new")
    result = run(["sh", "-c", f"test -d {target} && echo there"], capture=True, tmpfs=(target,))
    assert result.text == "there\n"
    assert not os.path.exists(target)


def test_existing_directory_is_left_alone(scratch):
    target = scratch / "mine"
    target.mkdir()
    run(["true"], tmpfs=(str(target),))
    assert target.is_dir()


def test_concurrent_containers_share_a_created_mount_point(scratch):
    target = str(scratch / "shared")
    first = start(sleeper(target))
    second = start(sleeper(target))
    first.close()
    assert os.path.isdir(target), "the first container's exit removed a directory the second still uses"
    assert probe.mounts_at(target, second.pid), "the second container lost its tmpfs"
    second.close()
    assert not os.path.exists(target)
    assert target not in MountpointRegistry().in_use()


def test_setup_failure_raises_and_leaves_nothing(scratch):
    target = str(scratch / "made")
    kernel = FaultyKernel(fail={"sethostname": errno.EPERM})
    with pytest.raises(SyscallError, match="sethostname"):
        start(ContainerSpec(("true",), tmpfs=(target,)), kernel=kernel)
    assert not os.path.exists(target)


def test_bad_tmpfs_paths_are_refused_before_anything_happens(scratch, cli):
    file = scratch / "file"
    file.write_text("")
    for path in ("relative", str(file), str(scratch / "no" / "parent")):
        with pytest.raises(UsageError):
            start(ContainerSpec(("true",), tmpfs=(path,)))
        done = cli("--tmpfs", path, "true")
        assert done.returncode == 125 and done.stderr.count(b"\n") == 1
    assert sorted(os.listdir(scratch)) == ["file"]


# ---- propagation: a shared mount built in a lab mount namespace ------------------------------

@pytest.mark.parametrize("propagation, expected", [
    ("private", (False, False, False)),
    ("slave", (False, True, False)),
    # the control, the seed's bug: the container's mount reaches the host and outlives the container
    ("unchanged", (True, True, True)),
])
def test_propagation_on_a_shared_host_mount(propagation, expected):
    seen = propagation_experiment(propagation)
    assert (seen["container_mount_on_host"], seen["host_mount_inside"],
            seen["container_mount_on_host_after_exit"]) == expected
