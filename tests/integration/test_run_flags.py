"""docker's run flags on moby-dick: -t/-i (a pty of the container's own), -u NAME[:GROUP] from the rootfs's
accounts, -e KEY, --env-file, --entrypoint, -h, --tmpfs PATH:OPTIONS, exec -t/-u; each through the real CLI,
with its control."""

import os
import subprocess

import pytest

from tests_support import moby_dick_command, run_in_terminal

pytestmark = pytest.mark.privileged


def test_run_it_gives_a_terminal_of_the_containers_own_and_relays_keys_size_and_exit(rootfs):
    code, shown = run_in_terminal(moby_dick_command("run", "-it", "--rootfs", rootfs, "sh"), [
        (b"# ", b"tty; stty size; readlink /proc/self/fd/0; echo one-$((0+1))\r"),
        (b"one-1", b"sh -c 'trap \"echo caught-int; exit 0\" INT; echo armed-$((1+1)); while :; do sleep 1; done'\r"),
        (b"armed-2", b"\x03"),  # ^C as a byte: the container's own terminal makes it SIGINT
        (b"caught-int", b"exit 3\r")])
    text = shown.decode(errors="replace")
    assert "/dev/pts/0\r\n33 111\r\n/dev/pts/0\r\none-1" in text  # its own devpts (from 0), our window size
    assert "caught-int" in text and code == 3


def test_run_t_without_i_the_output_is_a_terminal_and_the_control_without_t_is_not(rootfs, cli):
    script = "[ -t 0 ] && [ -t 1 ] && echo terminal"
    with_tty = cli("run", "-t", "--rootfs", rootfs, "sh", "-c", script, stdin=subprocess.DEVNULL)
    assert with_tty.returncode == 0 and with_tty.stdout == b"terminal\r\n"  # a pty: \n becomes \r\n
    plain = cli("run", "--rootfs", rootfs, "sh", "-c", script, stdin=subprocess.DEVNULL)
    assert plain.returncode == 1 and plain.stdout == b""  # the control: stdin and stdout are not terminals
    piped = cli("run", "-it", "--rootfs", rootfs, "tty", stdin=subprocess.DEVNULL)
    assert piped.returncode == 125 and piped.stderr.startswith(b"moby-dick: the input device is not a TTY")


def test_user_names_come_from_the_rootfs_accounts(rootfs, cli):
    done = cli("run", "--rootfs", rootfs, "-u", "nobody", "sh", "-c", "id; echo $HOME")
    assert done.stdout == b"uid=65534(nobody) gid=65534(nogroup)\n/\n"
    assert cli("run", "--rootfs", rootfs, "-u", "nobody:root", "id", "-g").stdout == b"0\n"
    assert cli("run", "--rootfs", rootfs, "-u", "4242", "id").stdout == b"uid=4242 gid=0(root)\n"  # docker's rule
    unknown = cli("run", "--rootfs", rootfs, "-u", "mallory", "id")
    assert unknown.returncode == 125 and unknown.stderr == (b"moby-dick: unable to find user mallory: "
                                                            b"no matching entries in passwd file\n")


def test_environment_from_the_host_from_a_file_and_from_e(rootfs, cli, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\n\nFROM_FILE=one two\nSHARED\nOVERRIDDEN=file\n")
    done = cli("run", "--rootfs", rootfs, "--env-file", str(env_file), "-e", "OVERRIDDEN=flag", "-e", "SHARED",
               "-e", "ABSENT", "sh", "-c", 'echo "$FROM_FILE|$SHARED|$OVERRIDDEN|${ABSENT-unset}"',
               env={**os.environ, "SHARED": "from-host"})
    assert done.returncode == 0 and done.stdout == b"one two|from-host|flag|unset\n"
    missing = cli("run", "--rootfs", rootfs, "--env-file", str(tmp_path / "nope"), "true")
    assert missing.returncode == 125 and missing.stderr.count(b"\n") == 1


def test_entrypoint_hostname_and_help(rootfs, cli):
    assert cli("run", "--rootfs", rootfs, "--entrypoint", "/bin/echo", "a", "b").stdout == b"a b\n"
    assert cli("run", "--rootfs", rootfs, "--entrypoint", "hostname").stdout == b"containerhostname\n"
    assert cli("run", "--rootfs", rootfs, "-h", "web-1", "hostname").stdout == b"web-1\n"
    assert cli("-h").stdout.startswith(b"usage: moby-dick")


def test_tmpfs_options_reach_the_mount(rootfs, cli):
    done = cli("run", "--rootfs", rootfs, "--tmpfs", "/scratch:size=1m,mode=700,noexec", "sh", "-c",
               "grep ' /scratch ' /proc/self/mountinfo; stat -c %a /scratch")
    mount_line, mode = done.stdout.decode().splitlines()
    options, super_options = mount_line.split(" - ")
    assert "noexec" in options.split()[5].split(",") and "size=1024k" in super_options and mode == "700"
    plain = cli("run", "--rootfs", rootfs, "--tmpfs", "/scratch", "grep", " /scratch ", "/proc/self/mountinfo")
    assert b"noexec" not in plain.stdout  # the control: moby-dick's defaults
    assert cli("run", "--rootfs", rootfs, "--tmpfs", "/scratch", "stat", "-c", "%a", "/scratch").stdout == b"1777\n"
    bad = cli("run", "--rootfs", rootfs, "--tmpfs", "/scratch:size=lots", "true")
    assert bad.returncode == 125 and b"size= takes" in bad.stderr and bad.stderr.count(b"\n") == 1


def test_exec_t_and_u_and_run_d_t(rootfs, cli):
    name = f"tty-{os.getpid()}"
    started = cli("run", "-d", "-t", "--name", name, "--rootfs", rootfs, "sh", "-c", "tty; exec sleep 60")
    assert started.returncode == 0, started.stderr
    try:
        exec_tty = cli("exec", "-t", name, "sh", "-c", "tty; [ -t 0 ] && echo terminal", stdin=subprocess.DEVNULL)
        assert exec_tty.returncode == 0 and exec_tty.stdout == b"/dev/pts/1\r\nterminal\r\n"  # its own, beside PID 1's
        exec_plain = cli("exec", name, "sh", "-c", "[ -t 0 ] || echo no-terminal", stdin=subprocess.DEVNULL)
        assert exec_plain.stdout == b"no-terminal\n"  # the control
        assert cli("exec", "-u", "nobody", name, "id", "-u").stdout == b"65534\n"
        code, shown = run_in_terminal(moby_dick_command("exec", "-it", name, "sh"),
                                      [(b"# ", b"stty size; exit 4\r")])
        assert code == 4 and b"33 111" in shown
        assert b"/dev/pts/0" in cli("logs", name).stdout  # -d -t: the pty's output went to the log
    finally:
        cli("rm", "-f", name)
