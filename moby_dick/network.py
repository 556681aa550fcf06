"""``--network bridge``: a veth pair per container, one end ``eth0`` inside, the other on the bridge
``moby-dick0``; an address leased from moby-dick's subnet; ``lo`` up; a default route to the bridge.

Syscalls: rtnetlink through :mod:`moby_dick.netlink` (RTM_GETLINK dumps, RTM_NEWLINK bridge and veth,
RTM_NEWADDR, RTM_NEWROUTE, RTM_DELLINK), ``setns(2)`` for a socket of the container's namespace. Read
veth(4), bridge(8), ip-link(8), network_namespaces(7), rtnetlink(7).

The runtime does it on "pid1 N", before "go": the container's end is created *inside* PID 1's namespace
(IFLA_NET_NS_FD), so it never exists on the host, and eth0 is up, addressed and routed before the command
runs. Nothing host-wide changes: no ``ip_forward``, no iptables; containers on the bridge reach each other
(the bridge switches frames between its ports) and the bridge's address, nothing beyond.

Leases are the kernel's: the host end of a container's veth is named after its address (``mdv`` and the
address in hex: 10.213.0.2 is ``mdv0ad50002``), so the names of the links in the runtime's network
namespace *are* the lease table, one per namespace. Taking an address is creating that name (NLM_F_EXCL:
the kernel refuses a name that exists, so two runtimes racing for one address cannot both get it). Giving
it back is nothing at all: when PID 1's network namespace dies, the kernel deletes both ends of the veth,
whether the container exited, was killed, or moby-dick was SIGKILLed. No file, no lock, no guard.

The bridge stays, like ``docker0``, once made: deleting a net device waits for the kernel's RCU grace
periods, 60-90 ms on this machine, twelve times the 5 ms a bridge may add to a start. ``moby-dick cleanup``
removes it when no container is on it.
"""

from __future__ import annotations

import os

from .records import Record

BRIDGE = "moby-dick0"
DEFAULT_SUBNET = "10.213.0.0/24"  # docker's 172.17.0.0/16 and podman's 10.88.0.0/16 are elsewhere
MODES = ("none", "bridge", "host")


class Network(Record):
    """A container on the bridge: the bridge's name, the subnet (``a.b.c.d/N``), and published ports."""

    __slots__ = ("bridge", "subnet", "publish")
    DEFAULTS = {"bridge": BRIDGE, "subnet": DEFAULT_SUBNET, "publish": ()}


# ---- pure: modes, subnets, addresses ---------------------------------------------------------------

def mode_problems(text: str) -> list[str]:
    """``--network`` values: none, bridge, host, container:NAME|ID|PID, ns:PATH. Pure."""
    if text in MODES or text == "private":
        return []
    kind, colon, value = text.partition(":")
    if colon and kind in ("container", "ns") and value:
        if kind == "ns" and not value.startswith("/"):
            return [f'--network "{text}": ns: takes an absolute path such as /proc/1234/ns/net']
        return []
    return [f'--network "{text}": choose none, bridge, host, container:NAME|ID|PID or ns:PATH']


def subnet_problems(text: str) -> list[str]:
    try:
        network, prefix = parse_subnet(text)
    except ValueError as error:
        return [f'--subnet "{text}": {error}']
    return [] if prefix <= 30 else [f'--subnet "{text}": a /{prefix} has no room for a bridge and a container']


def parse_subnet(text: str) -> tuple[int, int]:
    """``"10.213.0.0/24"`` -> (network as an int, prefix length). Raises ValueError. Pure."""
    import struct

    import _socket as socket  # the C module (the wrapper's enums cost ~3 ms on the start path)

    address, slash, prefix_text = text.partition("/")
    if not slash or not prefix_text.isdigit() or not 8 <= int(prefix_text) <= 32:
        raise ValueError("write it as A.B.C.D/N with N from 8 to 30")
    try:
        packed = socket.inet_aton(address)
    except OSError:
        raise ValueError(f'"{address}" is not an IPv4 address') from None
    if address.count(".") != 3:
        raise ValueError(f'"{address}" is not an IPv4 address')
    value, prefix = struct.unpack("!I", packed)[0], int(prefix_text)
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    if value & ~mask & 0xFFFFFFFF:
        raise ValueError(f"host bits are set; the subnet is {dotted(value & mask)}/{prefix}")
    return value, prefix


def dotted(value: int) -> str:
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def gateway(subnet: str) -> str:
    """The bridge's address: the subnet's first."""
    network, _ = parse_subnet(subnet)
    return dotted(network + 1)


def candidates(subnet: str):
    """The containers' addresses, in order: the second to the last before broadcast."""
    network, prefix = parse_subnet(subnet)
    for offset in range(2, (1 << (32 - prefix)) - 1):
        yield dotted(network + offset)


# ---- leases: the kernel holds them -------------------------------------------------------------

def host_end(address: str) -> str:
    """The name of the host end of the veth of the container holding ``address``: ``mdv`` and the address's
    32 bits in hex (10.213.0.2 -> mdv0ad50002; 11 characters of the kernel's 15). Pure."""
    network, _ = parse_subnet(address + "/32")
    return f"mdv{network:08x}"


def leased_address(name: str) -> str | None:
    """The address a link name holds, if it is one of :func:`host_end`'s, else None. Pure."""
    digits = name[3:]
    if not name.startswith("mdv") or len(digits) != 8 or digits.strip("0123456789abcdef"):
        return None
    return dotted(int(digits, 16))


def leased(names) -> set[str]:
    """The addresses held by the links ``names`` of a namespace. Pure."""
    return {address for address in map(leased_address, names) if address is not None}


def sweep(bridge: str = BRIDGE, everything: bool = False) -> list[str]:
    """``moby-dick cleanup``: delete the bridge once no container is on it (no veth of ours is left in this
    namespace). Leases need no sweeping: each is a veth, and the kernel deletes it with its namespace,
    however moby-dick ended. Returns what went."""
    from .netlink import Netlink, NetlinkError

    if not everything:
        return []
    with Netlink() as link:
        names = {name: index for index, name, _ in link.links()}
        if bridge not in names or leased(names):
            return []
        try:
            link.delete_link(names[bridge])
        except NetlinkError as error:
            if error.errno != 19:  # ENODEV: someone else was quicker
                raise
            return []
    return [bridge]


# ---- the runtime's step -------------------------------------------------------------------------------

class Lease:
    """What ConnectToBridge found and chose for PID 1 (filled by :meth:`ConnectToBridge.early` and
    :meth:`ConnectToBridge.apply`): the bridge's index, the addresses held when it looked, the address."""

    __slots__ = ("bridge", "taken", "address")

    def __init__(self):
        self.bridge = self.taken = self.address = None

    def __eq__(self, other) -> bool:
        return isinstance(other, Lease)  # a plan's equality is about what it will do, not what it did

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Lease()"


class ConnectToBridge(Record):
    """Runtime step: :meth:`early` (as soon as the runtime's own fork returned, while PID 1 is still
    starting) makes the bridge if it is missing and reads which addresses are held; on "pid1" :meth:`apply`
    creates the veth pair named after the first free address, up and on the bridge, with eth0 inside PID 1's
    namespace, then sets lo and eth0 up, eth0's address and the default route in one batch from a netlink
    socket of that namespace. Creating the name *is* taking the lease (NLM_F_EXCL: of two runtimes racing for an
    address, one gets EEXIST and tries the next); the kernel ends it with the namespace."""

    __slots__ = ("network", "lease")
    DEFAULTS = {"lease": None}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.lease is None:
            object.__setattr__(self, "lease", Lease())

    def early(self, kernel, pid: int | None = None) -> None:
        from .errors import MobyError
        from .netlink import Netlink, NetlinkError

        network, lease = self.network, self.lease
        _, prefix = parse_subnet(network.subnet)
        try:
            with Netlink() as host:
                names = {name: index for index, name, _ in host.links()}
                if network.bridge not in names:
                    try:
                        host.add_bridge(network.bridge)
                        made = True
                    except NetlinkError as error:
                        if error.errno != 17:  # EEXIST: another runtime made it meanwhile, and configures it
                            raise
                        made = False
                    bridge = names[network.bridge] = host.index(network.bridge)
                    if made:
                        host.batch([_address(bridge, gateway(network.subnet), prefix), _up(bridge)])
        except NetlinkError as error:
            raise MobyError(f"--network bridge: {error.strerror}") from None
        lease.bridge, lease.taken = names[network.bridge], leased(names)

    def apply(self, kernel, pid: int) -> None:
        from .errors import MobyError
        from .netlink import Netlink, NetlinkError

        network, lease = self.network, self.lease
        if lease.bridge is None:  # PID 1's pid came only now ("pid1 N" from a waiter)
            self.early(kernel, pid)
        _, prefix = parse_subnet(network.subnet)
        router = gateway(network.subnet)
        try:
            with Netlink() as host:
                netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    eth0 = self._take_an_address(host, netns)
                finally:
                    os.close(netns)
        except NetlinkError as error:
            raise MobyError(f"--network bridge: {error.strerror}") from None
        try:
            with Netlink(f"/proc/{pid}/ns/net") as inside:
                inside.batch([_up(1), _up(eth0),  # lo is always index 1 in a new namespace
                              _address(eth0, lease.address, prefix), _default_route(router, eth0)])
        except NetlinkError as error:
            raise MobyError(f"--network bridge, inside the container: {error.strerror}") from None

    def _take_an_address(self, host, netns: int) -> int:
        """Create the veth of the lowest address nobody held; EEXIST (a race, or a namespace the kernel is
        still tearing down): the next. Returns eth0's index inside."""
        from .errors import MobyError
        from .netlink import NetlinkError

        lease = self.lease
        for address in candidates(self.network.subnet):
            if address in lease.taken:
                continue
            try:
                eth0 = host.add_veth(host_end(address), "eth0", netns, master=lease.bridge, up=True)
            except NetlinkError as error:
                if error.errno != 17:  # EEXIST: held by now
                    raise
                continue
            lease.address = address
            return eth0 if eth0 is not None else host.peer_index(host_end(address))
        raise MobyError(f"--network bridge: every address of {self.network.subnet} is taken")

    def __str__(self) -> str:
        network = self.network
        return (f'bridge "{network.bridge}" ({gateway(network.subnet)}) if missing; veth mdv<address> <-> eth0 in '
                f'/proc/PID1/ns/net for the first free address of {network.subnet} (the name is the lease), up, on '
                f'the bridge; lo up, the address on eth0, default via {gateway(network.subnet)}')


def _up(index: int) -> tuple:
    from .netlink import RTM_NEWLINK, change_link

    return RTM_NEWLINK, change_link(index, up=True), 0, f"RTM_NEWLINK index {index} up"


def _address(index: int, address: str, prefix: int) -> tuple:
    from .netlink import NLM_F_CREATE, NLM_F_EXCL, RTM_NEWADDR, new_address

    return RTM_NEWADDR, new_address(index, address, prefix), NLM_F_CREATE | NLM_F_EXCL, f"RTM_NEWADDR {address}/{prefix}"


def _default_route(router: str, index: int) -> tuple:
    from .netlink import NLM_F_CREATE, NLM_F_EXCL, RTM_NEWROUTE, new_default_route

    return (RTM_NEWROUTE, new_default_route(router, index), NLM_F_CREATE | NLM_F_EXCL,
            f"RTM_NEWROUTE default via {router}")


def address_of(pid: int) -> str | None:
    """The IPv4 address of PID 1 ``pid``'s eth0 (any address but loopback's), read from its namespace."""
    from .netlink import Netlink

    with Netlink(f"/proc/{pid}/ns/net") as inside:
        return next((address for index, address in inside.addresses() if index != 1 and address), None)
