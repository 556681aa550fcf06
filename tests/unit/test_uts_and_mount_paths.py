"""Pure validation: hostnames and tmpfs paths, over their whole input spaces (hypothesis)."""

import string

from hypothesis import given
from hypothesis import strategies as st

from moby_dick.mounts import normalize, tmpfs_path_problems
from moby_dick.testing.strategies import VALID_HOSTNAMES
from moby_dick.uts import hostname_problems



@given(VALID_HOSTNAMES)
def test_valid_hostnames_have_no_problems(name):
    assert hostname_problems(name) == []


@given(VALID_HOSTNAMES, st.sampled_from(list(" _/\\\0!@#$%^&*()+=,;:'\"\n\té")))
def test_one_illegal_character_is_a_problem(name, bad):
    broken = name[:1] + bad + name[1:]
    assert hostname_problems(broken), broken


def test_hostname_edges():
    assert hostname_problems("") == ["hostname is empty"]
    assert hostname_problems("a" * 63) == []
    assert hostname_problems("a" * 64)  # one label over 63
    assert hostname_problems(".".join(["a" * 30] * 3))  # 92 bytes
    assert hostname_problems("josh.") and hostname_problems(".josh") and hostname_problems("a..b")
    assert hostname_problems("-josh") and hostname_problems("josh-")
    assert "NUL" in hostname_problems("jo\0sh")[0]


@given(st.text(min_size=1).filter(lambda p: not p.startswith("/")))
def test_relative_tmpfs_paths_are_refused(path):
    assert tmpfs_path_problems(path)


@given(st.lists(st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=8), min_size=1, max_size=4))
def test_plain_absolute_paths_are_accepted_and_stable(parts):
    path = "/" + "/".join(parts)
    assert tmpfs_path_problems(path) == []
    assert normalize(path) == path


def test_tmpfs_path_edges():
    assert tmpfs_path_problems("/")
    assert tmpfs_path_problems("//")
    assert tmpfs_path_problems("/a/../b")
    assert tmpfs_path_problems("/a/./b")
    assert tmpfs_path_problems("/a\0b")
    assert normalize("/a//b/") == "/a/b"
