"""``-p [IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]``: published ports, by a small forwarder process.

Syscalls: ``socket(2)``/``bind(2)``/``listen(2)`` in the host's network namespace, then, in the forwarder,
``setns(2)`` into the container's and ``connect(2)`` to the container's address there; ``pidfd_open(2)``
so that the forwarder ends with the container's PID 1. Read socket(7), tcp(7), udp(7), pidfd_open(2).

Why a forwarder (docker's userland proxy) and not DNAT: publishing on 127.0.0.1 with DNAT needs
``net.ipv4.conf.*.route_localnet=1`` and iptables rules, host-wide settings moby-dick must not change behind
the user's back. A socket keeps the namespace it was created in: the forwarder binds its listeners in the
host's namespace *first*, then enters the container's, so each connection it makes to the container never
crosses anything but the namespaces moby-dick made. The listeners are bound by the runtime before "go": a
port in use is a one-line error and the container does not start. One forwarder serves every port of a
container (a thread per TCP connection, one loop for UDP) and is double-forked away from the runtime, so
nobody has to reap it; it leaves when PID 1 goes (its pidfd becomes readable).
"""

from __future__ import annotations

import os
import socket

from .records import Record

PROTOCOLS = ("tcp", "udp")


class Publish(Record):
    """One published port: the host's address and port, the container's port, tcp or udp."""

    __slots__ = ("host_ip", "host_port", "container_port", "protocol")
    DEFAULTS = {"host_ip": "127.0.0.1", "protocol": "tcp"}

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def parse_publish(text: str) -> Publish:
    """``[IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`` -> Publish (127.0.0.1 unless an address is given).
    Raises ValueError with what is wrong. Pure."""
    body, slash, protocol = text.partition("/")
    if slash and protocol not in PROTOCOLS:
        raise ValueError(f'-p "{text}": the protocol is tcp or udp')
    parts = body.split(":")
    if len(parts) == 2:
        parts.insert(0, "127.0.0.1")
    if len(parts) != 3:
        raise ValueError(f'-p "{text}": write [IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp], e.g. 8080:80')
    host_ip, host_port, container_port = parts
    try:
        socket.inet_aton(host_ip)
        if host_ip.count(".") != 3:
            raise OSError
    except OSError:
        raise ValueError(f'-p "{text}": "{host_ip}" is not an IPv4 address') from None
    for port in (host_port, container_port):
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f'-p "{text}": "{port}" is not a port (1-65535)')
    return Publish(host_ip, int(host_port), int(container_port), protocol or "tcp")


def publish_problems(texts) -> list[str]:
    problems, seen = [], set()
    for text in texts:
        try:
            publish = parse_publish(text)
        except ValueError as error:
            problems.append(str(error))
            continue
        key = (publish.host_ip, publish.host_port, publish.protocol)
        if key in seen:
            problems.append(f'-p "{text}": {publish.host_ip}:{publish.host_port}/{publish.protocol} is published twice')
        seen.add(key)
    return problems


def bind(publish: Publish) -> socket.socket:
    """The listener of one published port, in the caller's (the host's) network namespace."""
    kind = socket.SOCK_STREAM if publish.protocol == "tcp" else socket.SOCK_DGRAM
    listener = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((publish.host_ip, publish.host_port))
        if kind == socket.SOCK_STREAM:
            listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


class Listeners:
    """The bound listeners of one start, shared by the host step that binds them and the runtime step that
    hands them to the forwarder (a holder: the plan is made before anything is bound)."""

    def __init__(self):
        self.bound: list = []  # (socket, Publish)

    def close(self) -> None:
        while self.bound:
            self.bound.pop()[0].close()

    def __eq__(self, other) -> bool:  # plans compare by their steps' fields: any two holders are alike
        return isinstance(other, Listeners)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Listeners()"


class BindPorts(Record):
    """Host step, before the fork: bind every published port in the host's namespace. A port in use fails
    the start here, before a container, an address or a bridge exists."""

    __slots__ = ("ports", "listeners")

    def apply(self, host) -> None:
        from .errors import MobyError

        host.cleanup.append(self.listeners.close)
        for publish in self.ports:
            try:
                self.listeners.bound.append((bind(publish), publish))
            except OSError as error:
                raise MobyError(f"-p {publish}: cannot bind {publish.host_ip}:{publish.host_port}/"
                                f"{publish.protocol}: {error.strerror}") from None

    def __str__(self) -> str:
        return f"socket(); bind({', '.join(f'{p.host_ip}:{p.host_port}/{p.protocol}' for p in self.ports)}); listen()"


class PublishPorts(Record):
    """Runtime step, on "pid1 N" (after the bridge gave PID 1 its address): fork the forwarder with the
    bound listeners into PID 1's network namespace."""

    __slots__ = ("ports", "lease", "listeners")

    def apply(self, kernel, pid: int) -> None:
        import selectors  # noqa: F401  imported before the fork: the forwarder must not take the import lock
        import threading  # noqa: F401

        from .errors import MobyError

        try:
            address = self.lease.address  # ConnectToBridge's, the step before
            if address is None:
                raise MobyError("-p: the container has no address on the bridge")
            pidfd = os.pidfd_open(pid)
            netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            child = kernel.fork()
            if child == 0:
                _become_forwarder(kernel, self.listeners.bound, address, pidfd, netns)
            os.close(pidfd)
            os.close(netns)
            kernel.waitpid(child, 0)
        finally:
            self.listeners.close()  # the forwarder has its own copies

    def __str__(self) -> str:
        return (f"fork a forwarder for {', '.join(map(str, self.ports))}: it enters /proc/PID1/ns/net and "
                "connects to the container's address for each client")


def _become_forwarder(kernel, listeners, address: str, pidfd: int, netns: int) -> None:
    """In the runtime's child: fork once more (the grandchild, re-parented, serves), leave the runtime's
    stdio and descriptors behind, enter the container's network namespace, serve until PID 1 is gone."""
    code = 0
    try:
        if os.fork():
            os._exit(0)
        os.setsid()  # no terminal's signals
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = {pidfd, netns, *(listener.fileno() for listener, _ in listeners)}
        for fd in _open_descriptors():
            if fd > 2 and fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        kernel.setns(netns, 0x40000000)  # CLONE_NEWNET: from here on, connect(2) reaches the container
        os.close(netns)
        serve(listeners, address, pidfd)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _open_descriptors() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


def serve(listeners, address: str, pidfd: int) -> None:
    """The forwarder's loop: accept (TCP) or receive (UDP) on each listener, forward to ``address``."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(pidfd, selectors.EVENT_READ, None)
    for listener, publish in listeners:
        selector.register(listener, selectors.EVENT_READ, publish)
    udp_clients: dict = {}  # (listener fd, client address) -> the socket towards the container
    pipes: list = []  # the threads copying TCP connections
    while True:
        for key, _ in selector.select():
            publish = key.data
            if publish is None:  # PID 1 exited: accept nothing more, let what the container said reach its clients
                for listener, _ in listeners:
                    listener.close()
                import time

                deadline = time.monotonic() + 5
                for thread in pipes:
                    thread.join(max(0.0, deadline - time.monotonic()))
                return
            if isinstance(publish, tuple):  # a UDP answer from the container, back to its client
                listener, client, upstream = publish
                try:
                    listener.sendto(upstream.recv(65535), client)
                except OSError:
                    pass
            elif publish.protocol == "tcp":
                pipes = [thread for thread in pipes if thread.is_alive()]
                pipes += _accept(key.fileobj, address, publish.container_port)
            else:
                _forward_datagram(key.fileobj, address, publish.container_port, udp_clients, selector)


def _accept(listener, address: str, port: int) -> list:
    """Accept a client, connect to the container, start the two copying threads (returned)."""
    import threading

    try:
        client, _ = listener.accept()
    except OSError:
        return []
    try:
        upstream = socket.create_connection((address, port), timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()  # nothing listens in the container: the client sees the connection close
        return []
    ends = [2]  # directions still running; the last one to end closes both sockets
    lock = threading.Lock()
    threads = [threading.Thread(target=_pipe, args=(source, target, ends, lock), daemon=True)
               for source, target in ((client, upstream), (upstream, client))]
    for thread in threads:
        thread.start()
    return threads


def _pipe(source, target, ends: list, lock) -> None:
    """Copy one direction of a TCP connection, then pass its end on (shutdown SHUT_WR)."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    with lock:
        ends[0] -= 1
        last = ends[0] == 0
    if last:
        source.close()
        target.close()


def _forward_datagram(listener, address: str, port: int, clients: dict, selector) -> None:
    import selectors

    try:
        data, client = listener.recvfrom(65535)
    except OSError:
        return
    upstream = clients.get((listener.fileno(), client))
    if upstream is None:
        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        upstream.connect((address, port))
        clients[(listener.fileno(), client)] = upstream
        selector.register(upstream, selectors.EVENT_READ, (listener, client, upstream))
    try:
        upstream.send(data)
    except OSError:
        pass
