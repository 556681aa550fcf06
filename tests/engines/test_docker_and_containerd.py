"""docker and containerd (the path Kubernetes takes through CRI) driving moby-dick-oci.

Each daemon is Debian's, started by the test in a private mount, cgroup and network namespace
(``scripts/isolated``): its own roots, socket and pid file under a temporary directory, no iptables,
no bridge, no ip_forward, vfs storage, cgroupfs; it is stopped by its pid, and what it creates outside
its roots whatever they are set to (/run/docker, /run/containerd) is removed if it was not there before.
"""

import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests_support import ROOT

pytestmark = pytest.mark.privileged
ISOLATED = str(ROOT / "scripts" / "isolated")
OUTSIDE_ROOTS = ("/run/docker", "/run/containerd")


def need(binary):
    path = shutil.which(binary)
    assert path, f"{binary} is not installed: `make test` installs it (scripts/setup-system --engines)"
    return path


class Daemon:
    """One engine daemon at a time: dockerd's containerd and a containerd of its own both keep their shims'
    sockets in /run/containerd/s (and the clients their fifos in /run/containerd/fifo), so a daemon must
    not remove /run/containerd while another runs. Pytest-xdist runs the docker and the containerd tests
    on two workers: the daemons take turns on an exclusive lock (flock(2) on this very file, which
    leaves nothing behind)."""

    def __init__(self, command, socket_path, log_path):
        import fcntl

        self.turn = open(__file__)
        fcntl.flock(self.turn, fcntl.LOCK_EX)  # released by stop(), or when a killed worker's fd closes
        self.existing = {path for path in OUTSIDE_ROOTS if os.path.exists(path)}
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([ISOLATED, *command], stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(socket_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{command[0]} did not start: {Path(log_path).read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        for path in OUTSIDE_ROOTS:
            if path not in self.existing and os.path.exists(path):
                shutil.rmtree(path)
        self.turn.close()  # the other daemon's turn


@pytest.fixture
def docker(tmp_path, oci_entry, rootfs):
    need("dockerd")
    base = Path(f"/tmp/moby-docker-{os.getpid()}-{tmp_path.name[-12:]}")  # a short path: the socket's name
    base.mkdir(mode=0o700)
    (base / "daemon.json").write_text(f'{{"deprecated-key-path": "{base}/key.json"}}')
    socket_path = base / "docker.sock"
    daemon = Daemon(["dockerd", "--config-file", str(base / "daemon.json"), "--data-root", str(base / "data"),
                     "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"),
                     "-H", f"unix://{socket_path}", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
                     "--ip-masq=false", "--bridge=none", "--userland-proxy=false", "--storage-driver", "vfs",
                     "--exec-opt", "native.cgroupdriver=cgroupfs", "--add-runtime", f"moby-dick={oci_entry}",
                     "--default-runtime", "moby-dick"], socket_path, tmp_path / "dockerd.log")

    def call(*args, input=None, timeout=120):
        return subprocess.run([need("docker"), "-H", f"unix://{socket_path}", *args], capture_output=True,
                              text=True, input=input, timeout=timeout)
    try:
        tarball = tmp_path / "busybox.tar"
        with tarfile.open(tarball, "w") as tar:
            tar.add(rootfs, arcname=".")
        imported = call("import", str(tarball), "bb")
        assert imported.returncode == 0, imported.stderr
        yield call
    finally:
        for container in call("ps", "-aq").stdout.split():
            call("rm", "-f", container)
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_docker_runs_through_moby_dick_oci(docker):
    info = docker("info", "--format", "{{.DefaultRuntime}}")
    assert info.stdout.strip() == "moby-dick"
    run = ["run", "--network", "none"]
    done = docker(*run, "--rm", "bb", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    assert docker(*run, "--rm", "bb", "sh", "-c", "exit 3").returncode == 3
    missing = docker(*run, "--rm", "bb", "nosuchprogram")
    assert missing.returncode == 127, missing.stderr  # docker read runc's words in our error
    assert docker(*run, "--rm", "-i", "bb", "cat", input="piped\n").stdout == "piped\n"
    started = docker(*run, "-d", "bb", "sh", "-c", 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done')
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    assert docker("exec", cid, "echo", "inexec").stdout == "inexec\n"
    assert docker("exec", cid, "sh", "-c", "exit 5").returncode == 5
    assert docker("exec", "-t", cid, "tty").stdout.strip().startswith("/dev/pts/")
    assert docker("kill", "-s", "USR1", cid).returncode == 0
    deadline = time.monotonic() + 10
    while "got-usr1" not in docker("logs", cid).stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "got-usr1" in docker("logs", cid).stdout
    top = docker("top", cid)
    assert top.returncode == 0 and "trap" in top.stdout
    assert docker("pause", cid).returncode == 0
    assert docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "paused"
    assert docker("unpause", cid).returncode == 0
    updated = docker("update", "--memory", "64m", "--memory-swap", "128m", cid)
    assert updated.returncode == 0, updated.stderr
    assert docker("exec", cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.strip() == str(64 << 20) \
        or docker("inspect", "-f", "{{.HostConfig.Memory}}", cid).stdout.strip() == str(64 << 20)
    assert docker("stop", "-t", "1", cid).returncode == 0
    assert docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited"
    assert docker("rm", "-f", cid).returncode == 0


@pytest.fixture
def containerd(tmp_path):
    need("containerd")
    base = Path(f"/tmp/moby-ctrd-{os.getpid()}-{tmp_path.name[-12:]}")
    base.mkdir(mode=0o700)
    socket_path = base / "c.sock"
    (base / "config.toml").write_text(f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{socket_path}"
[ttrpc]
  address = "{socket_path}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
""")
    daemon = Daemon(["containerd", "-c", str(base / "config.toml")], socket_path, tmp_path / "containerd.log")

    def ctr(*args, timeout=60):
        return subprocess.run(["timeout", "-k", "5", str(timeout), need("ctr"), "-a", str(socket_path), *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
    ctr.base = base
    try:
        yield ctr
    finally:
        for task in ctr("tasks", "ls", "-q").stdout.split():
            ctr("tasks", "rm", "-f", task)
        for container in ctr("containers", "ls", "-q").stdout.split():
            ctr("containers", "rm", container)
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_containerd_runc_shim_drives_moby_dick_oci(containerd, oci_entry, rootfs):
    rootfs_copy = containerd.base / "rootfs"
    shutil.copytree(rootfs, rootfs_copy, symlinks=True)
    common = ["--runc-binary", oci_entry, "--rootfs", str(rootfs_copy)]
    done = containerd("run", "--rm", *common, "once", "sh", "-c", "echo hi-from-ctr; exit 4")
    assert (done.returncode, done.stdout) == (4, "hi-from-ctr\n"), done.stderr
    started = containerd("run", "-d", *common, "long", "sh", "-c", "while :; do sleep 0.1; done")
    assert started.returncode == 0, started.stderr
    assert "RUNNING" in containerd("tasks", "ls").stdout
    execd = containerd("tasks", "exec", "--exec-id", "e1", "long", "sh", "-c", "echo in-exec; exit 2")
    assert (execd.returncode, execd.stdout) == (2, "in-exec\n"), execd.stderr
    assert containerd("tasks", "pause", "long").returncode == 0
    assert "PAUSED" in containerd("tasks", "ls").stdout
    assert containerd("tasks", "resume", "long").returncode == 0
    ps = containerd("tasks", "ps", "long")
    assert ps.returncode == 0 and len(ps.stdout.split("\n")) >= 3  # a header, sh, and its sleep
    assert containerd("tasks", "kill", "-s", "KILL", "long").returncode == 0
    deadline = time.monotonic() + 10
    while "STOPPED" not in containerd("tasks", "ls").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    removed = containerd("tasks", "rm", "-f", "long")
    assert removed.returncode == 0, removed.stderr
    assert containerd("containers", "rm", "long").returncode == 0
