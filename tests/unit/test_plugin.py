"""The pytest plugin itself: skip with a reason, refuse --run-privileged without root, say the header."""

import os

pytest_plugins = ["pytester"]

PRIVILEGED_TEST = """
import pytest

@pytest.mark.privileged
def test_needs_root():
    assert True
"""


def test_privileged_tests_skip_with_a_reason_without_the_flag(pytester):
    pytester.makepyfile(PRIVILEGED_TEST)
    result = pytester.runpytest("-p", "moby_dick.testing.plugin", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs root and namespaces: run as root with --run-privileged*"])


def test_the_flag_without_root_is_a_usage_error(pytester, monkeypatch):
    pytester.makepyfile(PRIVILEGED_TEST)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = pytester.runpytest("-p", "moby_dick.testing.plugin", "--run-privileged")
    assert result.ret == 4  # pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--run-privileged needs root*"])


def test_report_header_names_uid_cgroups_and_kernel(pytester):
    pytester.makepyfile("def test_nothing():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "moby_dick.testing.plugin")
    result.stdout.fnmatch_lines([f"moby_dick: uid={os.geteuid()} cgroup=* kernel={os.uname().release}*"])
