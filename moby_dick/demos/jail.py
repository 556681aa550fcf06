"""Demo "jail": the seed's missing filesystem jail, built with pivot_root, and why chroot is not one.

The container's root is a busybox rootfs (``moby-dick mkrootfs``). Evidence comes from inside: a
Python function runs as the container's process (``ContainerSpec.function``) and reports what ``/``
holds, whether a file made on the host is reachable, and what the classic chroot escape reaches. The
negative control, ``--jail chroot``, enters the same rootfs with a plain ``chroot``: the escape climbs
out to the host's root.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..mkrootfs import mkrootfs
from ..runner import run
from ..spec import ContainerSpec
from . import CannotRun, Section, claim, require

TITLE = "Filesystem jail: pivot_root into a rootfs leaves the host unreachable; chroot does not"
INTRO = ("The container runs in a busybox rootfs. From inside it lists /, looks for a file made on the host, "
         "writes to /, then tries the classic chroot escape: chroot into a subdirectory without entering it, "
         "climb with '..', chroot again. The control enters the same rootfs with a plain chroot.")


def requirements():
    require()
    if not shutil.which("busybox"):
        raise CannotRun("needs busybox-static for the rootfs (apt-get install busybox-static)")


def _look_around(marker: str) -> dict:
    view = {"root": sorted(os.listdir("/")), "marker_reachable": os.path.exists(marker)}
    with open("/written-inside", "w") as file:
        file.write("discarded at exit")
    os.makedirs("/tmp/deeper", exist_ok=True)
    os.chroot("/tmp/deeper")  # the working directory stays outside the new root...
    for _ in range(100):
        os.chdir("..")  # ...so ".." climbs, until the real root of the mount namespace
    os.chroot(".")
    view["after_escape"] = sorted(os.listdir("/"))
    view["marker_after_escape"] = os.path.exists(marker)
    return view


def _tree(root: str) -> list:
    return sorted((os.path.relpath(os.path.join(d, n), root), os.lstat(os.path.join(d, n)).st_mtime_ns)
                  for d, dirs, files in os.walk(root) for n in dirs + files)


def gather() -> dict:
    workdir = tempfile.mkdtemp(prefix="moby-dick-demo-")
    try:
        rootfs, marker = os.path.join(workdir, "rootfs"), os.path.join(workdir, "host-only-marker")
        mkrootfs(rootfs, "busybox")
        with open(marker, "w") as file:
            file.write("on the host")
        before = _tree(rootfs)
        jailed = run(ContainerSpec((), rootfs=rootfs, function=lambda: _look_around(marker)))
        chrooted = run(ContainerSpec((), rootfs=rootfs, jail="chroot", function=lambda: _look_around(marker)))
        ls = run(["ls", "/"], capture=True, rootfs=rootfs)
        return {"rootfs_listing": sorted(os.listdir(rootfs)), "host_listing": sorted(os.listdir("/")),
                "marker": marker, "jailed": jailed.value, "chrooted": chrooted.value,
                "rootfs_unchanged": _tree(rootfs) == before, "ls": ls.text,
                "mnt": str(jailed.namespaces["mnt"])}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def claims(ev):
    jailed, chrooted = ev["jailed"], ev["chrooted"]
    return [
        claim("inside, / is the rootfs", jailed["root"] == ev["rootfs_listing"], " ".join(jailed["root"])),
        claim("a file on the host is unreachable", not jailed["marker_reachable"], ev["marker"]),
        claim("the chroot escape fails: '..' of the new root is the root", not jailed["marker_after_escape"]
              and sorted(jailed["after_escape"]) == sorted(ev["rootfs_listing"] + ["written-inside"]),
              " ".join(jailed["after_escape"])),
        claim("what the container wrote to / never reached the rootfs directory", ev["rootfs_unchanged"],
              "the rootfs tree is the same before and after"),
        # (/mytmp may come and go on the host while other containers run: it is left out of the comparison)
        claim("control --jail chroot: the escape reaches the host's root (the leak)",
              set(ev["host_listing"]) - {"mytmp"} == set(chrooted["after_escape"]) - {"mytmp"}
              and chrooted["marker_after_escape"],
              " ".join(chrooted["after_escape"]), control=True),
    ]


def story(ev):
    jailed, chrooted = ev["jailed"], ev["chrooted"]
    return [
        Section("moby-dick --rootfs ROOTFS (pivot_root)", [
            ("/ lists", " ".join(ev["host_listing"]), " ".join(jailed["root"])),
            ("host marker reachable?", "yes", "yes" if jailed["marker_reachable"] else "no"),
            ("after the chroot escape, / lists", "", " ".join(jailed["after_escape"])),
        ], note="pivot_root swapped the roots and the old one was detached: there is nothing above / to climb to."),
        Section("negative control: moby-dick --rootfs ROOTFS --jail chroot", [
            ("/ lists", " ".join(ev["host_listing"]), " ".join(chrooted["root"])),
            ("after the chroot escape, / lists", "", " ".join(chrooted["after_escape"])),
            ("host marker reachable after it?", "yes", "yes" if chrooted["marker_after_escape"] else "no"),
        ], note="chroot(2) only changes how / is resolved; the old root stays mounted above it (chroot(2), NOTES)."),
    ]


def transcripts(ev):
    return {"inside the container": "> ls /\n" + ev["ls"].rstrip()}
