"""``--network bridge``: a veth pair per container, one end ``eth0`` inside, the other on the bridge
``moby-dick0``; an address leased from moby-dick's subnet; ``lo`` up; a default route to the bridge.

Syscalls: rtnetlink through :mod:`moby_dick.netlink` (RTM_NEWLINK bridge and veth, RTM_NEWADDR,
RTM_NEWROUTE, RTM_DELLINK), ``setns(2)`` for a socket of the container's namespace, ``flock(2)`` on the
lease directory. Read veth(4), bridge(8), ip-link(8), network_namespaces(7).

The runtime does it all on "pid1 N", before "go": the container's end is created *inside* PID 1's namespace
(IFLA_NET_NS_FD), so it never exists on the host, and eth0 is up, addressed and routed before the command
runs. Nothing host-wide changes: no ``ip_forward``, no iptables; containers on the bridge reach each other
(the bridge switches frames between its ports) and the bridge's address, nothing beyond.

Leases: one file per address in ``/run/moby-dick/network/<netns inode>/leases`` (so each network namespace
has its own bridge and its own leases), naming its owner, PID 1, by pid and start time, under one lock.
An owner that is gone (exited, killed, moby-dick SIGKILLed) makes its lease stale: :func:`sweep` frees stale
leases at every exit, in the guard, before each allocation, in ``rm`` and in ``moby-dick cleanup``. The veth
goes with the namespace: the kernel deletes both ends when PID 1's network namespace dies.

The bridge stays, like ``docker0``, once made: deleting a net device waits for the kernel's RCU grace
periods, 60-90 ms on this machine, twelve times the 5 ms a bridge may add to a start. ``moby-dick cleanup``
removes it (and any veth the kernel has not removed yet) when no container holds a lease.
"""

from __future__ import annotations

import os

from .records import Record

BRIDGE = "moby-dick0"
DEFAULT_SUBNET = "10.213.0.0/24"  # docker's 172.17.0.0/16 and podman's 10.88.0.0/16 are elsewhere
STATE = "/run/moby-dick/network"
MODES = ("none", "bridge", "host")


class Network(Record):
    """A container on the bridge: the bridge's name, the subnet (``a.b.c.d/N``), and published ports."""

    __slots__ = ("bridge", "subnet", "publish", "state")
    DEFAULTS = {"bridge": BRIDGE, "subnet": DEFAULT_SUBNET, "publish": (), "state": STATE}


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


def first_free(subnet: str, leased) -> str | None:
    """The lowest container address not in ``leased``, or None when the subnet is full. Pure."""
    return next((address for address in candidates(subnet) if address not in leased), None)


# ---- leases: files under a lock ---------------------------------------------------------------------

def _directory(state: str) -> str:
    return os.path.join(state, str(os.stat("/proc/self/ns/net").st_ino))


def _owner_alive(text: str) -> bool:
    """``"PID STARTTIME"`` names a process that still runs (not a zombie, not a recycled pid)."""
    from .procstat import read_stat

    try:
        pid_text, start = text.split()[:2]
        stat = read_stat(int(pid_text))
    except ValueError:
        return False
    return stat is not None and stat[0] != "Z" and stat[19] == start


class _Locked:
    """flock(LOCK_EX) on ``STATE/lock`` (one lock for every namespace: it is never removed, so a waiter can
    never hold a lock on a directory another process just deleted); the namespace's lease directory."""

    def __init__(self, state: str):
        import fcntl

        os.makedirs(state, mode=0o700, exist_ok=True)
        self._fd = os.open(os.path.join(state, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.directory = os.path.join(_directory(state), "leases")

    def leases(self, directory: str | None = None) -> dict[str, str]:
        """{address: owner} in this namespace's lease directory (or another namespace's ``directory``)."""
        directory = directory or self.directory
        found = {}
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return found
        for name in names:
            try:
                with open(os.path.join(directory, name)) as file:
                    found[name] = file.read()
            except FileNotFoundError:
                continue
        return found

    def lease(self, address: str, owner: str) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(os.path.join(self.directory, address), "x") as file:
            file.write(owner)

    def free_stale(self, delete_veths: bool = False, directory: str | None = None) -> tuple[list[str], int]:
        """Remove the leases whose owner is gone (and, if asked, their veth, when the kernel has not yet: a
        dying namespace's devices go in the background); return them and how many are left."""
        directory = directory or self.directory
        removed, leases = [], self.leases(directory)
        for address, owner in leases.items():
            if not _owner_alive(owner):
                veth = owner.split()[2:]
                if veth and delete_veths:
                    _delete_link(veth[0])
                os.unlink(os.path.join(directory, address))
                removed.append(address)
        return removed, len(leases) - len(removed)

    def close(self) -> None:
        os.close(self._fd)  # the lock goes with the descriptor


def _delete_link(name: str) -> bool:
    from .netlink import Netlink, NetlinkError

    with Netlink() as link:
        index = link.index(name)
        if index is None:
            return False
        try:
            link.delete_link(index)
        except NetlinkError as error:
            if error.errno != 19:  # ENODEV: the kernel was quicker
                raise
        return True


def _remove_if_empty(leases: str) -> None:
    for directory in (leases, os.path.dirname(leases)):
        try:
            os.rmdir(directory)
        except OSError:
            return


def sweep(state: str = STATE, bridge: str = BRIDGE, everything: bool = False) -> list[str]:
    """Free the leases of containers that are gone; with ``everything`` (``moby-dick cleanup``) also delete
    their veths if the kernel has not yet, and, once no lease is left, the bridge and the namespace's lease
    directory. Returns what went."""
    if not os.path.isdir(state):  # moby-dick never leased an address here
        return [bridge] if everything and _delete_link(bridge) else []
    if not everything and not os.path.isdir(_directory(state)):
        return []
    locked = _Locked(state)
    try:
        removed, left = locked.free_stale(delete_veths=everything)
        if everything and left == 0:  # nobody on the bridge: it goes
            if _delete_link(bridge):
                removed.append(bridge)
        if left == 0:  # no lease in this namespace: its directory goes (made again by the next allocation)
            _remove_if_empty(locked.directory)
        if everything:  # namespaces that are gone: their leases are all stale
            for name in os.listdir(state):
                leases = os.path.join(state, name, "leases")
                if name.isdigit() and leases != locked.directory and os.path.isdir(leases):
                    removed += locked.free_stale(directory=leases)[0]  # (their veths went with them)
                    _remove_if_empty(leases)
        return removed
    finally:
        locked.close()


# ---- the runtime's step -------------------------------------------------------------------------------

class Lease:
    """What ConnectToBridge leased for PID 1 (filled by :meth:`ConnectToBridge.early`)."""

    __slots__ = ("address", "host_end")

    def __init__(self):
        self.address = self.host_end = None

    def __eq__(self, other) -> bool:
        return isinstance(other, Lease)  # a plan's equality is about what it will do, not what it did

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Lease()"


class ConnectToBridge(Record):
    """Runtime step: lease an address (:meth:`early`, which needs only PID 1's host pid: the runtime
    runs it as soon as its own fork returned it, while PID 1 is still starting), then, on "pid1", make
    the bridge if it is missing, create the veth pair with eth0 inside PID 1's namespace, and configure
    lo, eth0 and the default route from a netlink socket of that namespace."""

    __slots__ = ("network", "lease")
    DEFAULTS = {"lease": None}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.lease is None:
            object.__setattr__(self, "lease", Lease())

    def early(self, kernel, pid: int) -> None:
        from .errors import MobyError
        from .procstat import start_time_of

        network = self.network
        host_end = f"mdv{os.urandom(4).hex()}"
        locked = _Locked(network.state)
        try:
            locked.free_stale()
            address = first_free(network.subnet, locked.leases())
            if address is None:
                raise MobyError(f"--network bridge: every address of {network.subnet} is taken")
            locked.lease(address, f"{pid} {start_time_of(pid)} {host_end}")
        finally:
            locked.close()
        self.lease.address, self.lease.host_end = address, host_end

    def apply(self, kernel, pid: int) -> None:
        from .errors import MobyError
        from .netlink import Netlink, NetlinkError

        if self.lease.address is None:  # PID 1's pid came only now ("pid1 N" from a waiter)
            self.early(kernel, pid)
        network, address, host_end = self.network, self.lease.address, self.lease.host_end
        _, prefix = parse_subnet(network.subnet)
        router = gateway(network.subnet)
        try:
            with Netlink() as host:
                bridge = host.index(network.bridge)
                if bridge is None:
                    host.add_bridge(network.bridge)
                    bridge = host.index(network.bridge)
                    host.add_address(bridge, router, prefix)
                    host.set_link(bridge, up=True)
                netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    host.add_veth(host_end, "eth0", netns)
                finally:
                    os.close(netns)
                end = host.index(host_end)
                host.set_link(end, up=True, master=bridge)
        except NetlinkError as error:
            raise MobyError(f"--network bridge: {error.strerror}") from None
        try:
            with Netlink(f"/proc/{pid}/ns/net") as inside:
                inside.set_link(1, up=True)  # lo is always index 1 in a new namespace
                eth0 = inside.index("eth0")
                inside.add_address(eth0, address, prefix)
                inside.set_link(eth0, up=True)
                inside.add_default_route(router, eth0)
        except NetlinkError as error:
            raise MobyError(f"--network bridge, inside the container: {error.strerror}") from None

    def __str__(self) -> str:
        network = self.network
        return (f'lease an address of {network.subnet} (as soon as PID 1\'s pid is known); bridge "{network.bridge}" '
                f'({gateway(network.subnet)}) if missing; veth mdv* <-> eth0 in /proc/PID1/ns/net; lo, eth0 up; '
                f'default via {gateway(network.subnet)}')


def address_of(pid: int, state: str = STATE) -> str | None:
    """The address leased to PID 1 ``pid`` in the caller's network namespace, or None."""
    from .procstat import start_time_of

    leases = os.path.join(_directory(state), "leases")
    try:
        names = os.listdir(leases)
    except FileNotFoundError:
        return None
    owner = f"{pid} {start_time_of(pid)}"
    for name in names:
        try:
            with open(os.path.join(leases, name)) as file:
                if file.read().split()[:2] == owner.split():
                    return name
        except FileNotFoundError:
            continue
    return None
