"""Demo "ipc": the seed's "Interprocess Communication" session, asserted.

    > ipcmk -Q                     # a message queue on the host
    > moby-dick /bin/bash
    > ipcs -q                      # inside: no message queue

Also the other direction: a queue made inside is invisible outside and gone with the container.
Runs in a lab with its own IPC namespace standing in for the host, so the control's leaked queue
disappears with the lab instead of staying on this machine.
"""

from __future__ import annotations

import subprocess

from .. import probe
from ..forkcall import in_lab
from ..runner import run
from . import Section, claim, require, split_marked

TITLE = "Interprocess communication: an IPC namespace gives the container its own message queues"
INTRO = ("The host makes a System V message queue with `ipcmk -Q`. The container lists queues with "
         "`ipcs -q` and reads /proc/sysvipc/msg, makes one of its own, and exits.")
SCRIPT = ("echo '@@ipcs'; ipcs -q; echo '@@before'; cat /proc/sysvipc/msg; "
          "ipcmk -Q >/dev/null; echo '@@after'; cat /proc/sysvipc/msg")


def requirements():
    require(tools=("ipcmk", "ipcs", "sh"))


def _keys(text: str) -> list[int]:
    return [queue.key for queue in probe.parse_sysvipc_msg(text)]


def _container_view(result) -> dict:
    parts = split_marked(result.text)
    return {"ipc": str(result.namespaces["ipc"]), "ipcs": parts.get("ipcs", ""),
            "keys_before": _keys(parts.get("before", "")), "keys_after": _keys(parts.get("after", ""))}


def _scenario():
    made = subprocess.run(["ipcmk", "-Q"], capture_output=True, text=True, check=True).stdout.strip()
    host_keys = [queue.key for queue in probe.message_queues()]
    isolated = _container_view(run(["sh", "-c", SCRIPT], capture=True))
    after_isolated = [queue.key for queue in probe.message_queues()]
    control = _container_view(run(["sh", "-c", SCRIPT], capture=True, share={"ipc"}))
    after_control = [queue.key for queue in probe.message_queues()]
    return {"ipcmk": made, "host_ipc": str(probe.namespace_id("self", "ipc")), "host_keys": host_keys,
            "isolated": isolated, "host_after_isolated": after_isolated,
            "control": control, "host_after_control": after_control}


def gather() -> dict:
    return in_lab(_scenario, kinds=("ipc",))


def claims(ev):
    iso, ctl, host = ev["isolated"], ev["control"], ev["host_keys"]
    made_inside = sorted(set(iso["keys_after"]) - set(iso["keys_before"]))
    made_in_control = sorted(set(ctl["keys_after"]) - set(ctl["keys_before"]))
    return [
        claim("the host has a message queue", len(host) == 1, f"host keys {list(map(hex, host))}"),
        claim("the container has its own IPC namespace", iso["ipc"] != ev["host_ipc"],
              f"{iso['ipc']} vs host {ev['host_ipc']}"),
        claim("the host's queue is invisible inside", iso["keys_before"] == [],
              f"container saw {list(map(hex, iso['keys_before']))}"),
        claim("`ipcmk -Q` inside makes a queue the container sees", len(made_inside) == 1,
              f"new inside: {list(map(hex, made_inside))}"),
        claim("that queue never reaches the host", ev["host_after_isolated"] == host,
              f"host keys after: {list(map(hex, ev['host_after_isolated']))}"),
        claim("control --ipc host: the container is in the host's IPC namespace",
              ctl["ipc"] == ev["host_ipc"], f"{ctl['ipc']} vs host {ev['host_ipc']}", control=True),
        claim("control --ipc host: the container sees the host's queue", ctl["keys_before"] == host,
              f"container saw {list(map(hex, ctl['keys_before']))}", control=True),
        claim("control --ipc host: the queue made inside stays on the host after exit (the leak)",
              len(made_in_control) == 1 and set(made_in_control) <= set(ev["host_after_control"]),
              f"host keys after: {list(map(hex, ev['host_after_control']))}", control=True),
    ]


def story(ev):
    iso, ctl = ev["isolated"], ev["control"]
    hexes = lambda keys: ", ".join(map(hex, keys)) or "(none)"  # noqa: E731
    return [
        Section("host: ipcmk -Q, then moby-dick sh -c 'ipcs -q; ipcmk -Q; ...'", [
            ("IPC namespace", ev["host_ipc"], iso["ipc"]),
            ("queues at start", hexes(ev["host_keys"]), hexes(iso["keys_before"])),
            ("queues after the container's ipcmk -Q", hexes(ev["host_after_isolated"]), hexes(iso["keys_after"])),
        ], note="The host is a lab IPC namespace: its queues vanish with it."),
        Section("negative control: moby-dick --ipc host ...", [
            ("IPC namespace", ev["host_ipc"], ctl["ipc"]),
            ("queues at start", hexes(ev["host_keys"]), hexes(ctl["keys_before"])),
            ("queues after the container exited", hexes(ev["host_after_control"]), "(exited)"),
        ]),
    ]


def transcripts(ev):
    return {"on the host": f"> ipcmk -Q\n{ev['ipcmk']}",
            "inside the container": "> ipcs -q\n" + ev["isolated"]["ipcs"].rstrip()}
