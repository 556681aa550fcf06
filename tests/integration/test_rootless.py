"""Rootless: an unprivileged user runs moby-dick, which makes the user namespace by itself (as podman and bwrap
do): the caller's uid is root inside, its subordinate range (newuidmap/newgidmap) the ids 1..N.

The set-up is the test's own: a system user with subordinate ranges in /etc/subuid and /etc/subgid (removed
afterwards), and a venv made from Debian's /usr/bin/python3 (the default interpreter lives in root's home, which
that user cannot enter) in a world-readable directory, with a copy of moby_dick. Every command then runs as that
user (setpriv), with a clean environment. Controls: the same containers started by root.
"""

import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from moby_dick.userns import free_range, parse_subordinate

pytestmark = pytest.mark.privileged
PYTHON = "/usr/bin/python3"
PROJECT = Path(__file__).resolve().parents[2]


def _edit_subordinate(path, change):
    with open(path, "a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # moby-dick adds its own range under the same lock
        file.seek(0)
        lines = file.read().splitlines()
        file.seek(0)
        file.truncate()
        file.write("".join(line + "\n" for line in change(lines)))


@pytest.fixture(scope="module")
def user():
    if not os.path.exists(PYTHON):
        pytest.fail("Debian's /usr/bin/python3 is missing (scripts/setup-system installs python3-venv)")
    name = f"mdrl{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    home = Path(tempfile.mkdtemp(prefix="moby-rootless-", dir="/tmp"))
    try:
        entry = pwd.getpwnam(name)
        ranges = {}
        for path in ("/etc/subuid", "/etc/subgid"):
            entries = parse_subordinate(Path(path).read_text() if os.path.exists(path) else "")
            start = free_range(entries, first=300000)
            ranges[path] = start
            _edit_subordinate(path, lambda lines, start=start: lines + [f"{name}:{start}:65536"])
        os.chmod(home, 0o755)
        shutil.copytree(PROJECT / "moby_dick", home / "src" / "moby_dick", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
        site = next((home / "venv" / "lib").glob("python3*/site-packages"))
        (site / "moby_dick.pth").write_text(str(home / "src") + "\n")
        work = home / "work"
        work.mkdir()
        os.chown(work, entry.pw_uid, entry.pw_gid)
        subprocess.run(["chmod", "-R", "a+rX", str(home)], check=True)

        def command(*args):
            return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
                    "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", f"HOME={work}",
                    str(home / "venv" / "bin" / "python"), "-m", "moby_dick", *args]

        def run(*args, **kwargs):
            kwargs.setdefault("capture_output", True)
            kwargs.setdefault("timeout", 60)
            return subprocess.run(command(*args), cwd=work, **kwargs)

        def oci(*args, **kwargs):  # moby-dick-oci, as that user
            kwargs.setdefault("capture_output", True)
            kwargs.setdefault("timeout", 60)
            argv = command()[:-2] + ["-c", "import sys; from moby_dick.oci_cli import entry; "
                                           "sys.argv[0] = 'moby-dick-oci'; entry()", *args]
            return subprocess.run(argv, cwd=work, **kwargs)

        run.command, run.oci = command, oci
        run.uid, run.gid, run.work, run.ranges = entry.pw_uid, entry.pw_gid, work, ranges
        built = run("mkrootfs", str(work / "rootfs"))
        assert built.returncode == 0, built.stderr
        yield run
    finally:
        for path in ("/etc/subuid", "/etc/subgid"):
            _edit_subordinate(path, lambda lines: [line for line in lines if not line.startswith(f"{name}:")])
        subprocess.run(["userdel", name], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_the_seed_scenarios_work_without_root(user):
    script = "hostname josh; hostname; ipcmk -Q >/dev/null; ipcs -q | grep -c 0x; cat /proc/net/dev | tail -n +3 | cut -d: -f1; echo $$"
    done = user("sh", "-c", script)
    assert done.returncode == 0, done.stderr
    hostname, queues, device, pid = done.stdout.decode().split()
    assert (hostname, queues, device, pid) == ("josh", "1", "lo", "1")
    assert os.uname().nodename != "josh"  # the host kept its name


def test_root_inside_is_the_caller_outside_with_its_subordinate_range(user):
    done = user("sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map")
    lines = [line.split() for line in done.stdout.decode().splitlines()]
    assert lines[0] == ["0"]
    assert lines[1] == ["0", str(user.uid), "1"] and lines[2] == ["1", str(user.ranges["/etc/subuid"]), "65536"]
    assert lines[3] == ["0", str(user.gid), "1"] and lines[4] == ["1", str(user.ranges["/etc/subgid"]), "65536"]


def test_rootfs_init_and_files_owned_by_the_caller_on_the_host(user):
    volume = user.work / "volume"
    volume.mkdir()
    os.chown(volume, user.uid, user.gid)
    done = user("run", "--init", "--rootfs", str(user.work / "rootfs"), "-v", f"{volume}:/data", "sh", "-c",
                "touch /data/made && chown 1000:1000 /data/made && cat /proc/1/comm && grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "moby-dick:pid1" in text and "Seccomp:\t2" in text and "NoNewPrivs:\t1" in text
    made = os.stat(volume / "made")
    # uid 1000 inside is subordinate id 999 after the range's start outside: an unprivileged id, not 1000
    assert (made.st_uid, made.st_gid) == (user.ranges["/etc/subuid"] + 999, user.ranges["/etc/subgid"] + 999)


def _host_uid_of_process_running(argv, marker):
    """Start argv (a container whose command is `sleep MARKER`), find that process from the host, and read the
    Uid the kernel gives it (/proc/PID/status); then stop the container."""
    from tests_support import wait_for

    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found = []

        def running():
            for name in os.listdir("/proc"):
                try:
                    if name.isdigit() and open(f"/proc/{name}/cmdline", "rb").read() == b"sleep\0" + marker + b"\0":
                        found.append(int(name))
                        return True
                except OSError:
                    continue
            return False

        wait_for(running, "the container's sleep")
        with open(f"/proc/{found[0]}/status") as status:
            return int(next(line for line in status if line.startswith("Uid:")).split()[1])
    finally:
        process.kill()
        process.wait()


def test_pid_one_is_the_unprivileged_caller_on_the_host_and_the_root_control_is_root(user):
    rootfs = str(user.work / "rootfs")
    as_user = user.command("run", "--rootfs", rootfs, "sleep", "29.125")
    assert _host_uid_of_process_running(as_user, b"29.125") == user.uid
    as_root = [os.path.join(os.path.dirname(sys.executable), "moby-dick"), "run", "--rootfs", rootfs, "sleep", "29.25"]
    assert _host_uid_of_process_running(as_root, b"29.25") == 0  # the control: root's container, no user namespace


def test_what_needs_root_is_one_line_with_the_fix(user):
    for args, message in ((("run", "--memory", "10m", "true"), b"delegated cgroup v2 subtree"),
                          (("--tmpfs", "/no-such-dir", "true"), b"must exist already"),
                          (("--userns", "private", "true"), b"--userns private needs root")):
        done = user(*args)
        assert done.returncode == 125 and message in done.stderr and done.stderr.count(b"\n") == 1, done.stderr


def test_moby_dick_oci_runs_a_rootless_bundle_without_root(user):
    import json

    bundle = user.work / "bundle"
    made = user.oci("spec", "--rootless", "--bundle", str(user.work))  # config.json beside the rootfs
    assert made.returncode == 0, made.stderr
    bundle.mkdir()
    config = json.loads((user.work / "config.json").read_text())
    config["root"] = {"path": str(user.work / "rootfs"), "readonly": True}
    config["process"].update(args=["sh", "-c", "id -u; cat /proc/self/uid_map"], terminal=False)
    (bundle / "config.json").write_text(json.dumps(config))
    os.chown(bundle, user.uid, user.gid)
    done = user.oci("--root", str(user.work / "state"), "run", "--bundle", str(bundle), "rootless-1")
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.decode().splitlines()]
    assert lines == [["0"], ["0", str(user.uid), "1"]]
    limited = dict(config, linux={**config["linux"], "resources": {"memory": {"limit": 64 << 20}}})
    (bundle / "config.json").write_text(json.dumps(limited))
    refused = user.oci("--root", str(user.work / "state"), "run", "--bundle", str(bundle), "rootless-2")
    assert refused.returncode != 0 and b"delegated cgroup v2 subtree" in refused.stderr
