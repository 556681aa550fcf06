"""cgroups without root: sizes and limits (hypothesis), the v1 and v2 files, layout detection, and the
writers and readers run on directory trees shaped like each version's, in tmp_path."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moby_dick.cgroups import (Cgroup, Layout, PlaceInCgroup, Limits, cgroupfs_mounts, limit_files, parse_layout,
                               parse_limits, parse_size)
from moby_dick.errors import MobyError, UsageError
from moby_dick.probe import parse_mountinfo
from moby_dick.syscalls.fake import RecordingKernel

HYBRID_MOUNTINFO = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_SELF = "8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n"
V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_sizes():
    assert parse_size("64m") == 64 << 20 and parse_size("1g") == 1 << 30 and parse_size("512k") == 512 << 10
    assert parse_size("1048576") == 1 << 20 and parse_size("1.5G") == 3 << 29
    for bad in ("", "m", "-1m", "0", "12x", "abc", "1e3", "2p", "99999999t", "²", "1..2m", "."):
        with pytest.raises(UsageError):
            parse_size(bad)


@given(st.integers(min_value=1, max_value=1 << 20), st.sampled_from(["k", "m", "g", "K", "M", "G", ""]))
def test_any_positive_size_with_a_unit_parses(number, unit):
    assert parse_size(f"{number}{unit}") == number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit.lower()]


@given(st.text(max_size=12))
def test_any_text_is_a_size_or_one_usage_error(text):
    try:
        assert parse_size(text) > 0
    except UsageError as error:
        assert str(error).startswith("--memory")


def test_limits_validation():
    limits = parse_limits(memory="32m", memory_swap="64m", pids="20", cpus="0.5", cpu_shares="512", cpu_count=2)
    assert limits == Limits(32 << 20, 64 << 20, 20, 0.5, 512)
    assert limits.controllers() == {"memory", "pids", "cpu"}
    for kwargs, message in (({"memory": "1m"}, "minimum"), ({"memory_swap": "1g"}, "needs --memory"),
                            ({"memory": "64m", "memory_swap": "32m"}, "cannot be less"),
                            ({"pids": "0"}, "1 to"), ({"pids": "x"}, "1 to"), ({"pids": "²"}, "1 to"), ({"cpus": "3"}, "0.01 to 2"),
                            ({"cpus": "0"}, "0.01"), ({"cpus": "half"}, "a number"), ({"cpu_shares": "1"}, "2 to")):
        with pytest.raises(UsageError, match=message):
            parse_limits(cpu_count=2, **kwargs)
    assert parse_limits(memory="32m", memory_swap="-1").memory_swap == -1


def test_v1_and_v2_files():
    limits = Limits(memory=32 << 20, memory_swap=64 << 20, pids=20, cpus=0.5, cpu_shares=1024)
    assert limit_files(limits, "v1") == {
        "memory": {"memory.limit_in_bytes": str(32 << 20), "memory.memsw.limit_in_bytes": str(64 << 20)},
        "pids": {"pids.max": "20"},
        "cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000", "cpu.shares": "1024"}}
    assert limit_files(limits, "v2") == {"": {
        "memory.max": str(32 << 20), "memory.swap.max": str(32 << 20), "pids.max": "20",
        "cpu.max": "50000 100000", "cpu.weight": "39"}}
    assert limit_files(Limits(memory=1 << 30, memory_swap=-1), "v2")[""]["memory.swap.max"] == "max"
    assert limit_files(Limits(), "v1") == {} and limit_files(Limits(), "v2") == {}


def test_layouts():
    hybrid = parse_layout(parse_mountinfo(HYBRID_MOUNTINFO), HYBRID_SELF)
    assert hybrid.version == "hybrid"
    assert hybrid.roots["memory"] == ("/sys/fs/cgroup/memory", "/process_api/abc")
    assert hybrid.roots["pids"] == ("/sys/fs/cgroup/pids", "/")
    assert set(hybrid.available) == {"cpu", "cpuacct", "memory", "pids"}
    v2 = parse_layout(parse_mountinfo(V2_MOUNTINFO), "0::/user.slice/session-1.scope\n")
    assert v2.version == "v2" and v2.roots == {"": ("/sys/fs/cgroup", "/user.slice/session-1.scope")}
    assert parse_layout([], "").version == "none"


def v1_tree(tmp_path):
    roots = {}
    for controller in ("memory", "pids", "cpu", "cpuacct"):
        own = tmp_path / controller / "own"
        own.mkdir(parents=True)
        roots[controller] = (str(tmp_path / controller), "/own")
    return Layout("v1", roots, frozenset(roots))


def test_v1_cgroup_is_made_beneath_the_own_cgroup_of_each_hierarchy(tmp_path):
    layout = v1_tree(tmp_path)
    cgroup = Cgroup(layout, Limits(memory=32 << 20, pids=20, cpus=0.5), name="moby-dick-1-test")
    cgroup.create()
    assert cgroup.dirs == {c: str(tmp_path / c / "own" / "moby-dick-1-test") for c in ("cpu", "cpuacct", "memory", "pids")}
    assert (tmp_path / "memory/own/moby-dick-1-test/memory.limit_in_bytes").read_text() == str(32 << 20)
    assert (tmp_path / "cpu/own/moby-dick-1-test/cpu.cfs_quota_us").read_text() == "50000"
    assert (tmp_path / "pids/own/moby-dick-1-test/pids.max").read_text() == "20"
    # what the kernel would report, then read back as statistics
    (tmp_path / "memory/own/moby-dick-1-test/memory.max_usage_in_bytes").write_text("33554432\n")
    (tmp_path / "memory/own/moby-dick-1-test/memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    (tmp_path / "cpuacct/own/moby-dick-1-test/cpuacct.usage").write_text("1500000000\n")
    (tmp_path / "pids/own/moby-dick-1-test/pids.events").write_text("max 31\n")
    (tmp_path / "cpu/own/moby-dick-1-test/cpu.stat").write_text("nr_periods 10\nnr_throttled 7\nthrottled_time 5\n")
    assert cgroup.stats() == {"peak_memory_bytes": 32 << 20, "cpu_seconds": 1.5, "pids_refused": 31,
                              "oom_kills": 1, "cpu_throttled": 7}


def test_v2_cgroup_and_a_missing_controller(tmp_path):
    (tmp_path / "own").mkdir()
    layout = Layout("v2", {"": (str(tmp_path), "/own")}, frozenset({"memory", "pids"}))
    cgroup = Cgroup(layout, Limits(memory=64 << 20, pids=10), name="moby-dick-2-test")
    cgroup.create()
    assert (tmp_path / "own/moby-dick-2-test/memory.max").read_text() == str(64 << 20)
    assert cgroup.procs_files() == (str(tmp_path / "own/moby-dick-2-test/cgroup.procs"),)
    (tmp_path / "own/moby-dick-2-test/memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroup.oom_kills() == 1
    with pytest.raises(MobyError, match="the cpu controller is not enabled"):
        Cgroup(layout, Limits(cpus=0.5))


def test_a_failed_create_removes_what_it_made(tmp_path):
    layout = v1_tree(tmp_path)
    os.rmdir(tmp_path / "pids" / "own")  # the parent of one of the directories is gone
    with pytest.raises(UsageError, match="does not exist"):
        Cgroup(layout, Limits(memory=32 << 20, pids=5), name="moby-dick-3-test").create()
    assert not any(name.startswith("moby-dick") for c in ("memory", "cpuacct") for name in os.listdir(tmp_path / c / "own"))


def test_the_runtime_places_pid_one_in_every_hierarchy(tmp_path):
    kernel = RecordingKernel()
    cgroup = Cgroup(v1_tree(tmp_path), Limits(memory=64 << 20), name="moby-dick-1-x")
    PlaceInCgroup(cgroup).apply(kernel, 4242)
    assert kernel.calls == [("write_file", path, "4242") for path in cgroup.procs_files()]
    assert len(kernel.calls) == len(cgroup.dirs) >= 1


def test_cgroupfs_mounts(tmp_path):
    assert cgroupfs_mounts(Layout("v2", {"": ("/sys/fs/cgroup", "/")}, frozenset())) == (("", "cgroup2", None),)
    mounts = cgroupfs_mounts(v1_tree(tmp_path), joined={"memory", "pids"})
    assert mounts == (("memory", "cgroup", "memory"), ("pids", "cgroup", "pids"))
