"""The plan's order, and the syscalls each step makes, checked against a recording fake kernel."""

import errno

import pytest

from moby_dick import syscalls
from moby_dick.cgroups import Layout
from moby_dick.channel import MemoryChannel
from moby_dick.errors import SyscallError
from moby_dick.plan import await_go_where_needed, describe, plan
from moby_dick.process import run_steps
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import RecordingKernel

# What the kernel door records but these tests check apart (mount points, process names, PDEATHSIG)
NOT_CHECKED = ("makedirs", "prctl", "pipe_has_writer")


def apply(spec, kernel, layout=None):
    """Run the child and init phases against the fake kernel, the runtime's side played by a memory channel."""
    the_plan = plan(spec, layout)
    runtime, container = MemoryChannel.pair()
    if the_plan.awaits_go:
        runtime.send("go")  # as the runtime answers "pid1"
    if the_plan.fork_step is not None:  # the runtime's own fork, when it makes PID 1 (the fake's fork returns 0)
        _, alive_fd = the_plan.fork_step.fork(kernel)
        assert kernel.pipe_has_writer(alive_fd)  # the fake's pipe always has its writer
    run_steps(the_plan.child + the_plan.init, kernel, container)
    kernel.calls = [call for call in kernel.calls if call[0] not in NOT_CHECKED]
    kernel.messages = [kind for kind, _, _ in runtime.inbox]
    return kernel


def test_default_plan_is_the_seed_fixed():
    kernel = apply(ContainerSpec(("sh",)), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "unshare", "mount", "sethostname", "mount", "mount"]
    # one fork: the runtime unshares the PID namespace for its next child, which is PID 1 itself
    assert kernel.calls[0] == ("unshare", syscalls.CLONE_NEWPID)
    flags = kernel.calls[2][1]
    for flag in (syscalls.CLONE_NEWNS, syscalls.CLONE_NEWUTS, syscalls.CLONE_NEWIPC, syscalls.CLONE_NEWNET):
        assert flags & flag
    # / becomes recursively private before anything is mounted: the seed's missing step
    assert kernel.calls[3] == ("mount", None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE, None)
    assert kernel.calls[4] == ("sethostname", "containerhostname")
    assert kernel.calls[5][1:4] == ("proc", "/proc", "proc")  # by PID 1, after the fork
    assert kernel.calls[6][1:4] == ("moby-dick", "/mytmp", "tmpfs")
    assert kernel.messages == ["pid1", "ready"]  # no cgroup, no network: nothing to await "go" for


def unshared(kernel) -> int:
    """Every namespace flag the recorded unshare calls asked for."""
    flags = 0
    for call in kernel.calls:
        if call[0] == "unshare":
            flags |= call[1]
    return flags


@pytest.mark.parametrize("kind, flag", [("uts", syscalls.CLONE_NEWUTS), ("ipc", syscalls.CLONE_NEWIPC),
                                        ("net", syscalls.CLONE_NEWNET), ("pid", syscalls.CLONE_NEWPID)])
def test_sharing_a_namespace_drops_its_flag(kind, flag):
    kernel = apply(ContainerSpec(("sh",), share={kind}), RecordingKernel())
    assert not unshared(kernel) & flag
    assert unshared(kernel) & syscalls.CLONE_NEWNS


def test_shared_uts_never_sets_the_hostname():
    kernel = apply(ContainerSpec(("sh",), share={"uts"}), RecordingKernel())
    assert "sethostname" not in kernel.names()


def test_shared_pid_namespace_neither_forks_nor_mounts_proc():
    kernel = apply(ContainerSpec(("sh",), share={"pid"}), RecordingKernel())
    assert kernel.names() == ["unshare", "mount", "sethostname", "mount"]


def test_unchanged_propagation_reproduces_the_seed():
    # and does not mount /proc, which would propagate to a shared host /
    kernel = apply(ContainerSpec(("sh",), propagation="unchanged"), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "unshare", "sethostname", "mount"]


def test_slave_propagation():
    kernel = apply(ContainerSpec(("sh",), propagation="slave"), RecordingKernel())
    assert kernel.calls[3][4] == syscalls.MS_REC | syscalls.MS_SLAVE


def test_tmpfs_paths_in_order_without_duplicates():
    spec = ContainerSpec(("sh",), tmpfs=("/b", "/a//", "/b"), hostname="josh")
    kernel = apply(spec, RecordingKernel())
    assert [call[2] for call in kernel.calls if call[0] == "mount" and call[3] == "tmpfs"] == ["/mytmp", "/b", "/a"]
    assert ("sethostname", "josh") in kernel.calls


def test_no_seed_tmpfs():
    kernel = apply(ContainerSpec(("sh",), seed_tmpfs=False), RecordingKernel())
    assert kernel.names() == ["unshare", "fork", "unshare", "mount", "sethostname", "mount"]


def test_a_failing_syscall_stops_the_plan_and_names_itself():
    kernel = RecordingKernel(fail={"mount": errno.EPERM})
    with pytest.raises(SyscallError) as caught:
        apply(ContainerSpec(("sh",)), kernel)
    assert [name for name in kernel.names() if name not in NOT_CHECKED] == ["unshare", "fork", "unshare", "mount"]  # nothing after
    assert str(caught.value) == 'mount "/": Operation not permitted'
    assert caught.value.errno == errno.EPERM


def test_describe_reads_like_syscalls_in_every_phase():
    text = describe(plan(ContainerSpec(("sh",))))
    lines = text.splitlines()
    assert lines[0].startswith("host") and 'mkdir("/mytmp")' in lines[1]
    assert lines[2].startswith("  2. unshare(CLONE_NEWPID) for the next child; fork() -> PID 1")
    assert "  3. unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)" in lines
    assert 'mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)' in text
    assert lines[-1].endswith("execvp('sh')") and "close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)" in text
    titles = [line.split(" ")[0] for line in lines if not line.startswith(" ")]
    assert titles == ["host", "child", "init", "final"]  # no cgroup: nothing for the runtime to do


def test_dry_run_of_limits_a_rootfs_and_a_user_shows_cgroup_mounts_identity_and_exec(tmp_path):
    layout = Layout("v1", {c: (str(tmp_path / c), "/") for c in ("memory", "pids", "cpuacct", "freezer")},
                    frozenset(("memory", "pids", "cpuacct", "freezer")))
    from moby_dick.cgroups import parse_limits

    spec = ContainerSpec(("sh",), rootfs="/srv/rootfs", user="1000:1000", limits=parse_limits(memory="64m"),
                         volumes=("/etc:/host-etc:ro",))
    the_plan = plan(spec, layout)
    text = describe(the_plan)
    name = the_plan.cgroup.name
    assert f"{tmp_path}/memory/{name}" in text and "memory.limit_in_bytes = 67108864" in text  # named before it exists
    assert not (tmp_path / "memory" / name).exists()
    # v1: PID 1 moves itself, first; the runtime has nothing left to do, so there is no "go" to await
    assert "write 0 (itself, one thread) to " in text and f"{tmp_path}/memory/{name}/tasks" in text
    assert 'await "go"' not in text
    assert text.index("write 0 (itself") < text.index("MS_REC|MS_PRIVATE") < text.index("unshare(CLONE_NEWCGROUP)")
    v2 = Layout("v2", {"": (str(tmp_path / "unified"), "/")}, frozenset(("memory", "pids")))
    text = describe(plan(spec, v2))  # v2 has no tasks file: the runtime places PID 1, which awaits "go"
    assert f"write N to {tmp_path}/unified/" in text and "tasks" not in text
    assert text.index("write N to") < text.index('await "go"') < text.index("unshare(CLONE_NEWCGROUP)")
    assert 'mount("/etc", "/srv/rootfs/merged/host-etc"' in text and "pivot_root" in text
    assert "setgroups([]); setresgid(1000, 1000, 1000); setresuid(1000, 1000, 1000)" in text
    assert text.index("setresuid") < text.index("execvp('sh'")


def test_pid_one_joins_its_v1_cgroup_itself_first_then_a_jail_gets_its_own_cgroup_namespace(tmp_path):
    layout = Layout("v1", {"memory": (str(tmp_path / "memory"), "/")}, frozenset(("memory",)))
    spec = ContainerSpec(("sh",), rootfs="/srv/rootfs", accounting=True)
    kernel = apply(spec, RecordingKernel(), layout)
    names = kernel.names()
    assert names[:3] == ["unshare", "fork", "unshare"] and kernel.messages == ["pid1", "ready"]
    writes = [call for call in kernel.calls if call[0] == "write_file"]
    assert len(writes) == 1 and writes[0][2] == "0"
    assert writes[0][1].startswith(f"{tmp_path}/memory/moby-dick-") and writes[0][1].endswith("/tasks")
    assert names.index("write_file") < names.index("mount")  # before anything else of PID 1's
    cgroup_ns = names.index("unshare", 3)  # after joining (its cgroup is the namespace's root), before the cgroupfs
    assert kernel.calls[cgroup_ns][1] == syscalls.CLONE_NEWCGROUP
    assert not (kernel.calls[0][1] | kernel.calls[2][1]) & syscalls.CLONE_NEWCGROUP
    first_cgroupfs = next(i for i, call in enumerate(kernel.calls) if call[0] == "mount" and call[3] == "cgroup")
    assert names.index("write_file") < cgroup_ns < first_cgroupfs
    mounts = [call for call in kernel.calls if call[0] == "mount" and call[3] == "cgroup"]
    assert [call[5] for call in mounts] == ["memory"]
    tmpfs = kernel.calls.index(("open_in_root", "/srv/rootfs/merged", "/sys/fs/cgroup", None))  # inside the root
    assert kernel.calls[tmpfs + 1] == ("make_at", kernel.next_fd, "memory", "dir")  # then made in that tmpfs
    plain = plan(ContainerSpec(("sh",), accounting=True), layout)
    # a cgroup, but no cgroup namespace without a jail (docker's default)
    assert "CLONE_NEWCGROUP" not in describe(plain) and plain.runtime == ()
    # the runtime places PID 1 when PID 1 may not write the host's cgroup files (a user namespace) or
    # cannot see them (a joined mount namespace)
    from moby_dick.config import Namespace, from_spec

    private = from_spec(ContainerSpec(("sh",), accounting=True, userns="private"))
    joined = from_spec(ContainerSpec(("sh",), accounting=True))
    joined = joined.replace(namespaces=tuple(Namespace("mnt", "/proc/42/ns/mnt") if n.kind == "mnt" else n
                                             for n in joined.namespaces))
    for other in (private, joined):
        placed = plan(other, layout)
        assert [type(step).__name__ for step in placed.runtime] == ["PlaceInCgroup"]
        assert "JoinCgroup" not in [type(step).__name__ for step in placed.init]


def test_the_waiter_sends_pid_one_and_pid_one_awaits_go():
    from moby_dick.pid import ForkIntoPidNamespace

    kernel = RecordingKernel()
    kernel.next_pid = 4242  # fork returns in the waiter; it then waits for PID 1: stop it there
    runtime, container = MemoryChannel.pair()
    import moby_dick.pid as pid_module

    waited = []

    def fake_wait(pid):
        waited.append(pid)
        raise SystemExit

    real = pid_module.wait_and_exit_alike
    pid_module.wait_and_exit_alike = fake_wait
    import os

    saved = [os.dup(fd) for fd in (0, 1, 2)]
    try:
        with pytest.raises(SystemExit):
            ForkIntoPidNamespace().exchange(kernel, container)
    finally:
        pid_module.wait_and_exit_alike = real
        for fd, copy in zip((0, 1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
    assert runtime.inbox == [("pid1", b"4242", [])] and container.closed and waited == [4242]


def test_a_pid_one_forked_by_a_waiter_awaits_go_so_that_nothing_it_says_overtakes_pid1(tmp_path):
    # On v1 PID 1 joins its cgroup itself and the runtime has nothing to do; but when a waiter forks
    # PID 1 (`create`, a user namespace) the waiter's "pid1 N" and PID 1's "ready" come from two
    # processes: without "go", a slow waiter let `create` return before it knew PID 1's pid.
    from moby_dick.config import from_spec

    layout = Layout("v1", {"pids": (str(tmp_path / "pids"), "/")}, frozenset(("pids",)))
    config = from_spec(ContainerSpec(("sh",), rootfs="/srv/rootfs", accounting=True))
    detached = plan(config, layout, gate_fd=7)
    assert detached.runtime == () and any(type(step).__name__ == "ForkIntoPidNamespace" for step in detached.child)
    names = [type(step).__name__ for step in detached.init]
    assert names[0] == "JoinCgroup" and names.index("AwaitGo") < names.index("ReportReady")
    one_fork = plan(config, layout)  # the runtime's own fork made PID 1, which sends "pid1" itself, first
    assert not one_fork.awaits_go and [type(s).__name__ for s in one_fork.child][-1] == "ReportPid"
    again = await_go_where_needed(list(detached.init), True, False)  # awaiting already: unchanged
    assert [type(step).__name__ for step in again].count("AwaitGo") == 1


def test_v1_device_rules_are_written_while_pid_one_starts_and_it_joins_them_before_its_root_changes(tmp_path):
    from moby_dick.cgroups import CreateCgroup, CreateDeviceCgroup, JoinCgroup

    layout = Layout("v1", {c: (str(tmp_path / c), "/") for c in ("memory", "pids", "devices")},
                    frozenset(("memory", "pids", "devices")))
    for cgroupns in ("private", "host"):
        the_plan = plan(ContainerSpec(("sh",), rootfs="/srv/rootfs", cgroupns=cgroupns), layout)
        create = next(step for step in the_plan.host if isinstance(step, CreateCgroup))
        assert create.later == ("devices",) and "devices" not in str(create)  # not before the fork ...
        assert [type(step) for step in the_plan.runtime] == [CreateDeviceCgroup]  # ... but as soon as it returned
        names = [type(step).__name__ for step in the_plan.init]
        joins = [step for step in the_plan.init if isinstance(step, JoinCgroup)]
        assert names[0] == "JoinCgroup" and "devices" not in joins[0].controllers
        assert joins[1].controllers == ("devices",)
        devices_join = names.index("JoinCgroup", 1)
        # after "go" (the runtime made it), before the host's cgroup files are out of reach and before the
        # cgroup namespace (whose root is the cgroup PID 1 is in), before anything of the container's runs
        assert names.index("AwaitGo") == devices_join - 1 and devices_join < names.index("PivotRoot")
        if cgroupns == "private":
            assert devices_join < names.index("UnshareNamespaces")
    # the control: without device rules (--privileged) the cgroup is made whole before the fork
    privileged = plan(ContainerSpec(("sh",), rootfs="/srv/rootfs", privileged=True), layout)
    assert next(step for step in privileged.host if isinstance(step, CreateCgroup)).later == ()
    assert privileged.runtime == ()
