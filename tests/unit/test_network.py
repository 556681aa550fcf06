"""--network bridge, -p and joined namespaces: the pure parts (netlink encoding, subnets, leases' names and
choice, publish texts, modes), the netlink door against a fake socket that answers like the kernel, and
the plan, without root."""

import contextlib
import io
import socket
import struct

import pytest
from hypothesis import given, strategies as st

from moby_dick import netlink
from moby_dick.cli import main
from moby_dick.config import from_spec
from moby_dick.network import (ConnectToBridge, Network, candidates, gateway, host_end, leased, leased_address, mode_problems,
                               parse_subnet, subnet_problems)
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
    assert attributes[netlink.IFLA_IFNAME] == b"mdv1\0" and netlink.IFLA_MASTER not in attributes
    info = netlink.parse_attributes(attributes[netlink.IFLA_LINKINFO])
    assert info[netlink.IFLA_INFO_KIND] == b"veth"
    peer_info = netlink.parse_attributes(info[netlink.IFLA_INFO_DATA])[netlink.VETH_INFO_PEER]
    peer = netlink.parse_attributes(peer_info[16:])
    assert peer[netlink.IFLA_IFNAME] == b"eth0\0" and peer[netlink.IFLA_NET_NS_FD] == struct.pack("=I", 7)
    assert struct.unpack_from("=BxHiII", body)[3:] == (0, 0) == struct.unpack_from("=BxHiII", peer_info)[3:]


def test_one_veth_request_makes_our_end_up_and_on_the_bridge_and_leaves_the_peer_down():
    body = netlink.new_veth("mdv1", "eth0", 7, master=4, up=True)
    assert struct.unpack_from("=BxHiII", body)[3:] == (netlink.IFF_UP, netlink.IFF_UP)  # flags, change
    attributes = netlink.parse_attributes(body[16:])
    assert attributes[netlink.IFLA_MASTER] == struct.pack("=I", 4)
    info = netlink.parse_attributes(attributes[netlink.IFLA_LINKINFO])
    peer_info = netlink.parse_attributes(info[netlink.IFLA_INFO_DATA])[netlink.VETH_INFO_PEER]
    assert struct.unpack_from("=BxHiII", peer_info)[3:] == (0, 0)  # up before it is paired: ENOTCONN


def test_a_link_answer_gives_index_name_and_the_veths_peer():
    body = netlink.link_message(9, 0, 0, netlink.attribute(netlink.IFLA_IFNAME, b"mdv0ad50002\0"),
                                netlink.attribute(netlink.IFLA_LINK, struct.pack("=I", 2)))
    assert netlink.parse_link(body) == (9, "mdv0ad50002", 2)
    assert netlink.parse_link(netlink.link_message(1, 0, 0, netlink.attribute(netlink.IFLA_IFNAME, b"lo\0"))) == (1, "lo", None)


def test_the_lease_is_the_veths_name():
    assert host_end("10.213.0.2") == "mdv0ad50002" and len(host_end("255.255.255.254")) <= 15  # IFNAMSIZ - 1
    assert leased_address("mdv0ad50002") == "10.213.0.2"
    for other in ("lo", "eth0", "moby-dick0", "mdv0ad5000", "mdv0ad500021", "mdv0AD50002", "mdvzzzzzzzz", "xdv0ad50002"):
        assert leased_address(other) is None, other
    assert leased(["lo", "moby-dick0", "mdv0ad50002", "mdv0ad50004"]) == {"10.213.0.2", "10.213.0.4"}


@given(st.integers(0, 0xFFFFFFFF))
def test_every_address_names_a_veth_that_names_it_back(value):
    address = ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))
    assert leased_address(host_end(address)) == address


class _KernelSocket:
    """A netlink socket's fake: records what was sent and answers each request as the kernel does, with an
    NLMSG_ERROR (0, or -errno), after the echoes asked for. ``sends``: for each sendto in turn, a dict
    {request's index in it: errno, or a list of bodies to echo before a 0}."""

    def __init__(self, *sends):
        self.sent, self.sends, self.replies = [], list(sends), []

    def sendto(self, data, address):
        self.sent.append(data)
        script = self.sends.pop(0) if self.sends else {}
        offset, number = 0, 0
        while offset < len(data):
            length, kind, flags, sequence, _ = struct.unpack_from("=IHHII", data, offset)
            answer = script.get(number, 0)
            for body in answer if isinstance(answer, list) else ():
                self.replies.append(struct.pack("=IHHII", 16 + len(body), netlink.RTM_NEWLINK, 0, sequence, 1) + body)
            errno = answer if isinstance(answer, int) else 0
            error = struct.pack("=i", -errno) + data[offset:offset + 16]
            self.replies.append(struct.pack("=IHHII", 16 + len(error), netlink.NLMSG_ERROR, 0, sequence, 1) + error)
            offset, number = offset + length, number + 1

    def recv(self, size):
        return self.replies.pop(0)  # one message a datagram: the reader must loop

    def close(self):
        pass


def _door(fake):
    door = netlink.Netlink.__new__(netlink.Netlink)
    door._socket, door._sequence = fake, 0
    return door


def test_a_batch_is_one_send_and_the_first_refusal_is_raised_after_every_answer():
    fake = _KernelSocket({1: 17, 2: 22})
    door = _door(fake)
    with pytest.raises(netlink.NetlinkError) as refused:
        door.batch([(netlink.RTM_NEWLINK, netlink.change_link(1, up=True), 0, "lo up"),
                    (netlink.RTM_NEWADDR, netlink.new_address(2, "10.213.0.2", 24), 0, "address"),
                    (netlink.RTM_NEWROUTE, netlink.new_default_route("10.213.0.1", 2), 0, "route")])
    assert len(fake.sent) == 1 and refused.value.errno == 17 and "address" in str(refused.value)
    assert fake.replies == []  # every answer was read: the next request will not find stale ones
    assert door.request(netlink.RTM_NEWLINK, netlink.change_link(1, up=True)) == []


def test_an_address_taken_in_a_race_is_skipped_for_the_next():
    echoed = netlink.link_message(8, 0, 0, netlink.attribute(netlink.IFLA_IFNAME, b"mdv0ad50004\0"),
                                  netlink.attribute(netlink.IFLA_LINK, struct.pack("=I", 2)))
    fake = _KernelSocket({0: 17}, {0: [echoed]})  # 10.213.0.3: EEXIST (another runtime was first); .4 made
    step = ConnectToBridge(Network())
    step.lease.bridge, step.lease.taken = 4, {"10.213.0.2"}
    assert step._take_an_address(_door(fake), 7) == 2 and step.lease.address == "10.213.0.4"
    names = [netlink.parse_attributes(sent[32:])[netlink.IFLA_IFNAME] for sent in fake.sent]
    assert names == [b"mdv0ad50003\0", b"mdv0ad50004\0"]  # .2 was held when it looked: never tried


def test_a_full_subnet_is_one_clear_error():
    from moby_dick.errors import MobyError

    step = ConnectToBridge(Network(subnet="192.168.7.0/30"))
    step.lease.bridge, step.lease.taken = 4, set()
    with pytest.raises(MobyError, match="every address of 192.168.7.0/30 is taken"):
        step._take_an_address(_door(_KernelSocket({0: 17})), 7)


def test_an_address_request_carries_local_and_broadcast():
    body = netlink.new_address(5, "10.213.0.7", 24)
    family, prefix, _, _, index = struct.unpack_from("=BBBBI", body)
    attributes = netlink.parse_attributes(body[8:])
    assert (family, prefix, index) == (socket.AF_INET, 24, 5)
    assert attributes[netlink.IFA_LOCAL] == socket.inet_aton("10.213.0.7")
    assert attributes[netlink.IFA_BROADCAST] == socket.inet_aton("10.213.0.255")


def test_subnets_and_gateway():
    assert parse_subnet("10.213.0.0/24") == (struct.unpack("!I", socket.inet_aton("10.213.0.0"))[0], 24)
    assert gateway("10.213.0.0/24") == "10.213.0.1"
    assert list(candidates("192.168.7.0/30")) == ["192.168.7.2"]
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
