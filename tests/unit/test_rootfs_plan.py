"""The jail's plan (pure) and its syscalls in order, against the recording fake; -v specs (hypothesis)."""

import string

from hypothesis import given
from hypothesis import strategies as st

from moby_dick import syscalls
from moby_dick.plan import command, plan
from moby_dick.rootfs import parse_volume, volume_problems
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import RecordingKernel

ROOTFS = "/srv/rootfs"


def calls(spec):
    kernel = RecordingKernel()
    for step in plan(spec):
        step.apply(kernel)
    return kernel.calls


def mount_targets(recorded):
    return [call[2] for call in recorded if call[0] == "mount"]


def test_overlay_jail_order():
    recorded = calls(ContainerSpec(("sh",), rootfs=ROOTFS))
    names = [call[0] for call in recorded]
    # the new root is assembled, then entered; nothing is mounted after the pivot
    assert names.index("open_path") < names.index("pivot_root")
    assert names[-4:] == ["chdir", "pivot_root", "umount2", "chdir"]
    root = ROOTFS + "/merged"
    targets = mount_targets(recorded)
    assert targets[:4] == ["/", ROOTFS, root, root + "/proc"]  # private, scratch tmpfs, overlay, proc
    assert {root + "/dev", root + "/sys", root + "/tmp", root + "/dev/pts", root + "/dev/shm"} <= set(targets)
    assert "/mytmp" not in targets and root + "/mytmp" not in targets  # the seed's tmpfs is not a jail's
    overlay = next(call for call in recorded if call[0] == "mount" and call[3] == "overlay")
    assert overlay[5] == f"lowerdir=/proc/self/fd/99,upperdir={ROOTFS}/upper,workdir={ROOTFS}/work"
    assert recorded[-3] == ("pivot_root", ".", ".") and recorded[-2] == ("umount2", ".", syscalls.MNT_DETACH)


def test_read_only_jail_binds_the_rootfs_and_remounts_ro_after_the_pivot():
    recorded = calls(ContainerSpec(("sh",), rootfs=ROOTFS, read_only=True))
    assert ("mount", ROOTFS, ROOTFS, None, syscalls.MS_BIND | syscalls.MS_REC, None) in recorded
    assert "open_path" not in [call[0] for call in recorded]
    assert recorded[-1] == ("mount", None, "/", None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY, None)


def test_chroot_control_has_no_pivot():
    names = [call[0] for call in calls(ContainerSpec(("sh",), rootfs=ROOTFS, jail="chroot"))]
    assert "chroot" in names and "pivot_root" not in names and "umount2" not in names


def test_volumes_land_inside_the_new_root_and_ro_is_remounted():
    recorded = calls(ContainerSpec(("sh",), rootfs=ROOTFS, volumes=("/etc:/host-etc:ro",)))
    target = ROOTFS + "/merged/host-etc"
    assert ("mount", "/etc", target, None, syscalls.MS_BIND | syscalls.MS_REC, None) in recorded
    assert ("mount", None, target, None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY, None) in recorded


def test_command_environment_user_and_init():
    jailed = command(ContainerSpec(("sh",), rootfs=ROOTFS, env=("A=1", "PATH=/bin"), user="1000", hostname="x"),
                     environ={"TERM": "xterm", "SECRET": "host"})
    assert jailed.env == {"PATH": "/bin", "HOME": "/root", "HOSTNAME": "x", "TERM": "xterm", "A": "1"}
    assert (jailed.uid, jailed.gid) == (1000, 1000)
    plain = command(ContainerSpec(("sh",)), environ={"SECRET": "host"})
    assert plain.env is None and plain.uid is None  # inherits, as the seed's execvp did
    assert command(ContainerSpec(("sh",), env=("A=1",)), environ={"B": "2"}).env == {"B": "2", "A": "1"}
    assert command(ContainerSpec(("sh",), init=True, user="5:6")).init and command(ContainerSpec(("sh",), user="5:6")).gid == 6


PATHS = st.lists(st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=6).filter(
    lambda part: part not in (".", "..")), min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))


@given(PATHS, PATHS, st.sampled_from(["", ":ro", ":rw"]))
def test_good_volume_specs_parse_back(source, target, mode):
    text = f"{source}:{target}{mode}"
    assert volume_problems(text) == []
    assert parse_volume(text) == (source, target, mode == ":ro")


@given(st.text(max_size=30))
def test_any_volume_spec_is_either_accepted_whole_or_refused_in_one_line(text):
    problems = volume_problems(text)
    if problems:
        assert len(problems) == 1 and "\n" not in problems[0] or "\n" in text
    else:
        source, target, _ = parse_volume(text)
        assert source.startswith("/") and target.startswith("/") and ".." not in target.split("/")


def test_volume_edges():
    for bad in ("/a", "a:/b", "/a:b", "/a:/b:rx", "/a:/", "/a:/b/../c", ":/b", "/a:"):
        assert volume_problems(bad), bad
