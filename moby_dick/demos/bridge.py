"""Demo "bridge": two containers on moby-dick0 talk; a published port answers on 127.0.0.1; one on none cannot.

Everything happens in a *lab*: a network namespace (and mount namespace) of the demo's own, with only ``lo``,
so the bridge, the veths and the port exist nowhere else and no traffic can leave. A server container (a Python
function inside, port 80) and a client container on the bridge; the client connects to the server's address;
the lab connects to its 127.0.0.1:8080, published to the server's port 80. The control: a client with
``--network none`` (only lo, DOWN) gets "Network is unreachable".

Evidence from the kernel, read with iproute2 (``ip -j``, netlink), not with moby-dick's own netlink code:
the lab's links (the bridge, the veth host ends and their master), each container's namespace inode, its
eth0 address and its default route (read from inside its namespace by a forked child that ``setns``'s in).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from . import Section, claim, require

TITLE = "Networking: a veth pair per container, a bridge between them, a published port on loopback"
INTRO = ("In a lab network namespace, a server and a client container join the bridge moby-dick0; the client "
         "reaches the server by address, the lab reaches it on 127.0.0.1:8080 (-p 8080:80). The control: a "
         "client with --network none.")
PORT = 8080


def requirements():
    require(tools=("ip",))


def _ip(*args) -> list:
    done = subprocess.run(["ip", "-j", *args], capture_output=True, check=True)
    return json.loads(done.stdout or b"[]")


def _links() -> list:
    return sorted(link["ifname"] for link in _ip("link", "show"))


def _inside_view() -> dict:
    """Run in the container's network namespace: its links, IPv4 addresses and routes, as ip -j reports."""
    addresses = {entry["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in entry["addr_info"] if a["family"] == "inet"]
                 for entry in _ip("addr", "show")}
    routes = [f"{r['dst']} via {r['gateway']}" if "gateway" in r else r["dst"] for r in _ip("route", "show")]
    peers = {link["ifname"]: link.get("link_index") for link in _ip("link", "show")}
    return {"addresses": addresses, "routes": routes, "netns": os.readlink("/proc/self/ns/net"),
            "eth0_peer_index": peers.get("eth0")}


# The server is a program (a function container would hold start() until it returns): it answers two
# connections with its hostname and prints each peer's address.
SERVER = """
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 80))
server.listen(4)
for _ in range(2):
    connection, peer = server.accept()
    connection.sendall(("hello from " + socket.gethostname()).encode())
    connection.close()
    print(peer[0], flush=True)
"""


def _fetch(address: str | None, port: int, timeout: float = 10.0) -> str:
    """Connect to address:port (retrying while the server starts); the answer, or the error's text."""
    if address is None:
        return "the server has no address"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=2) as connection:
                return connection.recv(100).decode()
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                return "Connection refused"
            time.sleep(0.05)
        except OSError as error:
            return error.strerror or str(error)


def _scenario() -> dict:
    from ..forkcall import call_in_namespaces
    from ..network import address_of
    from ..runner import run, start
    from ..spec import ContainerSpec

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)  # the lab's own loopback
    before = _links()
    server_spec = ContainerSpec((sys.executable, "-c", SERVER), hostname="server", network="bridge",
                                publish=(f"{PORT}:80",))
    with start(server_spec, capture=True) as server:
        address = address_of(server.pid)
        links = {link["ifname"]: link for link in _ip("link", "show")}
        bridge_address = [f"{a['local']}/{a['prefixlen']}" for entry in _ip("addr", "show") if entry["ifname"] == "moby-dick0"
                          for a in entry["addr_info"] if a["family"] == "inet"]
        server_view = call_in_namespaces(server.pid, ("net",), _inside_view)
        client = run(ContainerSpec((), hostname="client", network="bridge",
                                   function=lambda: (_fetch(address, 80), _inside_view())))
        published = _fetch("127.0.0.1", PORT)
        alone = run(ContainerSpec((), hostname="alone", function=lambda: (_fetch(address, 80, 1), _inside_view())))
        peers = server.wait(timeout=5).text.split()  # both connections were made by now
    deadline = time.monotonic() + 10  # the kernel deletes a dead namespace's veth in the background
    while any(name.startswith("mdv") for name in _links()) and time.monotonic() < deadline:
        time.sleep(0.02)
    after = _links()
    from ..network import sweep

    removed = sweep(everything=True)  # what `moby-dick cleanup` does: the bridge goes once nobody holds a lease
    cleaned = _links()
    return {"lab_netns": os.readlink("/proc/self/ns/net"), "before": before, "after": after, "cleaned": cleaned,
            "cleanup_removed": removed,
            "links": {name: {"master": link.get("master"), "kind": link.get("link_type"), "state": link.get("operstate"),
                             "index": link.get("ifindex")}
                      for name, link in links.items()},
            "bridge_address": bridge_address, "server_address": address, "server": server_view,
            "client_answer": client.value[0], "client": client.value[1], "published_answer": published,
            "alone_answer": alone.value[0], "alone": alone.value[1], "server_peers": peers}


def gather() -> dict:
    from ..forkcall import in_lab

    return in_lab(_scenario, kinds=("uts", "ipc", "mnt", "net"))


def claims(ev):
    veths = [name for name, link in ev["links"].items() if link["master"] == "moby-dick0"]
    client_address = (ev["client"]["addresses"].get("eth0") or ["?"])[0].split("/")[0]
    return [
        claim("the bridge moby-dick0 exists in the lab with the subnet's first address",
              "moby-dick0" in ev["links"] and ev["bridge_address"] == ["10.213.0.1/24"], f"{ev['bridge_address']}"),
        claim("the server's eth0 is one end of a veth whose other end is a port of moby-dick0",
              len(veths) == 1 and ev["links"][veths[0]]["index"] == ev["server"]["eth0_peer_index"],
              f"{veths}: ifindex {[ev['links'][v]['index'] for v in veths]}, eth0's peer {ev['server']['eth0_peer_index']}"),
        claim("each has its own network namespace", len({ev["lab_netns"], ev["server"]["netns"],
                                                          ev["client"]["netns"]}) == 3,
              f"lab {ev['lab_netns']}, server {ev['server']['netns']}, client {ev['client']['netns']}"),
        claim("eth0 inside has the leased address and a default route to the bridge",
              ev["server"]["addresses"].get("eth0") == [f"{ev['server_address']}/24"]
              and "default via 10.213.0.1" in ev["server"]["routes"], f"{ev['server']}"),
        claim("the client got the server's reply across the bridge",
              ev["client_answer"] == "hello from server", ev["client_answer"]),
        claim("the published port answered on the lab's 127.0.0.1",
              ev["published_answer"] == "hello from server", ev["published_answer"]),
        claim("the server saw the client's own address, and the forwarder's for the published port",
              ev["server_peers"][:1] == [client_address], f"{ev['server_peers']}"),
        claim("after the containers, their veths went with their namespaces; the bridge stays, like docker0",
              ev["after"] == sorted(ev["before"] + ["moby-dick0"]), f"before {ev['before']}, after {ev['after']}"),
        claim("moby-dick cleanup removes the bridge once no container holds an address",
              ev["cleaned"] == ev["before"] and ev["cleanup_removed"] == ["moby-dick0"],
              f"removed {ev['cleanup_removed']}; now {ev['cleaned']}"),
        claim("control --network none: only lo, and the server is unreachable",
              list(ev["alone"]["addresses"]) == ["lo"] and ev["alone_answer"] == "Network is unreachable",
              f"{ev['alone_answer']}; devices {list(ev['alone']['addresses'])}", control=True),
    ]


def story(ev):
    links = ev["links"]
    return [
        Section("the lab (a network namespace standing in for the host)", [
            (name, f"{link['kind']}, {link['state']}", f"master {link['master']}" if link["master"] else "")
            for name, link in links.items()], columns=("device", "master")),
        Section("inside each container (ip -j from its namespace)", [
            ("network namespace", ev["server"]["netns"], ev["client"]["netns"]),
            ("eth0", " ".join(ev["server"]["addresses"].get("eth0", [])),
             " ".join(ev["client"]["addresses"].get("eth0", []))),
            ("routes", "; ".join(ev["server"]["routes"]), "; ".join(ev["client"]["routes"])),
        ], columns=("server", "client")),
        Section("who reached whom", [
            ("client -> server:80 over the bridge", "", ev["client_answer"]),
            ("lab 127.0.0.1:8080 -> forwarder -> server:80", "", ev["published_answer"]),
            ("--network none -> server:80 (control)", "", ev["alone_answer"]),
        ]),
    ]


def transcripts(ev):
    return {}
