"""pytest plugin (entry point ``pytest11``): ``--run-privileged``, the ``privileged`` marker, the header.

* Without ``--run-privileged``, tests marked ``privileged`` are skipped with a reason.
* With it but not as root, the run stops with a usage error instead of skipping everything.
* Every privileged test is wrapped by a check that the host is left as it was found
  (:mod:`moby_dick.hoststate`): mounts, SysV IPC objects, hostname, child processes, ``/mytmp``.
* The report header says uid, cgroup layout and kernel.

This is pytest's documented ``--runslow`` recipe, plus crun's habit of saying why a test cannot run.
"""

from __future__ import annotations

import os
import platform

import pytest

PRIVILEGED_REASON = "needs root and namespaces: run as root with --run-privileged"


def pytest_addoption(parser):
    parser.addoption("--run-privileged", action="store_true", default=False,
                     help="run tests marked privileged (they create namespaces and mounts; needs root)")


def pytest_configure(config):
    config.addinivalue_line("markers", "privileged: needs root; runs only with --run-privileged")
    if config.getoption("--run-privileged") and os.geteuid() != 0:
        raise pytest.UsageError("--run-privileged needs root (uid 0); run the suite with sudo, "
                                "or drop the flag to run the unprivileged tests only")


def pytest_report_header(config):
    from moby_dick.probe import cgroup_layout

    return (f"moby_dick: uid={os.geteuid()} cgroup={cgroup_layout()} kernel={platform.release()} "
            f"privileged tests={'on' if config.getoption('--run-privileged') else 'off'}")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-privileged"):
        return
    skip = pytest.mark.skip(reason=PRIVILEGED_REASON)
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _host_left_as_found(request):
    """After each privileged test: the host has no new mounts, IPC objects, hostname or processes."""
    if request.node.get_closest_marker("privileged") is None:
        yield
        return
    from moby_dick.hoststate import HostState, wait_for_clean

    before = HostState.capture()
    yield
    problems = wait_for_clean(before)
    assert not problems, "the test left the host changed: " + "; ".join(problems)
