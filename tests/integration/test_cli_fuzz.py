"""hypothesis over the command line: any combination of options (good and bad values) with a harmless
command ends in success or exit 125 with one line on stderr, never a traceback, and leaves nothing."""

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moby_dick.hoststate import HostState, wait_for_clean
from tests_support import moby_dick_command

pytestmark = pytest.mark.privileged

VALUES = st.sampled_from(["", "0", "1", "-1", "64m", "abc", "/", "/tmp", "host", "private", "none", "ALL", "x:y",
                          "/etc:/etc", "1000:1000", "99999999999", "seccomp=unconfined", "..", "é"])  # (a NUL cannot reach argv)
OPTIONS = st.sampled_from(["--hostname", "--tmpfs", "--uts", "--ipc", "--network", "--pid", "--memory", "--pids-limit",
                           "--cpus", "--cpu-shares", "--cgroup-parent", "--user", "--workdir", "--env", "--volume",
                           "--cap-add", "--cap-drop", "--security-opt", "--propagation", "--jail", "--nosuch"])
FLAGS = st.sampled_from(["--no-mytmp", "--init", "--read-only", "--stats", "--privileged"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.tuples(OPTIONS, VALUES), st.tuples(FLAGS)), max_size=4),
       st.sampled_from([[], ["--rootfs", "ROOTFS"]]))
def test_any_option_combination_succeeds_or_is_one_line_125(rootfs, options, jail):
    argv = [word.replace("ROOTFS", rootfs) for word in jail]
    for option in options:
        argv += list(option)
    before = HostState.capture()
    done = subprocess.run(moby_dick_command(*argv, "true"), capture_output=True, timeout=60)
    assert done.returncode in (0, 125), (argv, done.returncode, done.stderr)
    assert b"Traceback" not in done.stderr, (argv, done.stderr)
    if done.returncode == 125:
        assert done.stderr.count(b"\n") == 1, (argv, done.stderr)
    assert wait_for_clean(before) == [], argv
