"""The evidence readers' parsers, fed sample text from /proc (proc(5)) instead of the live kernel."""

from pathlib import Path

from moby_dick import probe

MOUNTINFO = """\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
35 22 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:9 master:3 - cgroup cgroup rw,memory
36 22 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
90 22 0:50 / /my\\040dir rw,nosuid,nodev,relatime - tmpfs moby-dick rw
"""

SYSVIPC_MSG = """\
       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime
-1259620469          1   644           0          0     0     0     0     0     0     0          0          0 1764550000
 123456789          2   600           0          0     0     0  1000  1000  1000  1000          0          0 1764550001
"""

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 1234       5    0    0    0     0          0         0     1234       5    0    0    0     0       0          0
"""


def test_mountinfo_fields_propagation_and_escapes():
    entries = probe.parse_mountinfo(MOUNTINFO)
    assert [e.mount_point for e in entries] == ["/", "/proc", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/my dir"]
    root, proc_, memory = entries[:3]
    assert root.is_shared and root.propagation == ("shared:1",) and root.fstype == "ext4"
    assert not proc_.is_shared and proc_.propagation == ()
    assert memory.propagation == ("shared:9", "master:3")
    assert entries[4].source == "moby-dick" and entries[4].fstype == "tmpfs"


def test_cgroup_layout_from_mounts():
    entries = probe.parse_mountinfo(MOUNTINFO)
    assert probe.cgroup_layout(entries) == "hybrid"
    assert probe.cgroup_layout(entries[:3]) == "v1"
    assert probe.cgroup_layout([entries[0], entries[3]]) == "v2"
    assert probe.cgroup_layout(entries[:2]) == "none"


def test_sysvipc_msg_keys_are_unsigned():
    queues = probe.parse_sysvipc_msg(SYSVIPC_MSG)
    assert [(q.key, q.msqid, q.perms, q.uid) for q in queues] == [
        (0xB4EBB78B, 1, 0o644, 0), (123456789, 2, 0o600, 1000)]
    assert probe.parse_sysvipc_msg("") == []
    assert probe.parse_sysvipc_msg(SYSVIPC_MSG.splitlines()[0]) == []


def test_net_dev_names():
    assert probe.parse_net_dev(NET_DEV) == ["lo", "eth0"]


def test_namespace_ids_read_from_a_fake_proc(tmp_path: Path):
    ns = tmp_path / "42" / "ns"
    ns.mkdir(parents=True)
    (ns / "uts").write_text("")
    (ns / "net").write_text("")
    ids = probe.namespace_ids(42, proc=tmp_path)
    assert set(ids) == {"uts", "net"}
    assert ids["uts"].ino == (ns / "uts").stat().st_ino and ids["uts"] != ids["net"]


def test_own_namespace_ids_are_stable():
    assert probe.namespace_ids() == probe.namespace_ids("self")
    assert str(probe.namespace_id("self", "uts")).startswith("uts:[")


def test_interfaces_of_this_process_include_lo():
    assert "lo" in [i.name for i in probe.interfaces()]
    assert "lo" in probe.interface_names()


def test_processes_from_a_fake_proc(tmp_path: Path):
    for pid, stat, cmdline in ((1, "1 (sh) S 0 1 1", b"sh\0-c\0x\0"), (7, "7 (my prog) Z 1 7 7", b""),
                               (9, "9 (sleep) S 1 9 9", b"sleep\x0030.5\0")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat)
        (tmp_path / str(pid) / "cmdline").write_bytes(cmdline)
    (tmp_path / "self").mkdir()
    assert probe.parse_stat("7 (my prog) Z 1 7 7") == ("Z", 1)
    assert sorted(probe.children_of(1, proc=tmp_path)) == [7, 9]
    assert probe.children_of(1, state="Z", proc=tmp_path) == [7]
    assert probe.processes_with("sleep\x0030.5", proc=tmp_path) == [9]
