"""The fork server (moby_dick/forkserver.py): the API's containers are forked by a small process, not by
the caller; the server stays small however big the caller grows; nothing outlives a caller killed with
SIGKILL; kill, timeout, capture and terminals work through it as from a fork of the caller."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from moby_dick import ContainerSpec, forkserver, run, start
from moby_dick.procstat import gone
from tests_support import ROOT, wait_for

pytestmark = pytest.mark.privileged


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def resident_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_the_api_forks_from_the_server_and_the_control_forks_from_the_caller():
    with start(ContainerSpec(("sleep", "30"), seed_tmpfs=False)) as served:
        server = forkserver.running()
        assert server is not None and parent_of(served.pid) == server != os.getpid()
        with open(f"/proc/{server}/comm") as comm:
            assert comm.read().strip() == "moby-dick:server"[:15]  # comm keeps 15 bytes
    with start(ContainerSpec(("sleep", "30"), seed_tmpfs=False), fork_server=False) as forked:
        assert parent_of(forked.pid) == os.getpid()  # the control: forked by the caller itself


CALLER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    ballast = bytearray(300 << 20)
    memoryview(ballast)[::4096] = b"\\1" * len(range(0, len(ballast), 4096))  # 300 MB resident
    from moby_dick import ContainerSpec, forkserver, run, start
    container = start(ContainerSpec(("sleep", "60"), seed_tmpfs=False, tmpfs=({tmpfs!r},)))
    print(container.pid, forkserver.running(), flush=True)
    sys.stdin.read()  # until the test kills us
""")


def test_a_big_caller_killed_leaves_nothing_and_its_server_stayed_small(scratch):
    mount_point = str(scratch / "made-by-the-run")
    caller = subprocess.Popen([sys.executable, "-c", CALLER.format(root=str(ROOT), tmpfs=mount_point)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid_one, server = map(int, caller.stdout.readline().split())
        assert os.path.isdir(mount_point)  # the run made it on the host (the guard must undo it)
        assert resident_kb(caller.pid) > 300 << 10
        assert resident_kb(server) < 64 << 10  # the server forks from ~20 MB, not from the caller's 300
        assert parent_of(pid_one) == server
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
        caller.stdin.close()
        caller.stdout.close()
    wait_for(lambda: gone(pid_one) and gone(server), "the container and the server to die with the caller")
    wait_for(lambda: not os.path.exists(mount_point), "the run's mount point to be removed")


def test_kill_and_timeout_through_the_server(scratch):
    ready = scratch / "trap-set"
    trap = ("sh", "-c", f"trap 'exit 42' TERM; echo ready; touch {ready}; while :; do sleep 0.05; done")
    container = start(ContainerSpec(trap, seed_tmpfs=False), capture=True)
    wait_for(ready.exists, "the container's trap")
    container.kill(signal.SIGTERM)
    result = container.wait(timeout=10)
    assert (result.exit_code, result.stdout) == (42, b"ready\n")
    stuck = start(ContainerSpec(("sleep", "60"), seed_tmpfs=False))
    assert stuck.wait(timeout=0.2).exit_code == 128 + signal.SIGKILL  # killed at the timeout


def test_a_terminal_comes_back_through_the_server():
    with start(ContainerSpec(("sh", "-c", "tty; exit 3"), seed_tmpfs=False, tty=True)) as container:
        assert container.terminal is not None and os.isatty(container.terminal)
        output = b""
        while b"\n" not in output:
            output += os.read(container.terminal, 1024)
        assert output.startswith(b"/dev/pts/0")
        assert container.wait(timeout=10).exit_code == 3


def test_an_api_container_starts_with_no_signal_ignored():
    """The server ignores the terminal's signals, and posix_spawn(3) left it glibc's internal two ignored:
    an ignored signal stays ignored across execve, so PID 1 resets the former and the server the latter."""
    result = run(["sh", "-c", "grep SigIgn /proc/self/status"], capture=True)
    assert result.stdout == b"SigIgn:\t0000000000000000\n"
    # the control: a program posix_spawn'd from here (as the server is) has signals 32 and 33 ignored
    read_end, write_end = os.pipe()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "grep SigIgn /proc/self/status >&3"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, write_end, 3)])
    os.close(write_end)
    ignored = int(os.read(read_end, 100).split()[1], 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert ignored & (1 << 31) and ignored & (1 << 32)  # bit N-1: signal N
