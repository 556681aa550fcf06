"""Demo "network": the seed's "Network" session, asserted.

    > ip a                         # host: every interface
    > moby-dick /bin/bash
    > ip a                         # inside: only lo, DOWN

Reads the host's real network namespace (nothing is changed), and probes the running container's
namespace from outside: a forked child ``setns``'s into it and asks the kernel (``if_nameindex``,
``SIOCGIFFLAGS``), which is what ``ip a`` does too.
"""

from __future__ import annotations

from .. import probe
from ..runner import start
from ..spec import ContainerSpec
from . import Section, claim, require, split_marked

TITLE = "Network: a network namespace gives the container its own devices (only lo, down)"
INTRO = ("The container runs `ip a` and then waits while the kernel is asked, from outside, which "
         "devices its network namespace has and whether they are up. The control shares the host's.")
SCRIPT = "echo '@@ip'; ip a; echo '@@sysfs'; ls /sys/class/net; exec sleep 60"


def requirements():
    require(tools=("ip", "sh", "sleep"))


def _observe(share) -> dict:
    with start(ContainerSpec(("sh", "-c", SCRIPT), share=frozenset(share)), capture=True) as container:
        container.wait_for_exec("sleep")  # the script's output is written by then
        devices = probe.interfaces_of(container.pid)
        names = probe.interface_names(container.pid)
        container.kill()
        result = container.wait(timeout=10)
    parts = split_marked(result.text)
    return {"net": str(result.namespaces["net"]), "ip_a": parts.get("ip", ""),
            "sysfs": parts.get("sysfs", "").split(), "proc_net_dev": names,
            "devices": [(d.name, d.up) for d in devices]}


def gather() -> dict:
    host_devices = probe.interfaces()
    return {"host_net": str(probe.namespace_id("self", "net")),
            "host_devices": [(d.name, d.up) for d in host_devices],
            "host_proc_net_dev": probe.interface_names("self"),
            "isolated": _observe(()), "control": _observe({"net"})}


def claims(ev):
    iso, ctl, host = ev["isolated"], ev["control"], [tuple(d) for d in ev["host_devices"]]
    devices = [tuple(d) for d in iso["devices"]]
    return [
        claim("the container has its own network namespace", iso["net"] != ev["host_net"],
              f"{iso['net']} vs host {ev['host_net']}"),
        claim("its only device is lo", [name for name, _ in devices] == ["lo"] and iso["proc_net_dev"] == ["lo"],
              f"if_nameindex: {devices}; /proc/<pid>/net/dev: {iso['proc_net_dev']}"),
        claim("lo is DOWN", devices == [("lo", False)], f"{devices}"),
        claim("`ip a` inside shows only lo, state DOWN",
              "lo:" in iso["ip_a"] and "state DOWN" in iso["ip_a"] and "2:" not in iso["ip_a"],
              iso["ip_a"].splitlines()[0] if iso["ip_a"] else "(no output)"),
        claim("the host has something the container lacks", host != devices, f"host: {host}"),
        claim("control --network host: the container is in the host's network namespace",
              ctl["net"] == ev["host_net"], f"{ctl['net']} vs host {ev['host_net']}", control=True),
        claim("control --network host: the container sees every host device (the leak)",
              [tuple(d) for d in ctl["devices"]] == host, f"{ctl['devices']}", control=True),
    ]


def story(ev):
    iso, ctl = ev["isolated"], ev["control"]
    show = lambda devices: ", ".join(f"{n} ({'UP' if up else 'DOWN'})" for n, up in devices)  # noqa: E731
    return [
        Section("moby-dick sh -c 'ip a'", [
            ("network namespace", ev["host_net"], iso["net"]),
            ("devices (kernel: if_nameindex + SIOCGIFFLAGS)", show(ev["host_devices"]), show(iso["devices"])),
            ("/sys/class/net", "", " ".join(iso["sysfs"])),
        ], note="/sys/class/net inside still lists the host's devices: sysfs shows the namespace that "
                "mounted it, and without a filesystem jail that is the host's. Ask the kernel instead."),
        Section("negative control: moby-dick --network host ...", [
            ("network namespace", ev["host_net"], ctl["net"]),
            ("devices", show(ev["host_devices"]), show(ctl["devices"])),
        ]),
    ]


def transcripts(ev):
    return {"inside the container": "> ip a\n" + ev["isolated"]["ip_a"].rstrip()}
