"""moby-dick-oci's lifecycle through its command line, as an engine calls it: each verb, the status
derived from the kernel, the errors engines parse, and nothing left behind."""

import json
import os
import signal
import subprocess
import time

import pytest

from moby_dick.namespaces import namespace_ids
from moby_dick.procstat import read_stat

pytestmark = pytest.mark.privileged


def wait_status(oci, cid, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = oci("state", cid)
        if done.returncode == 0 and json.loads(done.stdout)["status"] == wanted:
            return json.loads(done.stdout)
        time.sleep(0.02)
    raise AssertionError(f"{cid} never became {wanted}: {oci('state', cid).stdout}")


def test_create_start_state_kill_delete(oci, bundle, tmp_path):
    path = bundle(["sh", "-c", "echo started > /started; exec sleep 30"])
    pid_file = tmp_path / "pid"
    done = oci("create", "--bundle", path, "--pid-file", str(pid_file), "c1")
    assert done.returncode == 0, done.stderr
    state = wait_status(oci, "c1", "created")
    assert state["pid"] == int(pid_file.read_text()) and state["bundle"] == path
    # created: PID 1 exists in its own namespaces but has not exec'd the program (it waits at the gate)
    assert namespace_ids(state["pid"])["pid"] != namespace_ids("self")["pid"]
    assert not (bundle.path / "rootfs" / "started").exists()
    assert oci("delete", "c1").returncode != 0  # not stopped: refused
    assert oci("start", "c1").returncode == 0
    wait_status(oci, "c1", "running")
    assert oci("start", "c1").returncode != 0  # only a created container starts
    assert "sleep" in open(f"/proc/{state['pid']}/cmdline").read()
    ps = oci("ps", "--format", "json", "c1")
    assert json.loads(ps.stdout) == [state["pid"]]
    assert oci("kill", "c1", "KILL").returncode == 0
    wait_status(oci, "c1", "stopped")
    assert oci("kill", "c1", "TERM").returncode != 0  # a stopped container cannot be signalled
    assert oci("delete", "c1").returncode == 0
    assert oci("state", "c1").returncode != 0
    assert not (oci.root / "c1").exists()


def test_delete_force_is_idempotent_and_kills(oci, bundle):
    assert oci("delete", "--force", "never-existed").returncode == 0  # the engines' second delete
    path = bundle(["sleep", "30"])
    assert oci("create", "--bundle", path, "c2").returncode == 0
    pid = json.loads(oci("state", "c2").stdout)["pid"]
    assert oci("start", "c2").returncode == 0
    assert oci("delete", "--force", "c2").returncode == 0
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert oci("delete", "--force", "c2").returncode == 0


def test_status_is_derived_not_trusted(oci, bundle):
    path = bundle(["sleep", "30"])
    assert oci("create", "--bundle", path, "c3").returncode == 0
    state_file = oci.root / "c3" / "state.json"
    data = json.loads(state_file.read_text())
    data["pid_start"] += 1  # the pid now looks reused by another process
    state_file.write_text(json.dumps(data))
    assert json.loads(oci("state", "c3").stdout)["status"] == "stopped"
    os.kill(data["pid"], signal.SIGKILL)
    assert oci("delete", "--force", "c3").returncode == 0


def test_exec_joins_every_namespace_of_pid_one_and_reports_exit_codes(oci, bundle, tmp_path):
    path = bundle(["sleep", "30"])
    assert oci("create", "--bundle", path, "c4").returncode == 0 and oci("start", "c4").returncode == 0
    pid = json.loads(oci("state", "c4").stdout)["pid"]
    done = oci("exec", "c4", "sh", "-c", "for k in uts pid mnt; do readlink /proc/self/ns/$k; done; exit 7")
    assert done.returncode == 7, done.stderr
    inside = done.stdout.split()
    assert len(inside) == 3, (done.stdout, done.stderr)
    theirs = namespace_ids(pid)
    assert inside == [str(theirs[k]) for k in ("uts", "pid", "mnt")]
    assert inside != [str(namespace_ids("self")[k]) for k in ("uts", "pid", "mnt")]  # the control
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sleep", "5"], "cwd": "/", "env": ["PATH=/bin"]}))
    pid_file = tmp_path / "exec.pid"
    done = oci("exec", "--process", str(process), "--detach", "--pid-file", str(pid_file), "c4")
    assert done.returncode == 0, done.stderr
    exec_pid = int(pid_file.read_text())
    assert namespace_ids(exec_pid)["mnt"] == theirs["mnt"]
    assert exec_pid in json.loads(oci("ps", "--format", "json", "c4").stdout)  # it joined the cgroup too
    missing = oci("exec", "c4", "nosuchprogram")
    assert missing.returncode != 0 and 'exec: "nosuchprogram": executable file not found in $PATH' in missing.stderr
    assert oci("delete", "--force", "c4").returncode == 0


def test_pause_and_resume_freeze_the_cgroup(oci, bundle):
    path = bundle(["sleep", "30"])
    assert oci("create", "--bundle", path, "c5").returncode == 0 and oci("start", "c5").returncode == 0
    pid = json.loads(oci("state", "c5").stdout)["pid"]
    assert oci("pause", "c5").returncode == 0
    wait_status(oci, "c5", "paused")
    assert oci("resume", "c5").returncode == 0
    wait_status(oci, "c5", "running")
    assert open(f"/proc/{pid}/stat").read().split()[2] in ("S", "R")
    assert oci("delete", "--force", "c5").returncode == 0


def test_errors_are_one_line_and_a_json_log_line(oci, bundle, tmp_path):
    path = bundle(["nosuchprogram"])
    log = tmp_path / "log.json"
    done = oci("create", "--bundle", path, "c6", log=log)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert 'exec: "nosuchprogram": executable file not found in $PATH' in done.stderr  # docker's 127
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "executable file not found" in entry["msg"] and entry["time"]
    assert not (oci.root / "c6").exists()  # a failed create leaves nothing
    for args in (["create", "--bundle", str(tmp_path), "c7"], ["start", "nosuch"], ["kill", "nosuch"],
                 ["create", "--bundle", path, "bad/id"]):
        done = oci(*args)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, args


def test_version_features_spec(oci, tmp_path):
    version = oci("--version")
    assert version.returncode == 0 and any(line.startswith("spec: 1.") for line in version.stdout.splitlines())
    features = json.loads(oci("features").stdout)
    assert features["ociVersionMax"].startswith("1.") and "createRuntime" in features["hooks"]
    assert oci("spec", "--bundle", str(tmp_path)).returncode == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["root"]["path"] == "rootfs" and {"type": "mount"} in config["linux"]["namespaces"]
    assert oci("spec", "--bundle", str(tmp_path)).returncode == 1  # never overwrites


def test_a_sigkilled_create_leaves_nothing_delete_force_cannot_remove(oci_entry, bundle, tmp_path):
    from moby_dick.hoststate import leftover_cgroups

    root = tmp_path / "killed"
    path = bundle(["sleep", "30"])
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4):
        cid = f"k{int(delay * 1000)}"
        process = subprocess.Popen([oci_entry, "--root", str(root), "create", "--bundle", path, cid],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.kill()
        process.wait()
        done = subprocess.run([oci_entry, "--root", str(root), "delete", "--force", cid], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert not (root / cid).exists()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _inits_of(path):
        time.sleep(0.05)
    assert not _inits_of(path), "a container outlived its SIGKILLed create and delete --force"
    assert not [c for c in _cgroups_named("k") if c]
    assert not leftover_cgroups()


def _inits_of(bundle_path):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if bundle_path in open(f"/proc/{name}/cmdline").read():
                    found.append(int(name))
            except OSError:
                pass
    return found


def _cgroups_named(prefix):
    from moby_dick.cgroups import detect

    layout = detect()
    found = []
    for mount, path in layout.roots.values():
        base = os.path.join(mount, path.lstrip("/"))
        found += [os.path.join(base, n) for n in os.listdir(base) if n.startswith(prefix) and n[1:].isdigit()]
    return found


def test_run_is_create_start_wait_delete_with_pid_one_its_own_child(oci, oci_entry, bundle, tmp_path):
    """run: `state` from another process sees it running, PID 1 the child of moby-dick-oci (which waits
    for it), exec'd at once with no gate left; its exit status is run's; nothing is left after it, a
    failed exec included."""
    path = bundle(["sleep", "30"])
    running = subprocess.Popen([oci_entry, "--root", str(oci.root), "run", "--bundle", path, "r1"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        state = wait_status(oci, "r1", "running")
        assert int(read_stat(state["pid"])[1]) == running.pid  # its child, the one it waits for
        assert namespace_ids(state["pid"])["pid"] != namespace_ids("self")["pid"]
        assert not (oci.root / "r1" / "exec.fifo").exists()  # no gate to wait at
        assert "sleep" in open(f"/proc/{state['pid']}/cmdline").read()  # exec'd at once
        assert oci("kill", "r1", "KILL").returncode == 0
        assert running.wait(timeout=30) == 128 + signal.SIGKILL
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
        running.stderr.close()
    assert oci("state", "r1").returncode != 0  # deleted at its end
    assert oci("run", "--bundle", bundle(["sh", "-c", "exit 7"]), "r2").returncode == 7
    missing = oci("run", "--bundle", bundle(["/no/such"]), "r3")
    assert missing.returncode != 0 and 'exec: "/no/such"' in missing.stderr
    assert oci("state", "r3").returncode != 0  # a failed run leaves nothing
