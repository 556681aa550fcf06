"""-u NAME[:GROUP] resolved as docker and runc resolve it, in the rootfs's own /etc/passwd and /etc/group."""

import os

import pytest
from hypothesis import given, strategies as st

from moby_dick.config import from_spec
from moby_dick.errors import UsageError
from moby_dick.spec import ContainerSpec
from moby_dick.users import Account, account_files, parse_passwd, resolve

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken line
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """root:x:0:
wheel:x:10:alice,bob
audio:x:29:alice
alice:x:1000:
nogroup:x:65534:
"""


def test_a_name_brings_its_uid_primary_group_home_and_member_groups():
    assert resolve("alice", PASSWD, GROUP) == Account(1000, 1000, (10, 29), "/home/alice")
    assert resolve("nobody", PASSWD, GROUP) == Account(65534, 65534, (), "/nonexistent")


def test_a_group_name_or_id_replaces_the_primary_group():
    assert resolve("alice:wheel", PASSWD, GROUP) == Account(1000, 10, (29,), "/home/alice")
    assert resolve("nobody:29", PASSWD, GROUP).gid == 29


def test_a_known_uid_is_its_entry_and_an_unknown_one_runs_with_gid_0():
    assert resolve("1000", PASSWD, GROUP) == Account(1000, 1000, (10, 29), "/home/alice")
    assert resolve("4242", PASSWD, GROUP) == Account(4242, 0, (), "/")
    assert resolve("4242:4343", "", "") == Account(4242, 4343, (), "/")


@pytest.mark.parametrize("text, message", [("mallory", "unable to find user mallory"),
                                           ("alice:staff", "unable to find group staff"),
                                           ("alice:", "give USER or USER:GROUP"),
                                           ("4294967295", "ids go up to")])
def test_what_cannot_be_resolved_is_one_usage_error(text, message):
    with pytest.raises(UsageError, match=message):
        resolve(text, PASSWD, GROUP)


@given(st.text(max_size=200))
def test_any_passwd_text_parses_without_error(text):
    for name, uid, gid, home in parse_passwd(text):
        assert uid >= 0 and gid >= 0 and home


def test_the_files_are_read_inside_the_rootfs_never_through_a_link_to_the_host(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    config = from_spec(ContainerSpec(("id",), rootfs=str(rootfs), user="alice:audio"))
    assert (config.process.user.uid, config.process.user.gid, config.process.user.additional_gids) == (1000, 29, (10,))
    assert config.process.environment()["HOME"] == "/home/alice"
    # the control: a rootfs whose /etc/passwd is an absolute link resolves it inside the rootfs
    evil = tmp_path / "evil"
    (evil / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", evil / "etc" / "passwd")
    assert account_files(str(evil)) == ("", "")  # /etc/passwd inside the evil root does not exist
    with pytest.raises(UsageError, match="unable to find user root"):
        from_spec(ContainerSpec(("id",), rootfs=str(evil), user="root"))


def test_a_fifo_is_not_read(tmp_path):
    (tmp_path / "etc").mkdir()
    os.mkfifo(tmp_path / "etc" / "passwd")
    assert account_files(str(tmp_path))[0] == ""


# ---- rootless: the caller's own maps (moby_dick/userns.py) ---------------------------------------------------

from moby_dick.config import IdMap  # noqa: E402
from moby_dick.userns import WriteIdMaps, rootless_maps  # noqa: E402


def test_a_rootless_caller_is_root_inside_plus_its_subordinate_range_through_newuidmap():
    uids, gids, helper = rootless_maps(1000, 1000, "alice", "alice:100000:65536\n", "1000:200000:65536\n", True)
    assert uids == (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)) and gids == (IdMap(0, 1000, 1), IdMap(1, 200000, 65536))
    assert helper and str(WriteIdMaps(uids, gids, False, True)).startswith("newgidmap N 0 1000 1 1 200000 65536")


def test_without_newuidmap_or_a_range_the_map_is_the_single_own_id_and_setgroups_is_denied():
    assert rootless_maps(1000, 1000, "alice", "alice:100000:65536\n", "", True) == ((IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),), False)
    assert rootless_maps(1000, 1000, "alice", "alice:100000:65536\n", "alice:100000:65536\n", False)[2] is False
    assert 'write "deny" to /proc/N/setgroups' in str(WriteIdMaps((IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),), True, False))


def test_a_range_holding_the_callers_own_id_is_one_usage_error():
    with pytest.raises(UsageError, match="contains your own uid 1000"):
        rootless_maps(1000, 1000, "alice", "alice:900:65536\n", "alice:100000:65536\n", True)
