"""Checks that read the machine, pointed at fake paths and a fake uid."""

from moby_dick.spec import ContainerSpec
from moby_dick.validate import host_problems, spec_problems


def _fake_proc(tmp_path, **sysctls):
    for kind in ("mnt", "uts", "ipc", "net", "pid"):
        (tmp_path / "self" / "ns").mkdir(parents=True, exist_ok=True)
        (tmp_path / "self" / "ns" / kind).write_text("")
    for name, value in sysctls.items():
        path = tmp_path / "sys" / name.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    return tmp_path


def test_without_root_a_user_namespace_is_needed_and_switched_off_ones_are_one_problem_with_the_fix(tmp_path):
    rootless = ContainerSpec(("true",), seed_tmpfs=False, userns="rootless")
    assert host_problems(rootless, proc=_fake_proc(tmp_path), euid=1000) == []  # not root is no problem by itself
    off = _fake_proc(tmp_path / "off", **{"user.max_user_namespaces": "0"})
    problems = host_problems(rootless, proc=off, euid=1000)
    assert len(problems) == 1 and "max_user_namespaces is 0" in problems[0] and "sysctl -w" in problems[0]
    restricted = _fake_proc(tmp_path / "aa", **{"kernel.apparmor_restrict_unprivileged_userns": "1"})
    assert "apparmor_restrict_unprivileged_userns" in host_problems(rootless, proc=restricted, euid=1000)[0]
    from moby_dick.cgroups import parse_limits

    limited = rootless.replace(limits=parse_limits("64m", None, None, None, None))
    assert "delegated cgroup v2 subtree" in host_problems(limited, proc=_fake_proc(tmp_path), euid=1000)[0]


def test_a_kernel_without_a_namespace_is_named(tmp_path):
    ns = tmp_path / "self" / "ns"
    ns.mkdir(parents=True)
    for kind in ("mnt", "uts", "net", "pid"):
        (ns / kind).write_text("")
    problems = host_problems(ContainerSpec(("true",), seed_tmpfs=False), proc=tmp_path, euid=0)
    assert len(problems) == 1 and "no ipc namespaces" in problems[0] and "--ipc host" in problems[0]
    assert host_problems(ContainerSpec(("true",), seed_tmpfs=False, share={"ipc"}), proc=tmp_path, euid=0) == []


def test_tmpfs_path_that_is_a_file_or_has_no_parent(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    spec = ContainerSpec(("true",), seed_tmpfs=False, tmpfs=(str(file), str(tmp_path / "no" / "such")))
    problems = host_problems(spec, euid=0)
    assert any("not a directory" in p for p in problems)
    assert any("parent directory does not exist" in p for p in problems)


def test_argv_problems():
    assert spec_problems(ContainerSpec(())) == ["no command given; try: moby-dick /bin/sh"]
    assert "empty string" in spec_problems(ContainerSpec(("",)))[0]
    assert "NUL" in spec_problems(ContainerSpec(("echo", "a\0b")))[0]
    assert "NUL" in spec_problems(ContainerSpec((b"echo", b"a\0b")))[0]
    assert spec_problems(ContainerSpec(("echo", b"\xff\xfe"))) == []


def test_rootless_limits_need_a_delegated_v2_subtree_with_the_controllers_enabled(tmp_path):
    from moby_dick.cgroups import Layout, parse_limits
    from moby_dick.validate import delegated_v2

    spec = ContainerSpec(("true",), userns="rootless", limits=parse_limits("64m", None, "32", None, None))
    v2 = Layout("v2", {"": (str(tmp_path), "/user.slice/alice")}, frozenset({"memory", "pids"}))
    writable = {str(tmp_path / "user.slice/alice" / name) for name in ("cgroup.procs", "cgroup.subtree_control")}
    assert delegated_v2(spec, v2, access=lambda path, mode: path in writable)
    assert not delegated_v2(spec, v2, access=lambda path, mode: False)  # not delegated to the caller
    no_pids = Layout("v2", v2.roots, frozenset({"memory"}))
    assert not delegated_v2(spec, no_pids, access=lambda path, mode: True)  # a controller the limits need is off
    hybrid = Layout("hybrid", {"memory": ("/sys/fs/cgroup/memory", "/"), "": (str(tmp_path), "/")}, frozenset({"memory"}))
    assert not delegated_v2(spec, hybrid, access=lambda path, mode: True)  # v1 controllers: no delegation
