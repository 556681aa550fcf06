"""ELF dependency reading on the host's own binaries, and safe tarball unpacking (hypothesis)."""

import io
import os
import shutil
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moby_dick.elf import NotElf, dependencies, read_dynamic_info
from moby_dick.errors import UsageError
from moby_dick.images import unpack_tarball


def test_a_dynamic_binary_needs_libc_and_a_loader():
    ls = shutil.which("ls")
    interpreter, needed, _ = read_dynamic_info(open(ls, "rb").read())
    assert interpreter and interpreter.startswith("/") and "ld-linux" in interpreter
    assert "libc.so.6" in needed
    deps = dependencies(ls)
    assert any(path.endswith("/libc.so.6") for path in deps) and all(os.path.exists(p) for p in deps)


def test_a_static_binary_needs_nothing():
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static is not installed (scripts/setup-system installs it)")
    assert read_dynamic_info(open(busybox, "rb").read()) == (None, [], [])


def test_not_elf():
    with pytest.raises(NotElf):
        read_dynamic_info(b"#!/bin/sh\necho hi\n")


def make_tar(path, members):
    with tarfile.open(path, "w") as archive:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, target
                archive.addfile(info)
            elif kind == "device":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                archive.addfile(info)
            else:
                data = b"content"
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))


def test_a_good_tarball_is_unpacked_and_cached(tmp_path):
    make_tar(tmp_path / "ok.tar", [("bin/tool", "file", None), ("bin/alias", "symlink", "tool")])
    tree = unpack_tarball(str(tmp_path / "ok.tar"), str(tmp_path / "cache"))
    assert open(os.path.join(tree, "bin", "tool"), "rb").read() == b"content"
    assert os.readlink(os.path.join(tree, "bin", "alias")) == "tool"
    assert unpack_tarball(str(tmp_path / "ok.tar"), str(tmp_path / "cache")) == tree


@pytest.mark.parametrize("members", [
    [("../outside", "file", None)],
    [("a/../../outside", "file", None)],
    [("link", "symlink", "/etc"), ("link/passwd", "file", None)],
    [("link", "symlink", "../../.."), ("link/x", "file", None)],
    [("null", "device", None)],
])
def test_hostile_tarballs_leave_nothing(tmp_path, members):
    make_tar(tmp_path / "bad.tar", members)
    with pytest.raises(UsageError, match="refused"):
        unpack_tarball(str(tmp_path / "bad.tar"), str(tmp_path / "cache"))
    assert os.listdir(tmp_path / "cache") == []
    assert sorted(os.listdir(tmp_path)) == ["bad.tar", "cache"]


NAMES = st.lists(st.sampled_from(["..", ".", "a", "b", "", "/"]), min_size=1, max_size=5).map("/".join)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NAMES, min_size=1, max_size=3))
def test_no_member_name_writes_outside_the_cache(tmp_path, names):
    work = tmp_path / f"w{abs(hash(tuple(names)))}"
    (work / "deep").mkdir(parents=True)
    make_tar(work / "deep" / "t.tar", [(name or "x", "file", None) for name in names])
    try:
        tree = unpack_tarball(str(work / "deep" / "t.tar"), str(work / "deep" / "cache"))
    except UsageError:
        assert os.listdir(work / "deep" / "cache") == []
    else:
        for directory, _, files in os.walk(work):
            for name in files:
                path = os.path.join(directory, name)
                assert path == str(work / "deep" / "t.tar") or path.startswith(tree + os.sep)
    shutil.rmtree(work)
