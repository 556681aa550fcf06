"""A docker user's verbs: run -d, ps, logs, exec, stop, kill, rm, wait, inspect, on the lifecycle, each
against real containers; exec's claim with its control (the namespaces of PID 1, not the caller's)."""

import json
import os
import time

import pytest

from moby_dick import ContainerSpec, engine
from moby_dick.namespaces import namespace_ids

pytestmark = pytest.mark.privileged
LOOP = ("sh", "-c", 'echo hello-log; trap "echo bye; exit 3" TERM; while :; do sleep 0.1; done')


@pytest.fixture
def root(tmp_path):
    path = str(tmp_path / "containers")
    yield path
    for row in engine.ps(True, root=path):  # what a failed test left
        engine.rm(row["id"], force=True, root=path)


def test_run_detached_ps_logs_stop_wait_rm(root, rootfs):
    container_id = engine.run_detached(ContainerSpec(LOOP, rootfs=rootfs), "web", root=root)
    assert len(container_id) == 64 and all(c in "0123456789abcdef" for c in container_id)
    rows = engine.ps(root=root)
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [(container_id[:12], "web", "Up")]
    deadline = time.monotonic() + 10
    while b"hello-log" not in _logs(root, "web") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _logs(root, "web") == b"hello-log\n"
    with pytest.raises(Exception, match="in use"):
        engine.run_detached(ContainerSpec(LOOP, rootfs=rootfs), "web", root=root)  # names are unique
    engine.stop(container_id[:6], 5, root=root)  # a unique prefix is accepted
    assert engine.wait("web", root=root) == 3  # SIGTERM reached the trap: docker stop's first step
    assert engine.ps(root=root) == [] and engine.ps(True, root=root)[0]["status"] == "Exited (3)"
    assert b"bye" in _logs(root, "web")
    assert engine.inspect("web", root=root)["exit_code"] == 3
    engine.rm("web", root=root)
    assert engine.ps(True, root=root) == [] and os.listdir(root) == []


def _logs(root, reference):
    import io

    out = io.BytesIO()
    engine.logs(reference, root=root, out=out)
    return out.getvalue()


def test_a_detached_start_that_fails_leaves_neither_state_nor_log(root, rootfs):
    from moby_dick.errors import MobyError

    # the root's /proc has no room for a working directory: PID 1's setup fails, in the monitor's create
    with pytest.raises(MobyError, match="/proc/no-such-dir"):
        engine.run_detached(ContainerSpec(("true",), rootfs=rootfs, workdir="/proc/no-such-dir"), "broken", root=root)
    assert os.listdir(root) == [] and engine.ps(True, root=root) == []


def test_exec_joins_the_containers_namespaces_and_its_security_phase(root, rootfs):
    engine.run_detached(ContainerSpec(LOOP, rootfs=rootfs), "ex", root=root)
    state = engine.resolve("ex", root=root)
    script = "for k in uts pid mnt net; do readlink /proc/self/ns/$k; done; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"
    code, text = _exec_capture(root, script)
    lines = text.split()
    theirs, ours = namespace_ids(state.pid), namespace_ids("self")
    assert code == 0 and lines[:4] == [str(theirs[k]) for k in ("uts", "pid", "mnt", "net")]
    assert lines[:4] != [str(ours[k]) for k in ("uts", "pid", "mnt", "net")]  # the control: not the caller's
    assert "Seccomp:" in lines and lines[lines.index("Seccomp:") + 1] == "2"  # the container's own filter
    assert lines[lines.index("NoNewPrivs:") + 1] == "1"
    engine.kill("ex", 9, root=root)
    assert engine.wait("ex", root=root) == 137


def _exec_capture(root, script):
    read_end, write_end = os.pipe()
    saved = os.dup(1)
    os.dup2(write_end, 1)
    os.close(write_end)
    try:
        code = engine.execute("ex", ["sh", "-c", script], root=root)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    with os.fdopen(read_end) as pipe:
        return code, pipe.read()


def test_the_first_word_decides_and_registry_verbs_say_so(cli):
    for verb in ("pull", "images", "build", "push", "login"):
        done = cli(verb, "busybox")
        assert done.returncode == 125 and b"no registry client" in done.stderr and done.stderr.count(b"\n") == 1
    assert cli("--", "sh", "-c", "echo seed-form").stdout == b"seed-form\n"  # `--` always runs the command
    assert cli("rm", "no-such-container").returncode == 125
    done = cli("ps")
    assert done.returncode == 0 and done.stdout.startswith(b"CONTAINER ID")
    assert cli("run", "-d", "true").returncode == 125  # detached needs a root of its own


def test_cli_run_detached_and_rm_through_the_command_line(cli, rootfs):
    name = f"cli-{os.getpid()}"
    started = cli("run", "-d", "--name", name, "--rootfs", rootfs, "sleep", "30")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.decode().strip()
    assert name.encode() in cli("ps").stdout
    inspected = json.loads(cli("inspect", name).stdout)
    assert inspected["id"] == container_id and inspected["status"] == "running"
    assert cli("exec", name, "sh", "-c", "exit 5").returncode == 5
    assert cli("rm", name).returncode == 125  # running: refused without -f
    assert cli("rm", "-f", name).returncode == 0
    assert name.encode() not in cli("ps", "-a").stdout


def test_rm_flag_removes_a_detached_container_when_it_exits(root, rootfs):
    container_id = engine.run_detached(ContainerSpec(("sh", "-c", "exit 0"), rootfs=rootfs), "gone", root=root,
                                       remove=True)
    deadline = time.monotonic() + 10
    while os.path.exists(os.path.join(root, container_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(os.path.join(root, container_id)) and engine.ps(True, root=root) == []
    assert not os.path.exists(os.path.join(root, f"{container_id}.log"))


def test_rm_stop_and_kill_take_several_containers_as_docker_does(cli, rootfs):
    names = [f"many-{os.getpid()}-{n}" for n in range(2)]
    for name in names:
        assert cli("run", "-d", "--name", name, "--rootfs", rootfs, "sleep", "30").returncode == 0
    stopped = cli("stop", "-t", "1", *names)
    assert stopped.returncode == 0 and stopped.stdout.decode().split() == names
    assert [json.loads(cli("inspect", name).stdout)["status"] for name in names] == ["stopped", "stopped"]
    removed = cli("rm", *names)
    assert removed.returncode == 0 and removed.stdout.decode().split() == names
    assert not any(name.encode() in cli("ps", "-a").stdout for name in names)
