"""Checks that read the machine, pointed at fake paths and a fake uid."""

from moby_dick.spec import ContainerSpec
from moby_dick.validate import host_problems, spec_problems


def test_not_root_is_one_clear_problem(tmp_path):
    problems = host_problems(ContainerSpec(("true",), seed_tmpfs=False), euid=1000)
    assert problems and "needs root" in problems[0]


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
