"""UTS isolation, with its control: the hostname inside is the container's own."""

import pytest
from hypothesis import HealthCheck, given, settings

from moby_dick import probe, run
from moby_dick.forkcall import in_lab
from moby_dick.testing.strategies import VALID_HOSTNAMES

pytestmark = pytest.mark.privileged


def test_default_hostname_and_own_namespace():
    result = run(["hostname"], capture=True)
    assert result.exit_code == 0
    assert result.text == "containerhostname\n"
    assert result.namespaces["uts"] != probe.namespace_id("self", "uts")


def test_rename_inside_stays_inside():
    before = probe.hostname()
    result = run(["sh", "-c", "hostname josh; hostname"], capture=True, seed_tmpfs=False)
    assert result.text == "josh\n"
    assert probe.hostname() == before


def test_control_shared_uts_is_the_hosts():
    result = run(["hostname"], capture=True, share={"uts"}, seed_tmpfs=False)
    assert result.text == probe.hostname() + "\n"
    assert result.namespaces["uts"] == probe.namespace_id("self", "uts")


def _rename_from_inside(share):
    run(["hostname", "josh"], share=share, seed_tmpfs=False)
    return probe.hostname()


def test_control_shared_uts_renames_the_host_in_a_lab():
    assert in_lab(_rename_from_inside, {"uts"}, kinds=("uts",)) == "josh"
    assert in_lab(_rename_from_inside, set(), kinds=("uts",)) == "intacthostname"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALID_HOSTNAMES)
def test_valid_hostnames_round_trip(name):
    result = run(["hostname"], capture=True, hostname=name, seed_tmpfs=False)
    assert result.text == name + "\n"


@pytest.mark.parametrize("name", ["", "a" * 65, "a_b", "jo sh", "-x", "é"])
def test_invalid_hostnames_exit_125_with_one_line(cli, name):
    done = cli("--hostname", name, "true")
    assert done.returncode == 125
    assert done.stderr.decode().count("\n") == 1 and done.stderr.startswith(b"moby-dick: ")
