"""The demos hold here, their controls leak, and removing an isolation from the code makes them fail."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import moby_dick.runner
from moby_dick import demos
from moby_dick.demos.__main__ import main as demos_main
from moby_dick.testing.mutations import plan_without

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", demos.NAMES)
def test_demo_holds_with_its_control(name):
    report = demos.run_demo(name)
    assert report.held, [c.text for c in report.failed]
    assert any(c.control for c in report.claims), "a demo without a negative control proves nothing"
    assert any(not c.control for c in report.claims)
    assert report.sections
    if name in ("hostname", "ipc", "network", "mount"):  # the seed README's sessions, replayed
        assert report.transcripts


@pytest.mark.parametrize("name, removed, failing_claim", [
    ("hostname", "uts", "the container has its own UTS namespace"),
    ("ipc", "ipc", "the host's queue is invisible inside"),
    ("network", "net", "its only device is lo"),
    ("mount", "propagation", "the host never sees them, during or after the run"),
    ("pid", "pid", "its first process is PID 1"),
    ("jail", "pivot_root", "the chroot escape fails: '..' of the new root is the root"),
    ("init", "init", "with --init, the orphaned zombie is reaped"),
    ("memory", "cgroup", "the OOM killer stopped the hog: exit 137, counted in the cgroup's OOM counter"),
    ("pids", "cgroup", "no more than 20 processes: the program itself is one, so 19 forks succeed"),
    ("cpu", "cgroup", "in one second it got about half a CPU-second"),
    ("oci", "gate", "after create the program has not run: PID 1 is still the runtime, waiting at the gate"),
    ("security", "security", "no_new_privs is on and a seccomp filter is installed"),
    ("userns", "user", "outside, its PID 1 is an unprivileged uid"),
    ("bridge", "bridge", "the client got the server's reply across the bridge"),
    ("exec", "uts", "and none of the host's"),
    ("fds", "fds", "the caller's descriptor is not among the container's (read from the host)"),
])
def test_removing_the_isolation_makes_the_demo_fail(monkeypatch, name, removed, failing_claim):
    monkeypatch.setattr(moby_dick.runner, "plan", plan_without(removed))
    report = demos.run_demo(name)
    assert not report.held
    assert failing_claim in [c.text for c in report.failed]


def test_command_line_all_json_and_list(capsys):
    assert demos_main(["all", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == list(demos.NAMES) and all(d["held"] for d in data)
    assert demos_main(["--list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(demos.NAMES)
    assert demos_main(["nosuchdemo"]) == 2


def test_failed_claim_exits_1_and_is_named(monkeypatch, capsys):
    monkeypatch.setattr(moby_dick.runner, "plan", plan_without("uts"))
    assert demos_main(["hostname"]) == 1
    assert "FAILED: the container has its own UTS namespace" in capsys.readouterr().err


def test_not_root_exits_77_with_the_reason(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert demos_main(["hostname"]) == 77
    assert "cannot run here: needs root" in capsys.readouterr().err


def test_demos_module_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "moby_dick.demos", "hostname"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"every claim held" in done.stdout


@pytest.mark.parametrize("script", ["hostname", "ipc", "network", "mount", "jail"])
def test_seed_terminal_session_scripts(script):
    # Run in a throwaway IPC and UTS namespace: the ipc session makes a queue "on the host".
    env = dict(os.environ, MOBY=f"{sys.executable} -m moby_dick")
    done = subprocess.run(["unshare", "--ipc", "--uts", "bash", str(ROOT / "demos" / f"{script}.sh")],
                          capture_output=True, env=env, timeout=120)
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    assert "ok: " in output and "FAILED" not in output
