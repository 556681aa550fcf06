"""The filesystem jail: pivot_root into a rootfs, with /proc, /dev, /sys, /tmp, volumes, user, and
the escape that works against chroot (the control) but not against pivot_root."""

import os
import stat
import subprocess
import tarfile

import pytest

from moby_dick import UsageError, probe, run, start
from moby_dick.mkrootfs import mkrootfs
from moby_dick.spec import ContainerSpec
from tests_support import moby_dick_command, wait_for
from tests_support import tree_snapshot

pytestmark = pytest.mark.privileged


def jailed(rootfs, script, **options):
    options.setdefault("rootfs", rootfs)
    return run(["sh", "-c", script], capture=True, **options)


def test_the_root_is_the_rootfs_and_the_host_is_unreachable(rootfs, scratch):
    marker = scratch / "host-only-marker"
    marker.write_text("secret")
    result = jailed(rootfs, f"ls /; test -e {marker} && echo REACHED || echo unreachable")
    listing, verdict = result.text.split()[:-1], result.text.split()[-1]
    assert sorted(listing) == sorted(os.listdir(rootfs))
    assert verdict == "unreachable"


def test_writes_go_to_a_discarded_layer(rootfs):
    before = tree_snapshot(rootfs)
    result = jailed(rootfs, "echo x > /newfile && rm /etc/passwd && mkdir /bin/extra && cat /newfile")
    assert result.text == "x\n"
    assert tree_snapshot(rootfs) == before
    assert jailed(rootfs, "test -e /newfile || echo gone").text == "gone\n"


def test_read_only_root(rootfs):
    result = jailed(rootfs, "touch /newfile", read_only=True)
    assert result.exit_code != 0 and b"Read-only file system" in result.stderr
    assert jailed(rootfs, "touch /tmp/ok && echo writable-tmp", read_only=True).text == "writable-tmp\n"


def test_proc_dev_sys_tmp(rootfs):
    script = ("ps -o pid,comm | tail -n +2; echo @; ls /dev; echo @; ls /sys/class/net; echo @; "
              "touch /sys/x 2>&1; echo @; mount | grep -c ' /tmp type tmpfs'; echo @; "
              "echo hello > /dev/null && head -c 4 /dev/zero | wc -c")
    ps, dev, net, sys_write, tmp, devnull = jailed(rootfs, script).text.split("@\n")
    assert ps.split()[:2] == ["1", "sh"]
    assert set(dev.split()) >= {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
                                "fd", "stdin", "stdout", "stderr"}
    assert net.split() == ["lo"], "sysfs mounted from the container's network namespace"
    assert "Read-only file system" in sys_write
    assert tmp.strip() == "1" and devnull.strip() == "4"


def test_device_nodes_are_the_hosts_and_nothing_else(rootfs):
    def inspect():
        return {name: stat.S_ISCHR(os.stat(f"/dev/{name}").st_mode) for name in os.listdir("/dev")
                if not os.path.islink(f"/dev/{name}") and name not in ("pts", "shm")}
    seen = run(ContainerSpec((), rootfs=rootfs, function=inspect)).value
    assert seen == {name: True for name in ("null", "zero", "full", "random", "urandom", "tty")}


def test_volumes(rootfs, scratch):
    (scratch / "in").mkdir()
    (scratch / "in" / "file").write_text("from the host")
    (scratch / "out").mkdir()
    result = jailed(rootfs, "cat /data/file; touch /data/x 2>&1; echo made > /out/result",
                    volumes=(f"{scratch}/in:/data:ro", f"{scratch}/out:/out"))
    assert result.text.startswith("from the host") and "Read-only file system" in result.text
    assert (scratch / "out" / "result").read_text() == "made\n"
    assert sorted(os.listdir(scratch / "in")) == ["file"]


def test_workdir_env_and_user(rootfs):
    result = jailed(rootfs, 'pwd; echo "$GREETING"; id -u; id -g; echo "$HOSTNAME"', workdir="/tmp",
                    env=("GREETING=ahoy",), user="65534:65534", hostname="pequod")
    assert result.text.split() == ["/tmp", "ahoy", "65534", "65534", "pequod"]


def _climb_out():
    """The classic chroot escape: chroot into a subdirectory without entering it, climb with "..",
    chroot to where we stopped. Returns what "/" holds afterwards."""
    os.makedirs("/tmp/deeper", exist_ok=True)
    os.chroot("/tmp/deeper")  # the working directory stays outside the new root
    for _ in range(100):
        os.chdir("..")
    os.chroot(".")
    return sorted(os.listdir("/"))


def test_the_chroot_escape_fails_against_pivot_root_and_works_against_chroot(rootfs):
    jailed_view = run(ContainerSpec((), rootfs=rootfs, function=_climb_out)).value
    assert jailed_view == sorted(os.listdir(rootfs)), "escaped the pivot_root jail"
    chroot_view = run(ContainerSpec((), rootfs=rootfs, jail="chroot", function=_climb_out)).value
    volatile = {"mytmp"}  # made and removed by other containers running meanwhile
    assert set(chroot_view) - volatile == set(os.listdir("/")) - volatile, "the control: a plain chroot is escapable"


def test_a_tarball_rootfs(rootfs, scratch):
    tarball = scratch / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(rootfs, arcname=".")
    cache = scratch / "cache"
    result = run(["sh", "-c", "ls /bin/busybox && hostname"], capture=True, rootfs=str(tarball), cache_dir=str(cache))
    assert result.text == "/bin/busybox\ncontainerhostname\n"
    assert len(os.listdir(cache)) == 1  # unpacked once, cached by its digest
    run(["true"], rootfs=str(tarball), cache_dir=str(cache))
    assert len(os.listdir(cache)) == 1


def test_absolute_member_names_land_inside(scratch):
    tarball = scratch / "abs.tar"
    with tarfile.open(tarball, "w") as archive:
        info = tarfile.TarInfo(f"{scratch}/abs-escaped")
        archive.addfile(info, __import__("io").BytesIO(b""))
    cache = scratch / "cache"
    from moby_dick.images import unpack_tarball

    tree = unpack_tarball(str(tarball), str(cache))
    assert not (scratch / "abs-escaped").exists()
    assert os.path.exists(os.path.join(tree, str(scratch).lstrip("/"), "abs-escaped"))


@pytest.mark.parametrize("member", ["../escaped", "link-out"])
def test_hostile_tarballs_are_refused_and_leave_nothing(scratch, member):
    tarball = scratch / "bad.tar"
    with tarfile.open(tarball, "w") as archive:
        info = tarfile.TarInfo(member)
        if member == "link-out":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        archive.addfile(info, None if member == "link-out" else __import__("io").BytesIO(b""))
    cache = scratch / "cache"
    with pytest.raises(UsageError, match="refused"):
        run(["true"], rootfs=str(tarball), cache_dir=str(cache))
    assert os.listdir(cache) == []
    assert not (scratch.parent / "escaped").exists()


@pytest.mark.parametrize("args, message", [
    (["--rootfs", "/nonexistent/rootfs", "true"], "does not exist"),
    (["--rootfs", "/etc/passwd", "true"], "not a directory or a tarball"),
    (["--rootfs", "ROOTFS", "nosuchcommand"], 'has no command "nosuchcommand"'),
    (["--rootfs", "ROOTFS", "-v", "/nonexistent:/data", "true"], "does not exist"),
    (["--rootfs", "ROOTFS", "-v", "/tmp:data", "true"], "container path must be absolute"),
    (["-v", "/tmp:/data", "true"], "needs --rootfs"),
])
def test_bad_jail_input_is_one_line_and_125(cli, rootfs, args, message):
    done = cli(*[rootfs if a == "ROOTFS" else a for a in args])
    assert done.returncode == 125
    assert done.stderr.count(b"\n") == 1 and message.encode() in done.stderr, done.stderr


def test_sigkill_of_moby_dick_leaves_no_process(rootfs, spawn):
    process = spawn("--rootfs", rootfs, "sleep", "987.5")
    wait_for(lambda: probe.processes_with("987.5"), "the container to start")
    process.kill()
    process.wait()
    wait_for(lambda: not probe.processes_with("987.5"), "the jailed container to die")



def test_mkrootfs_from_the_hosts_own_binaries(scratch):
    target = scratch / "hostfs"
    assert mkrootfs(str(target), "host") == "host"
    result = run(["sh", "-c", "ls /bin | grep -c . ; cat /etc/passwd | head -1; ps -e -o pid= | head -1"],
                 capture=True, rootfs=str(target))
    count, passwd, first_pid = result.text.split()
    assert int(count) >= 10 and passwd.startswith("root:") and first_pid == "1", result.stderr


def test_started_container_reports_pid_one_host_pid(rootfs):
    with start(ContainerSpec(("sleep", "30"), rootfs=rootfs)) as container:
        # EOF on the sync pipe comes as exec closes it; the new cmdline is set a moment later
        wait_for(lambda: open(f"/proc/{container.pid}/cmdline", "rb").read() == b"sleep\x0030\x00",
                 "the exec'd command line")
        nspid = next(line for line in open(f"/proc/{container.pid}/status") if line.startswith("NSpid:"))
        assert nspid.split()[1:] == [str(container.pid), "1"]  # the host's number, then the container's


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_a_symlink_in_the_image_cannot_redirect_mounts_or_workdir_to_the_host(scratch, link):
    # CVE-2021-30465's class: the image holds evil -> <a host directory>; a volume, a tmpfs and the
    # working directory below evil/ must land inside the container's root, and nothing on the host.
    host_dir = scratch / "host-dir"
    host_dir.mkdir()
    volume = scratch / "volume"
    volume.mkdir()
    (volume / "marker").write_text("from the volume\n")
    evil_root = scratch / "image"
    mkrootfs(str(evil_root), "busybox")
    (evil_root / "evil").symlink_to(str(host_dir) if link == "absolute" else "../../../../../.." + str(host_dir))
    result = run(["sh", "-c", "cat /evil/vol/marker; test -d /evil/scratch && echo tmpfs-there; pwd"],
                 capture=True, rootfs=str(evil_root), volumes=(f"{volume}:/evil/vol",), tmpfs=("/evil/scratch",),
                 workdir="/evil/work")
    assert result.exit_code == 0, result.stderr
    marker, tmpfs, cwd = result.text.splitlines()
    assert (marker, tmpfs) == ("from the volume", "tmpfs-there") and cwd.endswith("/work")
    assert os.listdir(host_dir) == []  # the control of this claim is the naive join, shown in tests/unit
    assert not (evil_root / "evil").resolve().joinpath("vol").exists()


def test_descriptors_the_caller_leaks_do_not_reach_the_container(rootfs, scratch):
    # CVE-2024-21626's shape: an inheritable directory fd of the caller would let the container walk
    # ".." to the host's root. The final phase marks everything above stdio close-on-exec.
    fd = os.open(str(scratch), os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)
    try:
        result = jailed(rootfs, f"ls /proc/self/fd; test -e /proc/self/fd/{fd} && echo LEAKED || echo closed")
    finally:
        os.close(fd)
    assert result.text.split()[-1] == "closed", result.text
    assert sorted(int(n) for n in result.text.split()[:-1]) <= [0, 1, 2, 3]  # 3: the fd of ls's own listing


def _busybox_tarball(rootfs, path, padding_mb=0):
    with tarfile.open(path, "w") as archive:
        archive.add(rootfs, arcname=".")
        if padding_mb:  # a member big enough that unpacking takes a moment to kill into
            import io

            data = os.urandom(1 << 20) * padding_mb
            info = tarfile.TarInfo("padding")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


def test_cleanup_leaves_the_cache_entry_of_a_running_container(rootfs, scratch):
    from moby_dick.images import clear_cache

    tarball = _busybox_tarball(rootfs, scratch / "bb.tar")
    cache = str(scratch / "cache")
    with start(ContainerSpec(("sh", "-c", "sleep 1; ls /bin | wc -l"), rootfs=tarball, cache_dir=cache),
               capture=True) as container:
        assert clear_cache(cache) == []  # held by the running container
        result = container.wait()
    assert int(result.text) > 10  # its /bin was still there a second later
    assert len(clear_cache(cache)) == 1 and os.listdir(cache) == []  # then it goes


def test_a_kill_while_unpacking_leaves_no_staging_directory(rootfs, scratch):
    tarball = _busybox_tarball(rootfs, scratch / "big.tar", padding_mb=200)
    cache = scratch / "cache"
    code = ("import sys; from moby_dick.images import unpack_tarball; "
            f"unpack_tarball({tarball!r}, {str(cache)!r})")
    for delay in (0.3, 0.6):
        child = subprocess.Popen([__import__("sys").executable, "-c", code])
        wait_for(lambda: cache.exists() and any(n.startswith(".unpacking-") for n in os.listdir(cache)),
                 "the unpacking to begin", timeout=20)
        __import__("time").sleep(delay / 10)
        child.kill()
        child.wait()
        wait_for(lambda: not any(n.startswith(".unpacking-") for n in os.listdir(cache)),
                 "the guard to remove the staging directory", timeout=10)
