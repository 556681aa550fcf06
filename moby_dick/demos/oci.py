"""Demo "oci": the OCI lifecycle: `create` leaves PID 1 waiting in front of execve, `start` lets it go.

A bundle (a busybox rootfs and the config.json `moby-dick-oci spec` writes) whose program leaves a
marker file and sleeps. Evidence from the kernel at each step: PID 1 exists after `create`, in its own
namespaces, and is still the runtime (its /proc/<pid>/exe is the interpreter, the marker is absent: the
program has not run); after `start` its exe is the program's and the marker is there; after `kill` the
derived status is "stopped", after `delete` nothing is left. The control creates the same bundle
without the start gate: the program runs at `create` already, which is what the gate exists to prevent
(an engine must be able to set up networking, cgroups, hooks between create and start).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

from ..errors import MobyError
from . import Section, claim, require

TITLE = "OCI lifecycle: create stops in front of execve, start lets the program run"
INTRO = ("moby-dick-oci's lifecycle, driven from Python exactly as an engine drives the command line: create, "
         "state, start, kill, delete, with the kernel's word at each step. The control has no start gate.")


def requirements():
    require(tools=("busybox",))


def _bundle(directory: str) -> str:
    from ..mkrootfs import mkrootfs
    from ..oci_cli import default_spec

    mkrootfs(os.path.join(directory, "rootfs"), "busybox")
    document = default_spec()
    document["process"].update({"terminal": False, "args": ["sh", "-c", "touch /ran; exec sleep 30"]})
    document["root"]["readonly"] = False  # the program leaves its marker in the rootfs
    with open(os.path.join(directory, "config.json"), "w") as file:
        json.dump(document, file)
    return directory


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return "(gone)"


def _lifecycle(root: str, bundle: str, container_id: str, gate: bool) -> dict:
    from .. import lifecycle
    from ..namespaces import namespace_ids

    marker = os.path.join(bundle, "rootfs", "ran")
    if os.path.exists(marker):
        os.unlink(marker)
    began = time.monotonic()
    state = lifecycle.create(root, container_id, bundle, gate=gate)
    seconds = {"create": time.monotonic() - began}
    pid = state.pid
    from ..state import read_stat

    parent = int((read_stat(pid) or ["?", "0"])[1])
    time.sleep(0.2)  # the control's program, which nothing holds, has all the time it needs to run
    after_create = {"status": lifecycle.load(root, container_id).status(), "exe": _exe(pid),
                    "ran": os.path.exists(marker), "mnt": str(namespace_ids(pid).get("mnt")),
                    "parent_is_runtime": parent == os.getpid()}
    after_start = {}
    if gate:
        began = time.monotonic()
        try:
            lifecycle.start(root, container_id, timeout=5)
        except MobyError as error:  # e.g. nothing waited at the gate: a claim fails, the demo goes on
            after_start["error"] = str(error)
        seconds["start"] = time.monotonic() - began
        deadline = time.monotonic() + 5
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
        after_start.update({"status": lifecycle.load(root, container_id).status(), "exe": _exe(pid),
                            "ran": os.path.exists(marker)})
    if lifecycle.load(root, container_id).status() != "stopped":
        lifecycle.kill(root, container_id, 9)
    deadline = time.monotonic() + 5
    while lifecycle.load(root, container_id).status() != "stopped" and time.monotonic() < deadline:
        time.sleep(0.01)
    after_kill = lifecycle.load(root, container_id).status()
    began = time.monotonic()
    lifecycle.delete(root, container_id)
    seconds["delete"] = time.monotonic() - began
    return {"pid": pid, "created": after_create, "started": after_start, "killed": after_kill,
            "deleted": not os.path.exists(os.path.join(root, container_id)), "seconds": seconds}


def gather() -> dict:
    from ..namespaces import namespace_ids

    work = tempfile.mkdtemp(prefix="moby-dick-oci-demo.")
    try:
        bundle = _bundle(os.path.join(work, "bundle"))
        root = os.path.join(work, "state")
        unique = f"{os.getpid()}-{os.urandom(3).hex()}"  # the cgroups are named after the ids: no collisions
        gated = _lifecycle(root, bundle, f"demo-{unique}", gate=True)
        control = _lifecycle(root, bundle, f"demo-control-{unique}", gate=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"gated": gated, "control": control, "host_mnt": str(namespace_ids("self")["mnt"]),
            "python": os.path.realpath(os.sys.executable)}


def claims(ev):
    gated, control = ev["gated"], ev["control"]
    created, started = gated["created"], gated["started"]
    return [
        claim("after create: status created, PID 1 in its own mount namespace", created["status"] == "created"
              and created["mnt"] != ev["host_mnt"], f"{created['status']}; mnt {created['mnt']} vs {ev['host_mnt']}"),
        claim("after create the program has not run: PID 1 is still the runtime, waiting at the gate",
              not created["ran"] and not created["exe"].endswith("busybox"), f"exe {created['exe']}, marker {created['ran']}"),
        claim("after start the same PID 1 runs the program", started.get("status") == "running"
              and started.get("exe", "").endswith("busybox") and started.get("ran"), f"exe {started.get('exe')}"),
        claim("kill, then the derived status is stopped; delete leaves nothing", gated["killed"] == "stopped"
              and gated["deleted"], f"{gated['killed']}, state removed: {gated['deleted']}"),
        claim("control without the gate: the program already ran at create, before any start",
              control["created"]["ran"] and control["created"]["exe"].endswith("busybox"),
              f"marker at create: {control['created']['ran']}", control=True),
    ]


def story(ev):
    gated, control = ev["gated"], ev["control"]
    return [
        Section("moby-dick-oci create / start", [
            ("after create: status", "", gated["created"]["status"]),
            ("after create: /proc/PID1/exe", "", gated["created"]["exe"]),
            ("after create: the program ran?", "", str(gated["created"]["ran"])),
            ("after start: /proc/PID1/exe", "", gated["started"].get("exe", "")),
            ("after start: the program ran?", "", str(gated["started"].get("ran"))),
            ("after kill: status", "", gated["killed"]),
        ]),
        Section("negative control: no start gate", [
            ("after create: /proc/PID1/exe", "", control["created"]["exe"]),
            ("after create: the program ran?", "", str(control["created"]["ran"])),
        ]),
    ]


def transcripts(ev):
    return {}
