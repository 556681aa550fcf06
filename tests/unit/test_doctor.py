"""moby-dick doctor: read-only checks, each with its fix; the exit status says whether the basics work."""

import json
import os

from moby_dick import doctor
from moby_dick.cli import main


def test_doctor_reports_every_check_and_json(capsys):
    code = main(["doctor", "--json"])
    checks = json.loads(capsys.readouterr().out)
    names = [check["name"] for check in checks]
    for name in ("kernel", "root", "mnt namespace", "user.max_user_namespaces", "overlayfs", "seccomp", "cgroups",
                 "pidfd", "newuidmap", "engine podman"):
        assert name in names
    assert all(check["fix"] for check in checks if check["ok"] is False)
    assert code == (0 if all(check["ok"] for check in checks if check["basic"]) else 1)


def test_without_root_the_basics_are_missing_and_it_says_the_fix(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert doctor.report() == 1
    out = capsys.readouterr().out
    assert "MISS  root: euid 1000  -> run moby-dick as root (sudo)" in out
    assert "no security boundary" in out


def test_bad_doctor_usage_is_one_line(capsys):
    assert main(["doctor", "--nonsense"]) == 125
    assert capsys.readouterr().err.count("\n") == 1
