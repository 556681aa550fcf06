"""rtnetlink, the kernel's interface for links, addresses and routes: just what a bridge and a veth need.

Syscalls: ``socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)``, ``sendto(2)``/``recv(2)`` of netlink messages,
and ``setns(2)`` (a netlink socket belongs to the network namespace it was *created* in, so a socket for a
container's namespace is made by entering it for that one call and coming back). Read netlink(7),
rtnetlink(7), veth(4) and the kernel's ``include/uapi/linux/{netlink,rtnetlink,if_link,if_addr}.h``.

Each request is ``nlmsghdr`` + a fixed header (``ifinfomsg``, ``ifaddrmsg``, ``rtmsg``) + attributes
(``rtattr``: length, type, payload, padded to 4 bytes), sent with NLM_F_ACK; the kernel answers with an
``NLMSG_ERROR`` whose error is 0 (done) or ``-errno``. The encoders are pure and unit-tested byte for byte;
:class:`Netlink` is the door. Why not pyroute2 here: importing it costs ~200 ms on this machine, forty times
the whole budget of ``--network bridge``; the tests read the result back with pyroute2 and ``ip``, so the
evidence never comes from the code that made it.
"""

from __future__ import annotations

import os
import struct

import _socket as socket  # the C module: the socket wrapper's enums cost ~3 ms on the start path

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
CLONE_NEWNET = 0x40000000

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags


def attribute(kind: int, payload: bytes) -> bytes:
    """One rtattr: length (header + payload), type, payload, then padding to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def link_message(index: int = 0, flags: int = 0, change: int = 0, *attributes: bytes) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change) + b"".join(attributes)


def new_bridge(name: str) -> bytes:
    """RTM_NEWLINK body: a bridge named ``name``."""
    return link_message(0, 0, 0, attribute(IFLA_IFNAME, _name(name)),
                        attribute(IFLA_LINKINFO, attribute(IFLA_INFO_KIND, b"bridge")))


def new_veth(name: str, peer: str, peer_netns_fd: int) -> bytes:
    """RTM_NEWLINK body: a veth pair, ``name`` here and ``peer`` created directly in the namespace of
    ``peer_netns_fd`` (IFLA_NET_NS_FD), so the container's end never exists on the host."""
    peer_info = link_message(0, 0, 0, attribute(IFLA_IFNAME, _name(peer)),
                             attribute(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)))
    data = attribute(IFLA_INFO_DATA, attribute(VETH_INFO_PEER, peer_info))
    return link_message(0, 0, 0, attribute(IFLA_IFNAME, _name(name)),
                        attribute(IFLA_LINKINFO, attribute(IFLA_INFO_KIND, b"veth") + data))


def change_link(index: int, up: bool | None = None, master: int | None = None) -> bytes:
    """RTM_NEWLINK body changing link ``index``: up (IFF_UP) and/or its master (a bridge's index)."""
    attributes = [attribute(IFLA_MASTER, struct.pack("=I", master))] if master is not None else []
    flags, change = (IFF_UP if up else 0, IFF_UP) if up is not None else (0, 0)
    return link_message(index, flags, change, *attributes)


def link_by_name(name: str) -> bytes:
    return link_message(0, 0, 0, attribute(IFLA_IFNAME, _name(name)))


def new_address(index: int, address: str, prefix: int) -> bytes:
    """RTM_NEWADDR body: ``address/prefix`` on link ``index`` (IPv4), with its broadcast address."""
    packed = socket.inet_aton(address)
    host_bits = 32 - prefix
    broadcast = struct.pack("!I", (struct.unpack("!I", packed)[0] | ((1 << host_bits) - 1)) & 0xFFFFFFFF)
    return (_IFADDR.pack(socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, index) + attribute(IFA_LOCAL, packed)
            + attribute(IFA_ADDRESS, packed) + attribute(IFA_BROADCAST, broadcast))


def new_default_route(gateway: str, index: int) -> bytes:
    """RTM_NEWROUTE body: 0.0.0.0/0 via ``gateway`` on link ``index``, in the main table."""
    return (_RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
            + attribute(RTA_GATEWAY, socket.inet_aton(gateway)) + attribute(RTA_OIF, struct.pack("=I", index)))


def parse_attributes(data: bytes) -> dict[int, bytes]:
    """rtattrs -> {type: payload} (the last of a type wins). Pure."""
    found, offset = {}, 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


class NetlinkError(OSError):
    """A request the kernel refused: what was asked, and its errno."""


class Netlink:
    """A NETLINK_ROUTE socket in one network namespace: ``Netlink()`` the caller's, ``Netlink(path)`` the
    one of ``path`` (``/proc/PID/ns/net``), entered by this thread for the ``socket()`` call only."""

    def __init__(self, netns: str | None = None):
        if netns is None:
            self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        else:
            self._socket = socket_in(netns, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._socket.bind((0, 0))
        self._sequence = 0

    def close(self) -> None:
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, kind: int, body: bytes, flags: int = 0, what: str = "") -> list[bytes]:
        """Send one request with NLM_F_ACK; return the bodies of the answers before the ack."""
        self._sequence += 1
        message = _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags,
                               self._sequence, 0) + body
        self._socket.sendto(message, (0, 0))
        answers = []
        while True:
            data = self._socket.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, reply, _, sequence, _ = _HEADER.unpack_from(data, offset)
                payload = data[offset + _HEADER.size:offset + length]
                offset += (length + 3) & ~3
                if sequence != self._sequence:
                    continue
                if reply == NLMSG_ERROR:
                    error = -struct.unpack_from("=i", payload)[0]
                    if error:
                        raise NetlinkError(error, f"netlink {what or kind}: {os.strerror(error)}")
                    return answers
                if reply == NLMSG_DONE:
                    return answers
                answers.append(payload)

    # ---- the requests moby-dick makes ---------------------------------------------------------

    def index(self, name: str) -> int | None:
        """The index of link ``name`` in this socket's namespace, or None."""
        try:
            answers = self.request(RTM_GETLINK, link_by_name(name), what=f'RTM_GETLINK "{name}"')
        except NetlinkError as error:
            if error.errno in (19, 2):  # ENODEV, ENOENT
                return None
            raise
        return _IFINFO.unpack_from(answers[0])[2] if answers else None

    def add_bridge(self, name: str) -> None:
        self.request(RTM_NEWLINK, new_bridge(name), NLM_F_CREATE | NLM_F_EXCL, f'RTM_NEWLINK bridge "{name}"')

    def add_veth(self, name: str, peer: str, peer_netns_fd: int) -> None:
        self.request(RTM_NEWLINK, new_veth(name, peer, peer_netns_fd), NLM_F_CREATE | NLM_F_EXCL,
                     f'RTM_NEWLINK veth "{name}" (peer "{peer}")')

    def set_link(self, index: int, up: bool | None = None, master: int | None = None) -> None:
        self.request(RTM_NEWLINK, change_link(index, up, master), what=f"RTM_NEWLINK index {index}")

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, link_message(index), what=f"RTM_DELLINK index {index}")

    def add_address(self, index: int, address: str, prefix: int) -> None:
        self.request(RTM_NEWADDR, new_address(index, address, prefix), NLM_F_CREATE | NLM_F_EXCL,
                     f"RTM_NEWADDR {address}/{prefix}")

    def add_default_route(self, gateway: str, index: int) -> None:
        self.request(RTM_NEWROUTE, new_default_route(gateway, index), NLM_F_CREATE | NLM_F_EXCL,
                     f"RTM_NEWROUTE default via {gateway}")


def socket_in(netns: str, family: int, kind: int, protocol: int = 0):
    """A socket of the network namespace ``netns`` (a path such as /proc/PID/ns/net): setns(2) there,
    socket(2), setns(2) back, in this thread only; the socket stays in ``netns`` for its whole life.
    (A ``_socket.socket``; ``socket.socket(fileno=s.detach())`` makes it the wrapper, with ``with``.)"""
    from .syscalls import KERNEL

    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    there = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        KERNEL.setns(there, CLONE_NEWNET)
        try:
            return socket.socket(family, kind | socket.SOCK_CLOEXEC, protocol)
        finally:
            KERNEL.setns(here, CLONE_NEWNET)
    finally:
        os.close(here)
        os.close(there)
