"""The container's process: exit status, signals, terminal, SIGKILL of moby-dick, threads, odd argv."""

import os
import pty
import signal
import subprocess
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moby_dick import ExecError, probe, run
from moby_dick.mountpoints import MountpointRegistry
from moby_dick.procstat import gone
from moby_dick.testing.strategies import ARGV_BYTES
from tests_support import moby_dick_command, wait_for

pytestmark = pytest.mark.privileged


@pytest.mark.parametrize("script, code", [("exit 0", 0), ("exit 7", 7), ("exit 255", 255)])
def test_exit_status_is_the_commands(cli, script, code):
    assert cli("sh", "-c", script).returncode == code


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_killed_by_a_signal_is_128_plus_n(cli, number):
    # The command kills itself: under --init it is PID 2; with --pid host it is a plain process.
    script = f"kill -{signal.Signals(number).name[3:]} $$; sleep 5"
    assert cli("--init", "sh", "-c", script).returncode == 128 + number
    assert cli("--pid", "host", "sh", "-c", script).returncode == 128 + number


def test_pid_one_ignores_signals_it_has_no_handler_for(cli):
    # The control for --init: as PID 1, sh's own SIGTERM is dropped by the kernel (pid_namespaces(7)).
    assert cli("sh", "-c", "kill -TERM $$; exit 3").returncode == 3


def test_killing_pid_one_from_outside_is_137():
    from moby_dick import start
    from moby_dick.spec import ContainerSpec

    with start(ContainerSpec(("sleep", "30"), seed_tmpfs=False)) as container:
        os.kill(container.pid, signal.SIGKILL)
        result = container.wait(timeout=10)
    assert (result.exit_code, result.signal) == (137, signal.SIGKILL)


def test_command_not_found_is_127_with_one_line(cli):
    done = cli("nosuchcommand")
    assert done.returncode == 127
    assert done.stderr == b'moby-dick: exec "nosuchcommand": command not found\n'


def test_not_executable_is_126(cli):
    done = cli("/etc/hostname")
    assert done.returncode == 126 and done.stderr.count(b"\n") == 1


def test_api_raises_exec_error():
    with pytest.raises(ExecError) as caught:
        run(["nosuchcommand"], seed_tmpfs=False)
    assert caught.value.exit_code == 127


def test_stdin_and_stdout_pass_through(cli):
    done = cli("sh", "-c", "read line; echo got:$line", input=b"hello\n")
    assert done.stdout == b"got:hello\n"


def test_the_terminal_passes_through(spawn):
    master, slave = pty.openpty()
    process = spawn("sh", "-c", "test -t 0 && test -t 1 && read x && echo tty:$x",
                               stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    os.write(master, b"yes\n")
    assert process.wait(timeout=30) == 0
    output = b""
    while b"tty:yes" not in output:
        output += os.read(master, 1024)
    os.close(master)


TRAP = "trap 'exit {code}' {name}; echo ready; while :; do sleep 0.05; done"


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_signals_sent_to_moby_dick_reach_the_container(number, spawn):
    name = signal.Signals(number).name[3:]
    process = spawn("sh", "-c", TRAP.format(code=40 + number, name=name),
                               stdout=subprocess.PIPE)
    assert process.stdout.readline() == b"ready\n"
    process.send_signal(number)
    assert process.wait(timeout=30) == 40 + number



def test_sigkill_of_moby_dick_kills_the_container_and_leaves_nothing(scratch, spawn):
    marker = f"{1000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    target = str(scratch / "made-by-moby-dick")
    process = spawn("--tmpfs", target, "sleep", marker)
    wait_for(lambda: any(pid != process.pid for pid in probe.processes_with(marker)), "the container to start")
    assert os.path.isdir(target)
    process.kill()
    process.wait(timeout=10)
    wait_for(lambda: not probe.processes_with(marker), "the container to die with moby-dick")
    wait_for(lambda: not os.path.exists(target), "the guard to remove the mount point")
    assert target not in MountpointRegistry().in_use()


def test_the_guard_is_a_shell_spawned_with_nothing_of_the_runtime(scratch, spawn):
    """Not a fork of the runtime (whose page tables and copied pages each guarded start paid for): a
    shell, in its own session, holding its pipe and /dev/null, not the descriptors moby-dick inherited."""
    leaked_read, leaked_write = os.pipe()  # inheritable: moby-dick gets both, as a careless caller's
    try:
        process = spawn("--tmpfs", str(scratch / "made"), "sleep", "2", pass_fds=(leaked_read, leaked_write))
        guards = []
        wait_for(lambda: guards.extend(p.pid for p in probe.processes()
                                       if p.ppid == process.pid and p.cmdline.startswith(b"moby-dick:guard\0"))
                 or guards, "the guard")
        guard = guards[0]
        assert os.path.realpath(f"/proc/{guard}/exe") == os.path.realpath("/bin/sh")
        assert os.getsid(guard) == guard != os.getsid(process.pid)  # ^C on the terminal does not reach it
        held = {int(fd): os.readlink(f"/proc/{guard}/fd/{fd}") for fd in os.listdir(f"/proc/{guard}/fd")}
        assert sorted(held) == [0, 1, 2] and held[0].startswith("pipe:") and held[1] == held[2] == "/dev/null"
        # the control: moby-dick itself holds what its caller leaked
        cli_holds = {os.readlink(f"/proc/{process.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{process.pid}/fd")}
        assert os.readlink(f"/proc/self/fd/{leaked_read}") in cli_holds
        assert process.wait(timeout=30) == 0
        assert gone(guard)  # dismissed at the normal end, and reaped
    finally:
        os.close(leaked_read)
        os.close(leaked_write)


def test_containers_start_from_a_multithreaded_process():
    stop = threading.Event()
    busy = [threading.Thread(target=stop.wait) for _ in range(4)]
    for thread in busy:
        thread.start()
    results = []
    worker = threading.Thread(target=lambda: results.append(run(["hostname"], capture=True, seed_tmpfs=False)))
    worker.start()
    worker.join(30)
    main = run(["hostname"], capture=True, seed_tmpfs=False)
    stop.set()
    for thread in busy:
        thread.join()
    assert [r.text for r in results] == ["containerhostname\n"] and main.text == "containerhostname\n"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ARGV_BYTES, max_size=5))
def test_odd_argv_bytes_reach_the_command_unchanged(args):
    result = run([b"sh", b"-c", b'printf "%s\\0" argv "$@"', b"sh", *args], capture=True,
                 seed_tmpfs=False)
    assert result.stdout.split(b"\0")[:-1] == [b"argv", *args]


def test_timeout_kills_the_container():
    started = time.monotonic()
    result = run(["sleep", "30"], capture=True, timeout=0.3, seed_tmpfs=False)
    assert result.exit_code == 137 and time.monotonic() - started < 10


def _controlling_terminal():
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_c_on_the_terminal_reaches_the_container_not_the_runtime():
    # ^C signals the terminal's whole foreground process group: the container's sh (which traps it)
    # and moby-dick's own processes, which must neither die nor pass it on a second time.
    master, slave = pty.openpty()
    process = subprocess.Popen(moby_dick_command("sh", "-c", "trap 'echo caught' INT; echo ready; sleep 2; echo survived"),
                               stdin=slave, stdout=slave, stderr=slave, preexec_fn=_controlling_terminal)
    os.close(slave)
    output = b""
    try:
        while b"ready" not in output:
            output += os.read(master, 1024)
        time.sleep(0.3)
        os.write(master, b"\x03")
        assert process.wait(timeout=20) == 0
        while b"survived" not in output:
            output += os.read(master, 1024)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert output.count(b"caught") == 1


def test_an_interrupted_start_leaves_nothing(monkeypatch, scratch):
    # ^C (KeyboardInterrupt) while start() waits for the child: the child is killed and reaped, the
    # mount point it created is removed (the leak check after the test looks at the rest).
    import moby_dick.runner as runner

    def interrupted(channel, *args):
        channel.receive()  # the child has started ("pid1")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_converse", interrupted)
    target = str(scratch / "made")
    with pytest.raises(KeyboardInterrupt):
        runner.start(runner.ContainerSpec(("sleep", "30"), tmpfs=(target,)), fork_server=False)
    assert not os.path.exists(target)


def test_an_interrupted_start_through_the_fork_server_leaves_nothing(monkeypatch, scratch):
    # ^C in the caller once the fork server has started the container, before start() returns: the
    # caller closes the container's connection, and the server kills, reaps and cleans up (the leak
    # check after the test counts the server's children as the caller's)
    from moby_dick import forkserver, runner

    seen = []

    def interrupted(self, spec, pid, *args, **kwargs):
        seen.append(pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(forkserver.RemoteContainer, "__init__", interrupted)
    target = str(scratch / "made")
    with pytest.raises(KeyboardInterrupt):
        forkserver.start_remote(*_planned(runner.ContainerSpec(("sleep", "30"), tmpfs=(target,))),
                                capture=False, stdin=None, cleanup=[])
    from moby_dick.procstat import gone

    assert seen
    wait_for(lambda: gone(seen[0]), "PID 1 killed and reaped by the server")
    wait_for(lambda: not os.path.exists(target), "the run's mount point removed")


def _planned(spec):
    from moby_dick.config import from_spec
    from moby_dick.plan import plan

    return spec, plan(from_spec(spec, os.environ))
