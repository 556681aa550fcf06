"""PID isolation and PID 1's duties, each with its control."""

import os
import signal
import subprocess
import time

import pytest

from moby_dick import probe, run, start
from moby_dick.spec import ContainerSpec
from tests_support import moby_dick_command, wait_for

pytestmark = pytest.mark.privileged
LIST_PIDS = "echo $$; for p in /proc/[0-9]*; do echo ${p#/proc/}; done"
MARK = f"30.{os.getpid()}"  # a sleep only this test process starts


def test_the_command_is_pid_one_and_sees_only_the_container():
    result = run(["sh", "-c", LIST_PIDS], capture=True, seed_tmpfs=False)
    own, *visible = result.text.split()
    assert own == "1"
    assert str(os.getpid()) not in visible and len(visible) <= 3  # sh, and the short-lived children
    assert result.namespaces["pid"] != probe.namespace_id("self", "pid")


def test_control_shared_pid_namespace_sees_the_host():
    result = run(["sh", "-c", LIST_PIDS], capture=True, seed_tmpfs=False, share={"pid"})
    own, *visible = result.text.split()
    assert own != "1" and str(os.getpid()) in visible
    assert result.namespaces["pid"] == probe.namespace_id("self", "pid")


def test_a_host_pid_cannot_be_signalled_from_inside():
    result = run(["sh", "-c", f"kill -0 {os.getpid()}"], capture=True, seed_tmpfs=False)
    assert result.exit_code != 0


def test_ps_inside_lists_only_the_container(cli):
    done = cli("run", "ps", "-e", "-o", "pid=,comm=")  # `run`: the first word "ps" alone is moby-dick ps
    assert done.stdout.split() == [b"1", b"ps"]




@pytest.mark.parametrize("init", [True, False])
def test_orphaned_zombies_are_reaped_only_with_init(init):
    spec = ContainerSpec(("sh", "-c", "(sleep 0.05 &); exec sleep 30"), seed_tmpfs=False, init=init)
    with start(spec) as container:
        deadline = time.monotonic() + (0.6 if init else 3.0)  # the orphan needs a moment to exit
        while time.monotonic() < deadline:
            zombies = probe.children_of(container.pid, state="Z")
            if zombies and not init:
                break
            time.sleep(0.02)
    if init:
        assert zombies == [], "moby-dick's init left a zombie"
    else:
        assert len(zombies) == 1, "the control: a PID 1 that never waits keeps the orphan's zombie"


def test_init_keeps_the_exit_status(cli):
    assert cli("--init", "sh", "-c", "exit 7").returncode == 7


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                                    signal.SIGUSR2, signal.SIGWINCH])
def test_init_forwards_signals(number, spawn):
    name = signal.Signals(number).name[3:]
    script = f"trap 'echo got {name}; exit 42' {name}; echo ready; while :; do sleep 0.05; done"
    process = spawn("--init", "sh", "-c", script, stdout=subprocess.PIPE)
    assert process.stdout.readline() == b"ready\n"
    process.send_signal(number)
    assert process.wait(timeout=30) == 42
    assert process.stdout.read() == f"got {name}\n".encode()


def test_without_init_pid_one_ignores_sigterm_and_with_init_it_dies(spawn):
    plain = spawn("sleep", MARK)
    with_init = spawn("--init", "sleep", MARK)
    time.sleep(0.5)
    plain.send_signal(signal.SIGTERM)
    with_init.send_signal(signal.SIGTERM)
    assert with_init.wait(timeout=10) == 128 + signal.SIGTERM
    time.sleep(0.3)
    assert plain.poll() is None, "the control: sleep as PID 1 has no SIGTERM handler, so the kernel drops it"
    plain.kill()
    plain.wait()
    wait_for(lambda: not probe.processes_with(f"sleep\0{MARK}"), "the container to die with moby-dick")

