"""--network bridge, -p and joined network namespaces, against the kernel, in a lab.

The rule of these tests: all traffic stays on loopback or between namespaces the test or moby-dick made.
Each test builds a *lab*, a network namespace of its own (``unshare --net``) with only ``lo``; every moby-dick
it runs is entered into the lab (``nsenter --net``), so the bridge, the veths and the published ports exist only
there, and nothing outside the lab can be reached even by mistake. The evidence is read with iproute2's
``ip -j`` (not moby-dick's own netlink code): the leases are the names of the veths' host ends, ``mdv`` and
the address in hex.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from moby_dick import netlink
from tests_support import wait_for

pytestmark = pytest.mark.privileged
SERVER = ("sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www")


class Lab:
    """A network namespace with lo up, held by a sleeping process; moby-dick and ip run inside it."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        self.netns = f"/proc/{self.holder.pid}/ns/net"
        wait_for(lambda: os.readlink(self.netns) != os.readlink("/proc/self/ns/net"), "the lab's namespace")
        self.ip("link", "set", "lo", "up")
        self.inode = os.stat(self.netns).st_ino
        self.names = []  # the detached containers of this lab (names are global: /run/moby-dick/containers)

    def name(self, base):
        self.names.append(f"{base}-{self.inode}")
        return self.names[-1]

    def run(self, *args, **kwargs):
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(*args), **kwargs)

    def command(self, *args):
        return ["nsenter", f"--net={self.netns}", sys.executable, "-m", "moby_dick", *args]

    def ip(self, *args):
        done = subprocess.run(["nsenter", f"--net={self.netns}", "ip", *args], capture_output=True, check=True)
        return json.loads(done.stdout) if "-j" in args and done.stdout.strip() else None

    def links(self):
        return {link["ifname"]: link for link in self.ip("-j", "link", "show")}

    def leases(self):
        """The addresses held in the lab: one veth each, named mdv + the address in hex (read with ip)."""
        import socket

        return sorted(socket.inet_ntoa(bytes.fromhex(name[3:])) for name in self.links() if name.startswith("mdv"))

    def connect(self, port, protocol="tcp"):
        """A socket of the lab, connected to the lab's own 127.0.0.1:port."""
        import socket

        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(fileno=netlink.socket_in(self.netns, socket.AF_INET, kind).detach())
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        return sock

    def close(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def lab(rootfs):
    host_before = _host_network()
    the_lab = Lab()
    yield the_lab
    for name in the_lab.names:
        the_lab.run("rm", "-f", name)
    the_lab.run("cleanup")  # the bridge stays after the last container, like docker0, until cleanup
    the_lab.close()
    assert _host_network() == host_before  # nothing ever touched the host's own namespace


def _host_network():
    def read(*args):
        return subprocess.run(["ip", "-j", *args], capture_output=True, check=True).stdout
    return read("link", "show"), read("addr", "show"), read("route", "show")


def _start_server(lab, rootfs, *extra):
    name = lab.name("web")
    started = lab.run("run", "-d", "--name", name, "--network", "bridge", "--rootfs", rootfs, *extra, *SERVER)
    assert started.returncode == 0, started.stderr
    return name


def test_two_containers_on_the_bridge_exchange_data_and_one_on_none_cannot(lab, rootfs):
    _start_server(lab, rootfs)
    server_address = lab.leases()[0]
    links = lab.links()
    veths = [name for name, link in links.items() if link.get("master") == "moby-dick0"]
    assert "moby-dick0" in links and len(veths) == 1  # the bridge, and the host end of one veth on it
    bridge_addresses = lab.ip("-j", "addr", "show", "dev", "moby-dick0")[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in bridge_addresses if a["family"] == "inet"] == [("10.213.0.1", 24)]
    client = lab.run("run", "--network", "bridge", "--rootfs", rootfs, "sh", "-c",
                     f"ip -o -4 addr show eth0; ip route; wget -q -O - http://{server_address}/index.html")
    lines = client.stdout.decode().splitlines()
    assert client.returncode == 0 and lines[-1] == "hello-from-web", client.stderr
    assert "inet 10.213.0.3/24" in lines[0] and "default via 10.213.0.1 dev eth0" in lines[1]
    # the control: the seed's default network (only lo, DOWN) reaches nothing
    alone = lab.run("run", "--rootfs", rootfs, "sh", "-c", f"echo x | nc {server_address} 80; echo rc=$?")
    assert b"rc=1" in alone.stdout and b"hello-from-web" not in alone.stdout
    # the client's address went back when its namespace died (the kernel deletes the veth in the background)
    wait_for(lambda: lab.leases() == [server_address], "the client's veth to go")


def test_a_published_port_answers_on_the_labs_loopback(lab, rootfs):
    web = _start_server(lab, rootfs, "-p", "18080:80")
    wait_for(lambda: b"httpd" in lab.run("exec", web, "ps").stdout, "httpd")
    with lab.connect(18080) as sock:
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.") and answer.endswith(b"hello-from-web\n")
    # the control: a port nobody published is refused
    with pytest.raises(ConnectionRefusedError):
        lab.connect(18081)


def test_udp_is_forwarded_too(lab):
    server = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 81));" \
             " data, peer = s.recvfrom(100); s.sendto(b'echo:' + data, peer)"
    process = subprocess.Popen(lab.command("run", "--network", "bridge", "-p", "18082:81/udp", "/usr/bin/python3",
                                           "-c", server))
    try:
        wait_for(lambda: lab.leases(), "the container's address")
        deadline = time.monotonic() + 20
        answer = None
        with lab.connect(18082, "udp") as sock:
            sock.settimeout(0.5)
            while answer is None and time.monotonic() < deadline:
                # until the forwarder has bound (before: ICMP port unreachable, "refused") and the server
                # inside listens (before: the datagram is lost, a timeout)
                try:
                    sock.send(b"ping")
                    answer = sock.recv(100)
                except (TimeoutError, ConnectionRefusedError):
                    time.sleep(0.05)
        assert answer == b"echo:ping"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_joining_another_containers_namespace_by_name_and_by_path(lab, rootfs):
    web = _start_server(lab, rootfs)
    pid = json.loads(lab.run("inspect", web).stdout)["pid"]
    theirs = os.readlink(f"/proc/{pid}/ns/net")
    by_name = lab.run("run", "--network", f"container:{web}", "--rootfs", rootfs, "readlink", "/proc/self/ns/net")
    by_path = lab.run("run", "--network", f"ns:/proc/{pid}/ns/net", "--rootfs", rootfs, "readlink", "/proc/self/ns/net")
    assert by_name.stdout.decode().strip() == theirs == by_path.stdout.decode().strip()
    alone = lab.run("run", "--rootfs", rootfs, "readlink", "/proc/self/ns/net")
    assert alone.stdout.decode().strip() not in (theirs, os.readlink(lab.netns))  # the control: its own


def test_a_port_in_use_is_one_line_125_and_leaves_nothing(lab, rootfs):
    import socket

    with socket.socket(fileno=netlink.socket_in(lab.netns, socket.AF_INET, socket.SOCK_STREAM).detach()) as taken:
        taken.bind(("127.0.0.1", 18083))
        taken.listen(1)
        before = set(lab.links())
        done = lab.run("run", "--network", "bridge", "-p", "18083:80", "--rootfs", rootfs, "true")
        assert done.returncode == 125 and done.stderr.count(b"\n") == 1 and b"Address already in use" in done.stderr
    assert set(lab.links()) == before and "mdv" not in str(before) and lab.leases() == []


def test_sigkill_of_moby_dick_frees_the_address_and_the_veth_and_cleanup_takes_the_bridge(lab, rootfs):
    process = subprocess.Popen(lab.command("run", "--network", "bridge", "--rootfs", rootfs, "sleep", "60"))
    wait_for(lambda: lab.leases() and any(n.startswith("mdv") for n in lab.links()), "the container on the bridge")
    process.send_signal(signal.SIGKILL)
    process.wait()
    # PID 1 dies of PDEATHSIG, its namespace with it, and the kernel deletes the veth: the lease is gone
    wait_for(lambda: lab.leases() == [] and set(lab.links()) == {"lo", "moby-dick0"}, "the lease and the veth to go")
    cleaned = lab.run("cleanup")
    assert cleaned.returncode == 0 and b"removed bridge moby-dick0" in cleaned.stdout
    assert set(lab.links()) == {"lo"} and not os.path.exists("/run/moby-dick/network")  # no file ever held one


def test_containers_started_at_once_make_one_bridge_and_get_different_addresses(lab, rootfs):
    # no bridge yet: each of them may try to make it, and they race for the lowest free address
    script = "ip -o -4 addr show eth0 | grep -o '10\\.213\\.0\\.[0-9]*'; sleep 1"
    started = [subprocess.Popen(lab.command("run", "--network", "bridge", "--rootfs", rootfs, "sh", "-c", script),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [process.communicate(timeout=60) for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], [err for _, err in results]
    addresses = [out.decode().strip() for out, _ in results]
    assert len(set(addresses)) == 3 and all(a.startswith("10.213.0.") for a in addresses), addresses
    assert [name for name in lab.links() if name == "moby-dick0"] == ["moby-dick0"]  # one bridge, made once
