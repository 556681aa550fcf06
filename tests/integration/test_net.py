"""Network isolation, with its control: only lo, DOWN, read from the kernel of the container's namespace."""

import pytest

from moby_dick import probe, start
from moby_dick.spec import ContainerSpec

pytestmark = pytest.mark.privileged


def _devices(share):
    with start(ContainerSpec(("sleep", "30"), share=frozenset(share), seed_tmpfs=False)) as container:
        return container.namespaces["net"], probe.interfaces_of(container.pid), probe.interface_names(container.pid)


def test_only_loopback_and_it_is_down():
    net, devices, names = _devices(())
    assert net != probe.namespace_id("self", "net")
    assert [(d.name, d.up) for d in devices] == [("lo", False)]
    assert names == ["lo"]


def test_control_shared_network_sees_the_hosts_devices():
    net, devices, names = _devices({"net"})
    assert net == probe.namespace_id("self", "net")
    assert devices == probe.interfaces()
    assert names == probe.interface_names()


def test_ip_a_inside(cli):
    done = cli("ip", "-o", "link")
    assert done.returncode == 0
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("1: lo:") and "state DOWN" in lines[0]
