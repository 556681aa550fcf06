"""The command line: parsing, and bad input as one line with exit 125 (no root needed: nothing runs)."""

import contextlib
import io

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from moby_dick.cli import main, parse_args
from moby_dick.errors import UsageError
from moby_dick.uts import hostname_problems


def test_seed_form_and_run_form_agree():
    assert parse_args(["/bin/bash"]).spec() == parse_args(["run", "/bin/bash"]).spec()
    assert parse_args(["/bin/bash"]).argv == ["/bin/bash"]


def test_options_stop_at_the_command():
    invocation = parse_args(["--hostname", "josh", "ls", "--hostname", "-l"])
    assert invocation.hostname == "josh" and invocation.argv == ["ls", "--hostname", "-l"]
    assert parse_args(["run", "--", "--weird"]).argv == ["--weird"]


def test_every_option():
    invocation = parse_args(["run", "--hostname=josh", "--tmpfs", "/a", "--tmpfs=/b", "--no-mytmp",
                             "--uts", "host", "--ipc=host", "--network", "host", "--propagation", "slave",
                             "true"])
    spec = invocation.spec()
    assert spec.tmpfs == ("/a", "/b") and not spec.seed_tmpfs
    assert spec.share == {"uts", "ipc", "net"} and spec.propagation == "slave"
    assert parse_args(["--net", "none", "true"]).spec().share == frozenset()


@pytest.mark.parametrize("args, message", [
    ([], "no command given"),
    (["run"], "no command given"),
    (["--bogus", "true"], "unknown option '--bogus'"),
    (["--hostname"], "needs a value"),
    (["--uts", "sideways", "true"], "choose one of private, host"),
    (["--no-mytmp=yes", "true"], "takes no value"),
    (["cleanup", "x"], "cleanup takes no arguments"),
])
def test_usage_errors(args, message):
    with pytest.raises(UsageError, match=message):
        parse_args(args)


@pytest.mark.parametrize("args", [
    [], ["--bogus", "true"], ["--hostname", "", "true"], ["--hostname", "a" * 65, "true"],
    ["--hostname", "a b", "true"], ["--hostname", "jo\x01sh", "true"], ["--tmpfs", "relative", "true"],
    ["--uts", "host", "--hostname", "josh", "true"], ["--propagation", "shared", "true"],
])
def test_bad_input_is_one_line_and_125(args, capsys):
    assert main(args) == 125
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("moby-dick: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


@given(st.text(max_size=80))
def test_any_invalid_hostname_gets_exit_125_and_one_line(name):
    assume(hostname_problems(name))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["--hostname", name, "true"]) == 125
    assert stdout.getvalue() == ""
    assert stderr.getvalue().startswith("moby-dick: ") and stderr.getvalue().count("\n") == 1


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "usage: moby-dick" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("moby-dick ")


def test_dry_run_prints_the_plan_without_root(capsys):
    assert main(["--dry-run", "--hostname", "josh", "hostname"]) == 0
    out = capsys.readouterr().out
    assert 'sethostname("josh")' in out and out.rstrip().endswith("execvp('hostname')")


@given(st.text(max_size=40))
def test_any_bad_tmpfs_path_gets_exit_125_and_one_line(path):
    from moby_dick.mounts import tmpfs_path_problems

    assume(tmpfs_path_problems(path))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(["--tmpfs", path, "true"]) == 125
    assert stderr.getvalue().startswith("moby-dick: ") and stderr.getvalue().count("\n") == 1


@given(st.text(max_size=12))
@example("0\x1f")  # str.strip takes the separator, int refuses it: found by hypothesis
def test_any_user_text_is_accepted_or_one_line_125(text):
    from moby_dick.spec import ContainerSpec
    from moby_dick.validate import spec_problems

    from moby_dick.config import from_spec
    from moby_dick.errors import UsageError

    problems = spec_problems(ContainerSpec(("true",), user=text))
    if not problems:
        try:  # names are looked up in the host's /etc/passwd here (no rootfs)
            user = from_spec(ContainerSpec(("true",), user=text)).process.user
        except UsageError as error:
            problems = [str(error)]
        else:
            assert 0 <= user.uid <= 4294967294 and 0 <= user.gid <= 4294967294
    if problems:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            assert main(["--user", text, "true"]) == 125
        assert stderr.getvalue().count("\n") == 1


def test_docker_run_flags_parse_into_the_spec(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("  # comment\n\nA=1\nB\nC=x=y\n")
    invocation = parse_args(["run", "-it", "-h", "web", "--entrypoint", "/bin/sh", "--env-file", str(env_file),
                             "-e", "A=2", "--tmpfs", "/run:size=1m,noexec", "-u", "nobody:nogroup", "--", "-c", "echo"])
    assert invocation.interactive and invocation.tty and invocation.hostname == "web"
    spec = invocation.spec()
    assert spec.argv == ("/bin/sh", "-c", "echo") and spec.tty
    assert spec.env == ("A=1", "B", "C=x=y", "A=2") and spec.user == "nobody:nogroup"
    assert spec.tmpfs_mounts[-1] == ("/run", ("nosuid", "nodev", "mode=1777", "size=1m", "noexec"))
    assert parse_args(["-dit", "--rootfs", "r", "sh"]).detach  # -d -i -t written together
    assert parse_args(["--entrypoint", "/bin/true"]).spec().argv == ("/bin/true",)  # no command needed
    assert parse_args(["-h"]).action == "help" and parse_args(["run", "-h"]).action == "help"


def test_a_tmpfs_mode_replaces_the_default_one():
    from moby_dick.mounts import split_tmpfs, tmpfs_problems

    assert split_tmpfs("/x:mode=700") == ("/x", ("nosuid", "nodev", "mode=700"))
    assert tmpfs_problems("/x:size=50%,nr_inodes=10k,uid=5,ro") == []
    assert tmpfs_problems("/x:mode=999")[0].endswith("mode= takes octal permissions such as 1777")
    assert "unknown option" in tmpfs_problems("/x:bogus")[0]


@pytest.mark.parametrize("line", ["has space=1", "=novalue"])
def test_a_bad_env_file_line_is_one_line_125(tmp_path, capsys, line):
    env_file = tmp_path / "env"
    env_file.write_text(f"OK=1\n{line}\n")
    assert main(["--env-file", str(env_file), "true"]) == 125
    err = capsys.readouterr().err
    assert "line 2" in err and err.count("\n") == 1
