"""The plan's order, and the syscalls each step makes, checked against a recording fake kernel."""

import errno

import pytest

from moby_dick import syscalls
from moby_dick.errors import SyscallError
from moby_dick.plan import describe, plan
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import RecordingKernel


def apply(spec, kernel):
    for step in plan(spec):
        step.apply(kernel)
    kernel.calls = [call for call in kernel.calls if call[0] != "makedirs"]  # mount points, checked apart
    return kernel


def test_default_plan_is_the_seed_fixed():
    kernel = apply(ContainerSpec(("sh",)), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "mount", "sethostname", "mount", "mount"]
    flags = kernel.calls[0][1]
    for flag in (syscalls.CLONE_NEWNS, syscalls.CLONE_NEWUTS, syscalls.CLONE_NEWIPC, syscalls.CLONE_NEWNET,
                 syscalls.CLONE_NEWPID):
        assert flags & flag
    # / becomes recursively private before anything is mounted: the seed's missing step
    assert kernel.calls[2] == ("mount", None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE, None)
    assert kernel.calls[3] == ("sethostname", "containerhostname")
    assert kernel.calls[4][1:4] == ("proc", "/proc", "proc")  # by PID 1, after the fork
    assert kernel.calls[5][1:4] == ("moby-dick", "/mytmp", "tmpfs")


@pytest.mark.parametrize("kind, flag", [("uts", syscalls.CLONE_NEWUTS), ("ipc", syscalls.CLONE_NEWIPC),
                                        ("net", syscalls.CLONE_NEWNET), ("pid", syscalls.CLONE_NEWPID)])
def test_sharing_a_namespace_drops_its_flag(kind, flag):
    kernel = apply(ContainerSpec(("sh",), share={kind}), RecordingKernel())
    assert not kernel.calls[0][1] & flag
    assert kernel.calls[0][1] & syscalls.CLONE_NEWNS


def test_shared_uts_never_sets_the_hostname():
    kernel = apply(ContainerSpec(("sh",), share={"uts"}), RecordingKernel())
    assert "sethostname" not in kernel.names()


def test_shared_pid_namespace_neither_forks_nor_mounts_proc():
    kernel = apply(ContainerSpec(("sh",), share={"pid"}), RecordingKernel())
    assert kernel.names() == ["unshare", "mount", "sethostname", "mount"]


def test_unchanged_propagation_reproduces_the_seed():
    # and does not mount /proc, which would propagate to a shared host /
    kernel = apply(ContainerSpec(("sh",), propagation="unchanged"), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "sethostname", "mount"]


def test_slave_propagation():
    kernel = apply(ContainerSpec(("sh",), propagation="slave"), RecordingKernel())
    assert kernel.calls[2][4] == syscalls.MS_REC | syscalls.MS_SLAVE


def test_tmpfs_paths_in_order_without_duplicates():
    spec = ContainerSpec(("sh",), tmpfs=("/b", "/a//", "/b"), hostname="josh")
    kernel = apply(spec, RecordingKernel())
    assert [call[2] for call in kernel.calls if call[0] == "mount" and call[3] == "tmpfs"] == ["/mytmp", "/b", "/a"]
    assert ("sethostname", "josh") in kernel.calls


def test_no_seed_tmpfs():
    kernel = apply(ContainerSpec(("sh",), seed_tmpfs=False), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "mount", "sethostname", "mount"]


def test_a_failing_syscall_stops_the_plan_and_names_itself():
    kernel = RecordingKernel(fail={"mount": errno.EPERM})
    with pytest.raises(SyscallError) as caught:
        apply(ContainerSpec(("sh",)), kernel)
    assert kernel.names() == ["unshare", "fork", "mount"]  # nothing after the failure
    assert str(caught.value) == 'mount "/": Operation not permitted'
    assert caught.value.errno == errno.EPERM


def test_describe_reads_like_syscalls():
    text = describe(plan(ContainerSpec(("sh",))))
    assert text.splitlines()[0] == "1. unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID)"
    assert 'mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)' in text


def test_the_cgroup_is_joined_first_and_a_jail_gets_its_own_cgroup_namespace():
    kernel = RecordingKernel()
    spec = ContainerSpec(("sh",), rootfs="/srv/rootfs")
    for step in plan(spec, ("/cg/memory/x/cgroup.procs",), (("memory", "cgroup", "memory"),)):
        step.apply(kernel)
    names = [call[0] for call in kernel.calls]
    assert names[:4] == ["unshare", "fork", "write_file", "unshare"]  # PID 1 joins, then its own cgroup ns
    assert kernel.calls[2] == ("write_file", "/cg/memory/x/cgroup.procs", "0")
    assert kernel.calls[3][1] == syscalls.CLONE_NEWCGROUP and not kernel.calls[0][1] & syscalls.CLONE_NEWCGROUP
    assert ("mount", "cgroup", "/srv/rootfs/merged/sys/fs/cgroup/memory", "cgroup",
            syscalls.MS_RDONLY | syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC, "memory") in kernel.calls
    plain = RecordingKernel()
    for step in plan(ContainerSpec(("sh",)), ("/cg/cgroup.procs",)):
        step.apply(plain)
    # joined, but no cgroup namespace without a jail (docker's default)
    assert [call[0] for call in plain.calls if call[0] in ("unshare", "fork", "write_file")] == [
        "unshare", "fork", "write_file"]
