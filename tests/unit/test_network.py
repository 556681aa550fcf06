"""--network bridge, -p and joined namespaces: the pure parts (netlink encoding, subnets, leases' choice,
publish texts, modes) and the plan, without root."""

import contextlib
import io
import socket
import struct

import pytest
from hypothesis import given, strategies as st

from moby_dick import netlink
from moby_dick.cli import main
from moby_dick.config import from_spec
from moby_dick.network import ConnectToBridge, candidates, first_free, gateway, mode_problems, parse_subnet, subnet_problems
from moby_dick.plan import describe, plan
from moby_dick.ports import Publish, PublishPorts, parse_publish, publish_problems
from moby_dick.spec import ContainerSpec


def test_an_attribute_is_length_type_payload_padded_to_four():
    assert netlink.attribute(3, b"eth0\0") == struct.pack("=HH", 9, 3) + b"eth0\0" + b"\0\0\0"
    assert netlink.attribute(1, b"") == struct.pack("=HH", 4, 1)


@given(st.lists(st.tuples(st.integers(0, 0x3FFF), st.binary(max_size=40)), max_size=6))
def test_attributes_parse_back(pairs):
    encoded = b"".join(netlink.attribute(kind, payload) for kind, payload in pairs)
    assert netlink.parse_attributes(encoded) == dict(pairs)


def test_the_veth_request_puts_the_peer_into_the_namespace_of_the_descriptor():
    body = netlink.new_veth("mdv1", "eth0", 7)
    attributes = netlink.parse_attributes(body[16:])  # after ifinfomsg
    assert attributes[netlink.IFLA_IFNAME] == b"mdv1\0"
    info = netlink.parse_attributes(attributes[netlink.IFLA_LINKINFO])
    assert info[netlink.IFLA_INFO_KIND] == b"veth"
    peer = netlink.parse_attributes(netlink.parse_attributes(info[netlink.IFLA_INFO_DATA])[netlink.VETH_INFO_PEER][16:])
    assert peer[netlink.IFLA_IFNAME] == b"eth0\0" and peer[netlink.IFLA_NET_NS_FD] == struct.pack("=I", 7)


def test_an_address_request_carries_local_and_broadcast():
    body = netlink.new_address(5, "10.213.0.7", 24)
    family, prefix, _, _, index = struct.unpack_from("=BBBBI", body)
    attributes = netlink.parse_attributes(body[8:])
    assert (family, prefix, index) == (socket.AF_INET, 24, 5)
    assert attributes[netlink.IFA_LOCAL] == socket.inet_aton("10.213.0.7")
    assert attributes[netlink.IFA_BROADCAST] == socket.inet_aton("10.213.0.255")


def test_subnets_gateway_and_the_lowest_free_address():
    assert parse_subnet("10.213.0.0/24") == (struct.unpack("!I", socket.inet_aton("10.213.0.0"))[0], 24)
    assert gateway("10.213.0.0/24") == "10.213.0.1"
    assert list(candidates("192.168.7.0/30")) == ["192.168.7.2"]
    assert first_free("10.213.0.0/24", {"10.213.0.2", "10.213.0.4"}) == "10.213.0.3"
    assert first_free("192.168.7.0/30", {"192.168.7.2"}) is None  # full
    for bad in ("10.213.0.1/24", "10.213.0/24", "10.213.0.0", "10.213.0.0/31", "x/24", "10.213.0.0/7"):
        assert subnet_problems(bad), bad


def test_publish_texts():
    assert parse_publish("8080:80") == Publish("127.0.0.1", 8080, 80, "tcp")  # loopback unless asked
    assert parse_publish("0.0.0.0:53:5353/udp") == Publish("0.0.0.0", 53, 5353, "udp")
    for bad, message in (("80", "HOST_PORT:CONTAINER_PORT"), ("1:2:3:4", "HOST_PORT"), ("0:80", "not a port"),
                         ("8080:80/sctp", "tcp or udp"), ("localhost:1:2", "not an IPv4")):
        with pytest.raises(ValueError, match=message):
            parse_publish(bad)
    assert "published twice" in publish_problems(["8080:80", "127.0.0.1:8080:81"])[0]
    assert publish_problems(["8080:80", "8080:80/udp"]) == []  # tcp and udp are different ports


@given(st.text(max_size=30))
def test_any_publish_text_parses_or_says_why(text):
    try:
        publish = parse_publish(text)
    except ValueError as error:
        assert str(error).startswith("-p ")  # (the CLI's edge escapes control characters: one line)
    else:
        assert 1 <= publish.host_port <= 65535 and 1 <= publish.container_port <= 65535


def test_network_modes():
    for good in ("none", "bridge", "host", "container:web", "container:1234", "ns:/proc/1/ns/net"):
        assert mode_problems(good) == [], good
    for bad in ("bridged", "container:", "ns:relative", ""):
        assert mode_problems(bad), bad


def test_the_plan_connects_pid_one_after_its_cgroup_and_before_go():
    from moby_dick.cgroups import Layout

    config = from_spec(ContainerSpec(("sh",), network="bridge", publish=("8080:80",), accounting=True))
    v2 = Layout("v2", {"": ("/sys/fs/cgroup", "/")}, frozenset(("memory", "pids", "cpu")))
    kinds = [type(step).__name__ for step in plan(config, v2).runtime]
    assert kinds == ["PlaceInCgroup", "ConnectToBridge", "PublishPorts"]
    v1 = Layout("v1", {c: (f"/sys/fs/cgroup/{c}", "/") for c in ("memory", "pids", "cpuacct", "freezer")},
                frozenset(("memory", "pids", "cpuacct", "freezer")))
    the_plan = plan(config, v1)  # v1: PID 1 joined its cgroup itself, first, before it awaits "go"
    assert [type(step).__name__ for step in the_plan.runtime] == ["ConnectToBridge", "PublishPorts"]
    init = [type(step).__name__ for step in the_plan.init]
    assert init[0] == "JoinCgroup" and "AwaitGo" in init
    assert any(n.kind == "net" and n.path is None for n in config.namespaces)  # a namespace of its own
    text = describe(the_plan)
    assert 'bridge "moby-dick0" (10.213.0.1)' in text and "127.0.0.1:8080->80/tcp" in text
    assert the_plan.network is config.network


def test_joining_a_namespace_by_path_unshares_no_network_namespace(tmp_path):
    config = from_spec(ContainerSpec(("sh",), network="ns:/proc/self/ns/net"))
    assert [(n.kind, n.path) for n in config.namespaces if n.kind == "net"] == [("net", "/proc/self/ns/net")]
    the_plan = plan(config)
    assert type(the_plan.child[0]).__name__ == "JoinNamespaces"
    assert not [s for s in the_plan.runtime if isinstance(s, (ConnectToBridge, PublishPorts))]


@pytest.mark.parametrize("args, message", [
    (["--network", "sideways", "true"], "choose none, bridge, host"),
    (["-p", "8080:80", "true"], "need --network bridge"),
    (["--network", "bridge", "-p", "8080", "true"], "HOST_PORT:CONTAINER_PORT"),
    (["--network", "bridge", "--subnet", "10.0.0.1/24", "true"], "host bits are set"),
    (["--network", "ns:/no/such/namespace", "true"], "no network namespace at"),
    (["--network", "host", "-p", "1:2", "true"], "need --network bridge"),
])
def test_bad_network_input_is_one_line_125(args, message):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(args) == 125
    assert message in stderr.getvalue() and stderr.getvalue().count("\n") == 1
