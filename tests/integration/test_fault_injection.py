"""Fault injection: for each shape of plan, fail one syscall at one of its calls with a real errno, in
the runtime and in the container alike (FaultyKernel), and check that the error names the syscall,
that everything done before it was undone, and that nothing is left on the host. hypothesis picks the
shape, the syscall and the moment."""

import errno

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moby_dick import MobyError, start
from moby_dick.cgroups import parse_limits
from moby_dick.hoststate import HostState, leftover_cgroups, wait_for_clean
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import FaultyKernel

pytestmark = pytest.mark.privileged

SHAPES = {
    "default": lambda rootfs: ContainerSpec(("true",)),
    "rootfs": lambda rootfs: ContainerSpec(("true",), rootfs=rootfs, user="1000:1000"),
    "limits": lambda rootfs: ContainerSpec(("true",), limits=parse_limits(memory="64m", pids="50")),
    "read-only": lambda rootfs: ContainerSpec(("true",), rootfs=rootfs, read_only=True, volumes=("/etc:/root:ro",)),
    "user namespace": lambda rootfs: ContainerSpec(("true",), userns="private"),
}
# what each shape calls through the kernel door, parent and child (the plan's steps)
SYSCALLS = ("fork", "unshare", "mount", "sethostname", "pivot_root", "umount2", "mkdir", "write_file", "open_in_root",
            "setresgid",
            "setresuid", "setgroups", "capset", "install_seccomp", "close_range", "prctl4", "symlink_in_root")
ERRNOS = (errno.EPERM, errno.ENOMEM, errno.EINVAL, errno.ENOSPC, errno.EACCES)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from(sorted(SHAPES)), syscall=st.sampled_from(SYSCALLS), after=st.integers(0, 3),
       number=st.sampled_from(ERRNOS))
def test_a_failing_syscall_undoes_everything_and_names_itself(rootfs, shape, syscall, after, number):
    before = HostState.capture()
    kernel = FaultyKernel(fail={syscall: number}, after={syscall: after})
    try:
        container = start(SHAPES[shape](rootfs), capture=True, kernel=kernel)
    except MobyError as error:
        text = str(error)
        assert "\n" not in text
        import os

        assert os.strerror(number) in text, text  # the errno travels, from the child too
        assert syscall in text or "cgroup" in text, text  # and the call (cgroup files: the cgroup's message)
    else:
        # the call was not on this shape's path that many times: the container ran as usual
        result = container.wait(timeout=10)
        assert result.exit_code == 0 or result.exit_code in (125, 126, 127)
    assert wait_for_clean(before) == []
    assert leftover_cgroups() == []
