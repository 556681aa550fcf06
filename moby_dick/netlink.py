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
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE = 24
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_ECHO, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x8, 0x300, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 5, 10, 18, 28
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
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


def new_veth(name: str, peer: str, peer_netns_fd: int, master: int | None = None, up: bool = False) -> bytes:
    """RTM_NEWLINK body: a veth pair, ``name`` here and ``peer`` created directly in the namespace of
    ``peer_netns_fd`` (IFLA_NET_NS_FD), so the container's end never exists on the host. With ``up``, ``name``
    is created up (its ``ifinfomsg`` carries IFF_UP) and ``master`` puts it on that bridge, in the same
    request: one message instead of three. (The peer cannot be created up: the kernel configures it before
    it pairs the two, and a veth without its peer refuses to open with ENOTCONN.)"""
    flags = IFF_UP if up else 0
    peer_info = link_message(0, 0, 0, attribute(IFLA_IFNAME, _name(peer)),
                             attribute(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)))
    data = attribute(IFLA_INFO_DATA, attribute(VETH_INFO_PEER, peer_info))
    on_bridge = [attribute(IFLA_MASTER, struct.pack("=I", master))] if master is not None else []
    return link_message(0, flags, flags, attribute(IFLA_IFNAME, _name(name)), *on_bridge,
                        attribute(IFLA_LINKINFO, attribute(IFLA_INFO_KIND, b"veth") + data))


def every_link() -> bytes:
    """RTM_GETLINK body for a dump of every link, without their statistics (the names are what is read)."""
    return link_message(0, 0, 0, attribute(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS)))


def parse_link(body: bytes) -> tuple[int, str, int | None]:
    """An RTM_NEWLINK answer -> (index, name, IFLA_LINK: for a veth its peer's index). Pure."""
    index = _IFINFO.unpack_from(body)[2]
    found = parse_attributes(body[_IFINFO.size:])
    link = struct.unpack("=I", found[IFLA_LINK])[0] if len(found.get(IFLA_LINK, b"")) == 4 else None
    return index, found.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace"), link


def parse_address(body: bytes) -> tuple[int, str | None]:
    """An RTM_NEWADDR answer (IPv4) -> (link index, IFA_LOCAL as a.b.c.d, or None). Pure."""
    index = _IFADDR.unpack_from(body)[4]
    local = parse_attributes(body[_IFADDR.size:]).get(IFA_LOCAL)
    return index, socket.inet_ntoa(local) if local and len(local) == 4 else None


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
        return self.batch([(kind, body, flags, what)])[0]

    def batch(self, requests) -> list[list[bytes]]:
        """Send several requests, each ``(type, body, flags, what)`` with NLM_F_ACK (a dump without it),
        in one ``sendto(2)``: the kernel handles them in order and answers each. Returns each one's answers
        before its ack (or NLMSG_DONE); raises the first refusal, after every answer has been read."""
        messages, first = [], self._sequence + 1
        for kind, body, flags, _ in requests:
            self._sequence += 1
            ack = 0 if flags & NLM_F_DUMP == NLM_F_DUMP else NLM_F_ACK
            messages.append(_HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | ack | flags,
                                         self._sequence, 0) + body)
        self._socket.sendto(b"".join(messages), (0, 0))
        answers = [[] for _ in requests]
        pending, refused = len(requests), None
        while pending:
            data = self._socket.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, reply, _, sequence, _ = _HEADER.unpack_from(data, offset)
                payload = data[offset + _HEADER.size:offset + length]
                offset += (length + 3) & ~3
                if not first <= sequence <= self._sequence:
                    continue  # a late answer to an earlier request
                number = sequence - first
                if reply == NLMSG_ERROR:
                    error = -struct.unpack_from("=i", payload)[0]
                    if error and refused is None:
                        what = requests[number][3] or requests[number][0]
                        refused = NetlinkError(error, f"netlink {what}: {os.strerror(error)}")
                    pending -= 1
                elif reply == NLMSG_DONE:
                    pending -= 1
                else:
                    answers[number].append(payload)
        if refused is not None:
            raise refused
        return answers

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

    def links(self) -> list[tuple[int, str, int | None]]:
        """Every link of this socket's namespace: (index, name, IFLA_LINK), one dump."""
        return [parse_link(body) for body in self.request(RTM_GETLINK, every_link(), NLM_F_DUMP, "RTM_GETLINK dump")]

    def add_veth(self, name: str, peer: str, peer_netns_fd: int, master: int | None = None,
                 up: bool = False) -> int | None:
        """Create the pair (see :func:`new_veth`); return the peer's index in its namespace, from the
        kernel's echo of the new link (NLM_F_ECHO: its IFLA_LINK), or None if the kernel echoes nothing."""
        answers = self.request(RTM_NEWLINK, new_veth(name, peer, peer_netns_fd, master, up),
                               NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, f'RTM_NEWLINK veth "{name}" (peer "{peer}")')
        return next((link for _, named, link in map(parse_link, answers) if named == name), None)

    def peer_index(self, name: str) -> int | None:
        """The index, in its own namespace, of the peer of veth ``name`` (its IFLA_LINK)."""
        answers = self.request(RTM_GETLINK, link_by_name(name), what=f'RTM_GETLINK "{name}"')
        return parse_link(answers[0])[2] if answers else None

    def addresses(self) -> list[tuple[int, str | None]]:
        """Every IPv4 address of this socket's namespace: (link index, address), one dump."""
        body = _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)
        return [parse_address(answer) for answer in self.request(RTM_GETADDR, body, NLM_F_DUMP, "RTM_GETADDR dump")]

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
