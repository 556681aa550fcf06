"""--userns private: root inside is moby-dick's unprivileged subordinate range outside. Each claim with
its control (--userns host, today's default): read from the kernel (uid_map, /proc/<pid>/status seen
from the host, the owner of a file on a volume)."""

import os

import pytest

from moby_dick import ContainerSpec, run, start
from moby_dick.userns import free_range, parse_subordinate

pytestmark = pytest.mark.privileged


@pytest.fixture(scope="module")
def open_tree():
    """A directory the mapped root can reach: pytest's own /tmp/pytest-of-root is 0700, and the user
    namespace's root is not the host's root (which is the point); docker's userns-remap asks the same."""
    import shutil
    import tempfile
    from pathlib import Path

    from moby_dick.mkrootfs import mkrootfs

    base = Path(tempfile.mkdtemp(prefix="moby-userns-", dir="/tmp"))
    os.chmod(base, 0o755)
    mkrootfs(str(base / "rootfs"), "busybox")
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("userns", ["private", "host"])
def test_root_inside_is_an_unprivileged_id_outside_and_host_is_the_control(open_tree, userns):
    rootfs = str(open_tree / "rootfs")
    scratch = open_tree / userns
    scratch.mkdir(mode=0o755)
    volume = scratch / "volume"
    volume.mkdir(mode=0o777)
    os.chmod(volume, 0o777)
    root_only = scratch / "root-only"
    root_only.mkdir(mode=0o755)
    script = "id -u; cat /proc/self/uid_map; touch /data/made; touch /ro/x 2>/dev/null && echo wrote || echo refused; sleep 1"
    with start(ContainerSpec(("sh", "-c", script), rootfs=rootfs, userns=userns,
                             volumes=(f"{volume}:/data", f"{root_only}:/ro")), capture=True) as container:
        with open(f"/proc/{container.pid}/status") as file:  # the host's view of the container's PID 1
            host_uid = int(next(line for line in file if line.startswith("Uid:")).split()[1])
        result = container.wait()
    inside_uid, map_line, verdict = result.text.splitlines()[0], result.text.splitlines()[1].split(), result.text.splitlines()[2]
    owner = os.stat(volume / "made").st_uid
    assert inside_uid == "0"  # root inside, both ways
    if userns == "private":
        assert map_line[:2] == ["0", str(host_uid)] and host_uid >= 100000
        assert owner == host_uid  # a file made by "root" is owned by the mapped id on the host
        assert verdict == "refused" and not (root_only / "x").exists()  # a root-owned host directory is not writable
    else:  # the control: the host's root, everything reaches the host as root
        assert map_line[:3] == ["0", "0", "4294967295"] and host_uid == 0 and owner == 0
        assert verdict == "wrote" and (root_only / "x").exists()


def test_the_seed_scenarios_work_in_a_user_namespace():
    result = run(["sh", "-c", "hostname josh; hostname; ls -d /mytmp; cat /proc/self/uid_map"], capture=True,
                 userns="private")
    lines = result.text.split()
    assert result.exit_code == 0 and lines[0] == "josh" and lines[1] == "/mytmp" and lines[2:4] != ["0", "0"]


def test_subordinate_ranges_never_overlap():
    entries = parse_subordinate("alice:100000:65536\nbob:165536:65536\nbroken line\n")
    assert entries == [("alice", 100000, 65536), ("bob", 165536, 65536)]
    assert free_range(entries) == 231072
    assert free_range([]) == 100000


def test_an_unknown_userns_mode_is_one_line(cli):
    done = cli("--userns", "bogus", "true")
    assert done.returncode == 125 and done.stderr.count(b"\n") == 1


def test_a_rootfs_the_mapped_root_cannot_reach_is_one_line(rootfs, cli):
    done = cli("--userns", "private", "--rootfs", rootfs, "true")  # pytest's tmp is 0700: not searchable by others
    assert done.returncode == 125 and done.stderr.count(b"\n") == 1 and b"not searchable by others" in done.stderr
