"""Demo "mount": the seed's "Filesystem" session, asserted, and the seed's propagation bug shown live.

    > moby-dick /bin/bash
    > mount
    ...
    none on /mytmp type tmpfs (rw,relatime)

The seed never made ``/`` private. On a systemd machine ``/`` is a *shared* mount, so its "private"
tmpfs propagated to the host and stayed after the container exited. This machine's ``/`` may be
private, so the demo builds a shared mount itself, in a lab mount namespace (a copy of the host's
mount table that dies with the demo), and mounts a tmpfs under it from the container: once with
moby-dick's fix, once with ``--propagation unchanged`` (the seed's behaviour, the negative control).
"""

from __future__ import annotations

import os
import tempfile

from .. import probe, syscalls
from ..forkcall import in_lab
from ..runner import start
from ..spec import ContainerSpec
from . import Section, claim, require, split_marked

TITLE = "Filesystem: a mount namespace, made private, keeps the container's mounts away from the host"
INTRO = ("The container mounts the seed's tmpfs on /mytmp and one more under a *shared* mount that the "
         "host made. With moby-dick's `mount --make-rprivate /` first, the host sees neither; without it "
         "(the seed's bug) the second one appears on the host and stays after the container exits.")
SCRIPT = "echo '@@mount'; mount | grep moby-dick; exec sleep 60"
LAB_SOURCE = "moby-dick-lab"


def requirements():
    require(tools=("mount", "sh", "sleep"))


def _row(entries) -> list[str]:
    return [f"{e.source} on {e.mount_point} type {e.fstype} {' '.join(e.propagation) or 'private'}"
            for e in entries]


def _observe(inner: str, propagation: str) -> dict:
    spec = ContainerSpec(("sh", "-c", SCRIPT), tmpfs=(inner,), propagation=propagation)
    watched = ("/mytmp", inner)
    with start(spec, capture=True) as container:
        container.wait_for_exec("sleep")  # the script's output is written by then
        inside = [e for e in probe.mounts(container.pid) if e.mount_point in watched]
        host_during = [e for e in probe.mounts() if e.mount_point in watched]
        container.kill()
        result = container.wait(timeout=10)
    host_after = [e for e in probe.mounts() if e.mount_point in watched]
    return {"mnt": str(result.namespaces["mnt"]), "mount_output": split_marked(result.text).get("mount", ""),
            "inside": _row(inside), "host_during": _row(host_during), "host_after": _row(host_after)}


def _with_shared_mount(base: str, scenario, args) -> dict:
    """In the lab: a tmpfs on ``base`` made *shared*, as systemd makes every mount, with an empty
    ``base/inner`` for the container to mount on; then ``scenario(base, inner, *args)``."""
    syscalls.KERNEL.mount(LAB_SOURCE, base, "tmpfs", 0, "mode=755")
    syscalls.KERNEL.mount(None, base, None, syscalls.MS_SHARED, None)
    inner = os.path.join(base, "inner")
    os.mkdir(inner)
    return scenario(base, inner, *args)


def in_lab_with_shared_mount(scenario, *args) -> dict:
    """Run ``scenario`` in a lab mount namespace (a copy of the host's that dies with it) on a shared
    mount built for it: nothing it mounts can reach this machine's own mount table."""
    base = tempfile.mkdtemp(prefix="moby-dick-demo-")
    try:
        return in_lab(_with_shared_mount, base, scenario, args, kinds=("mnt",))
    finally:
        os.rmdir(base)  # the lab's mounts on it died with the lab


def _scenario(base: str, inner: str) -> dict:
    return {"host_mnt": str(probe.namespace_id("self", "mnt")), "base": base, "inner": inner,
            "base_mount": _row(probe.mounts_at(base)),
            "isolated": _observe(inner, "private"), "control": _observe(inner, "unchanged")}


def gather() -> dict:
    return in_lab_with_shared_mount(_scenario)


def claims(ev):
    iso, ctl, inner = ev["isolated"], ev["control"], ev["inner"]
    in_iso = " ".join(iso["inside"])
    return [
        claim("the host's mount at the demo path is shared (as / is on systemd)",
              any("shared:" in row for row in ev["base_mount"]), f"{ev['base_mount']}"),
        claim("the container has its own mount namespace", iso["mnt"] != ev["host_mnt"],
              f"{iso['mnt']} vs host {ev['host_mnt']}"),
        claim("inside: a tmpfs on /mytmp and on the demo path",
              "on /mytmp type tmpfs" in in_iso and f"on {inner} type tmpfs" in in_iso, in_iso),
        claim("`mount` inside lists them", "on /mytmp type tmpfs" in iso["mount_output"],
              " | ".join(line for line in iso["mount_output"].splitlines() if "/mytmp" in line) or "(none)"),
        claim("the host never sees them, during or after the run",
              iso["host_during"] == [] and iso["host_after"] == [],
              f"during: {iso['host_during']}, after: {iso['host_after']}"),
        claim("control --propagation unchanged (the seed): the tmpfs appears on the host during the run",
              any(f"moby-dick on {inner}" in row for row in ctl["host_during"]), f"{ctl['host_during']}",
              control=True),
        claim("control: and stays on the host after the container exited (the leak)",
              any(f"moby-dick on {inner}" in row for row in ctl["host_after"]), f"{ctl['host_after']}",
              control=True),
    ]


def story(ev):
    iso, ctl = ev["isolated"], ev["control"]
    show = lambda rows: "\n".join(rows) or "(none)"  # noqa: E731
    return [
        Section(f"moby-dick --tmpfs {ev['inner']} sh -c 'mount'", [
            ("mount namespace", ev["host_mnt"], iso["mnt"]),
            ("our tmpfs mounts during the run", show(iso["host_during"]), show(iso["inside"])),
            ("after the container exited", show(iso["host_after"]), "(gone)"),
        ], note=f"The host's {ev['base']} is a shared mount: {show(ev['base_mount'])}."),
        Section("negative control: the seed's bug, --propagation unchanged", [
            ("mount namespace", ev["host_mnt"], ctl["mnt"]),
            ("our tmpfs mounts during the run", show(ctl["host_during"]), show(ctl["inside"])),
            ("after the container exited", show(ctl["host_after"]), "(gone)"),
        ], note="The leaked mount lived in a lab mount namespace and died with it."),
    ]


def transcripts(ev):
    return {"inside the container": "> mount | grep moby-dick\n" + ev["isolated"]["mount_output"].rstrip()}


# ---- the propagation experiment, for every propagation type (the lesson and the tests use it) ------

def _propagation_in_lab(base: str, inner: str, propagation: str) -> dict:
    kernel = syscalls.KERNEL
    late = os.path.join(base, "late")
    os.mkdir(late)
    spec = ContainerSpec(("sleep", "60"), tmpfs=(inner,), propagation=propagation, seed_tmpfs=False)
    with start(spec) as container:
        container_mount_on_host = bool(probe.mounts_at(inner))
        kernel.mount(LAB_SOURCE, late, "tmpfs", 0, None)  # the host mounts something after the start
        host_mount_inside = bool(probe.mounts_at(late, container.pid))
    return {"container_mount_on_host": container_mount_on_host, "host_mount_inside": host_mount_inside,
            "container_mount_on_host_after_exit": bool(probe.mounts_at(inner))}


def propagation_experiment(propagation: str) -> dict:
    """On a shared host mount: does the container's tmpfs reach the host (during, after the run), and
    does a mount the host makes after the start reach the container? Runs in a lab mount namespace."""
    return in_lab_with_shared_mount(_propagation_in_lab, propagation)
