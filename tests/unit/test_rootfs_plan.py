"""The jail's plan (pure) and its syscalls in order, against the recording fake; -v specs (hypothesis)."""

import string

from hypothesis import given
from hypothesis import strategies as st

from moby_dick import syscalls
from moby_dick.channel import MemoryChannel
from moby_dick.config import from_spec, parse_volume
from moby_dick.plan import plan
from moby_dick.process import run_steps
from moby_dick.rootfs import volume_problems
from moby_dick.spec import ContainerSpec
from moby_dick.syscalls.fake import RecordingKernel

ROOTFS = "/srv/rootfs"


def calls(spec):
    """The child's and PID 1's calls; a mount on /proc/self/fd/N is shown on the path N was opened at
    (inside the root), so the tests read the container's paths."""
    kernel = RecordingKernel()
    runtime, container = MemoryChannel.pair()
    runtime.send("go")
    the_plan = plan(spec)
    run_steps(the_plan.child + the_plan.init, kernel, container)
    recorded, opened, directory = [], None, None
    for call in kernel.calls:
        if call[0] == "open_in_root":
            opened = directory = call[1].rstrip("/") + "/" + call[2].lstrip("/")
        if call[0] == "make_at":  # made in the directory opened last (/dev's fresh tmpfs)
            opened = f"{directory}/{call[2]}"
        if call[0] == "mount" and call[2] == f"/proc/self/fd/{kernel.next_fd}":
            call = call[:2] + (opened,) + call[3:]
        if call[0] not in ("prctl", "pipe_has_writer", "close", "open_in_root", "make_at"):
            recorded.append(call)
    return recorded


def mount_targets(recorded):
    return [call[2] for call in recorded if call[0] == "mount"]


def test_overlay_jail_order():
    recorded = calls(ContainerSpec(("sh",), rootfs=ROOTFS))
    names = [call[0] for call in recorded]
    # the new root is assembled, then entered; nothing is mounted after the pivot
    assert names.index("open_path") < names.index("pivot_root")
    pivot = names.index("pivot_root")
    assert names[pivot - 1:pivot + 3] == ["chdir", "pivot_root", "umount2", "chdir"]
    # after the pivot only the container's own paths are touched: masks and read-only /proc paths
    assert all(call[1] == "/" for call in recorded[pivot + 3:] if call[0] == "open_in_root")
    root = ROOTFS + "/merged"
    targets = mount_targets(recorded)
    assert targets[:4] == ["/", ROOTFS, root, root + "/proc"]  # private, scratch tmpfs, overlay, proc
    assert {root + "/dev", root + "/sys", root + "/tmp", root + "/dev/pts", root + "/dev/shm"} <= set(targets)
    assert "/mytmp" not in targets and root + "/mytmp" not in targets  # the seed's tmpfs is not a jail's
    overlay = next(call for call in recorded if call[0] == "mount" and call[3] == "overlay")
    assert overlay[5] == f"lowerdir=/proc/self/fd/99,upperdir={ROOTFS}/upper,workdir={ROOTFS}/work"
    assert recorded[pivot] == ("pivot_root", ".", ".") and recorded[pivot + 1] == ("umount2", ".", syscalls.MNT_DETACH)


def test_every_path_inside_the_root_is_opened_inside_it_and_mounted_through_its_descriptor():
    kernel = RecordingKernel()
    runtime, container = MemoryChannel.pair()
    runtime.send("go")
    the_plan = plan(ContainerSpec(("sh",), rootfs=ROOTFS, volumes=("/etc:/evil/sub",), tmpfs=("/scratch",)))
    run_steps(the_plan.child + the_plan.init, kernel, container)
    opened = [call[2] for call in kernel.calls if call[0] == "open_in_root"]
    assert {"/proc", "/dev", "/sys", "/tmp", "/evil/sub", "/scratch"} <= set(opened)
    # /dev's nodes are made in the fresh tmpfs, relative to its one descriptor (opened inside the root)
    made, directory = [], None
    for call in kernel.calls:
        directory = call[2] if call[0] == "open_in_root" else directory
        made += [f"{directory}/{call[2]}"] if call[0] == "make_at" else []
    assert made[:7] == ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts"]
    root = ROOTFS + "/merged"
    pivot = kernel.names().index("pivot_root")
    assert all(call[1] == root for call in kernel.calls[:pivot] if call[0] == "open_in_root")
    assert all(call[1] == "/" for call in kernel.calls[pivot:] if call[0] == "open_in_root")  # the masks
    jail_mounts = [call for call in kernel.calls if call[0] == "mount" and call[3] not in ("overlay", "tmpfs")
                   or call[0] == "mount" and call[2] not in ("/", ROOTFS, root)]
    # after the root's own mounts, no mount names a host path as its target: only descriptors
    targets = {call[2] for call in jail_mounts if call[2] not in ("/", ROOTFS, root)}
    assert targets == {f"/proc/self/fd/{kernel.next_fd}"}
    assert ("symlink_at", kernel.next_fd, "fd", "/proc/self/fd") in kernel.calls


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


def process_of(spec, environ=None):
    return from_spec(spec, environ).process


def test_process_environment_user_and_init():
    jailed = process_of(ContainerSpec(("sh",), rootfs=ROOTFS, env=("A=1", "PATH=/bin"), user="1000", hostname="x"),
                        environ={"TERM": "xterm", "SECRET": "host"})
    # docker's rule: a uid the image's /etc/passwd does not know runs with gid 0 and HOME=/
    assert jailed.environment() == {"PATH": "/bin", "HOME": "/", "HOSTNAME": "x", "TERM": "xterm", "A": "1"}
    assert (jailed.user.uid, jailed.user.gid) == (1000, 0)
    plain = process_of(ContainerSpec(("sh",)), environ={"SECRET": "host"})
    assert plain.env is None and plain.user is None  # inherits, as the seed's execvp did
    assert process_of(ContainerSpec(("sh",), env=("A=1",)), environ={"B": "2"}).environment() == {"B": "2", "A": "1"}
    assert process_of(ContainerSpec(("sh",), init=True, user="5:6")).init
    assert process_of(ContainerSpec(("sh",), user="5:6")).user.gid == 6


PATHS = st.lists(st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=6).filter(
    lambda part: part not in (".", "..")), min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))


@given(PATHS, PATHS, st.sampled_from(["", ":ro", ":rw"]))
def test_good_volume_specs_parse_back(source, target, mode):
    text = f"{source}:{target}{mode}"
    assert volume_problems(text) == []
    mount = parse_volume(text)
    assert (mount.source, mount.destination, mount.read_only, mount.type) == (source, target, mode == ":ro", "bind")


@given(st.text(max_size=30))
def test_any_volume_spec_is_either_accepted_whole_or_refused_in_one_line(text):
    problems = volume_problems(text)
    if problems:
        assert len(problems) == 1 and "\n" not in problems[0] or "\n" in text
    else:
        mount = parse_volume(text)
        assert mount.source.startswith("/") and mount.destination.startswith("/")
        assert ".." not in mount.destination.split("/")


def test_volume_edges():
    for bad in ("/a", "a:/b", "/a:b", "/a:/b:rx", "/a:/", "/a:/b/../c", ":/b", "/a:"):
        assert volume_problems(bad), bad
