"""Demo "userns": root inside is nobody outside.

The same script runs with ``--userns private`` and, as the negative control, with ``--userns host``:
it reports its uid inside and its uid_map, creates a file on a volume, and tries to write into a
directory the host's root owns. Evidence from the kernel, read from the host: PID 1's ``Uid:`` in
``/proc/<pid>/status``, and the owner of the file the container made.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from . import CannotRun, Section, claim, require

TITLE = "User namespace: the container's root is an unprivileged id on the host"
INTRO = ("A shell reports its uid and uid_map, makes a file on a volume and tries a root-owned host directory; the host "
         "reads PID 1's uid and the file's owner. The control shares the host's user namespace.")
SCRIPT = ("id -u; cat /proc/self/uid_map; touch /data/made; touch /ro/x 2>/dev/null && echo wrote || echo refused; "
          "exec sleep 1")


def requirements():
    require()
    if not shutil.which("busybox"):
        raise CannotRun("needs busybox-static for the rootfs (apt-get install busybox-static)")


def _once(base: str, userns: str) -> dict:
    from ..runner import start
    from ..spec import ContainerSpec

    volume, root_only = os.path.join(base, userns, "volume"), os.path.join(base, userns, "root-only")
    os.makedirs(volume)
    os.makedirs(root_only)
    os.chmod(volume, 0o777)
    spec = ContainerSpec(("sh", "-c", SCRIPT), rootfs=os.path.join(base, "rootfs"), userns=userns,
                         volumes=(f"{volume}:/data", f"{root_only}:/ro"))
    with start(spec, capture=True) as container:
        container.wait_for_exec("sleep")
        with open(f"/proc/{container.pid}/status") as file:
            host_uid = int(next(line for line in file if line.startswith("Uid:")).split()[1])
        result = container.wait()
    lines = result.text.splitlines()
    return {"inside_uid": lines[0], "uid_map": " ".join(lines[1].split()), "verdict": lines[2],
            "host_uid": host_uid, "file_owner": os.stat(os.path.join(volume, "made")).st_uid,
            "host_dir_written": os.path.exists(os.path.join(root_only, "x"))}


def gather() -> dict:
    from ..mkrootfs import mkrootfs

    base = tempfile.mkdtemp(prefix="moby-dick-demo-userns-", dir="/tmp")
    os.chmod(base, 0o755)  # the mapped root is "others" for the host's directories
    try:
        mkrootfs(os.path.join(base, "rootfs"), "busybox")
        return {"private": _once(base, "private"), "host": _once(base, "host")}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def claims(ev):
    p, h = ev["private"], ev["host"]
    return [
        claim("inside, the container is root (uid 0)", p["inside_uid"] == "0", f"id -u: {p['inside_uid']}"),
        claim("outside, its PID 1 is an unprivileged uid", p["host_uid"] >= 100000 and p["uid_map"].startswith(f"0 {p['host_uid']} "),
              f"host uid {p['host_uid']}, uid_map {p['uid_map']}"),
        claim("a file its root makes on a volume belongs to that uid on the host", p["file_owner"] == p["host_uid"],
              f"owner {p['file_owner']}"),
        claim("a directory the host's root owns is not writable", p["verdict"] == "refused" and not p["host_dir_written"],
              p["verdict"]),
        claim("control --userns host: root inside is root outside, and it writes the root-owned directory",
              h["host_uid"] == 0 and h["file_owner"] == 0 and h["host_dir_written"], f"host uid {h['host_uid']}",
              control=True),
    ]


def story(ev):
    p, h = ev["private"], ev["host"]
    return [Section("moby-dick --userns private (host column: the --userns host control)", [
        ("uid inside", h["inside_uid"], p["inside_uid"]), ("uid_map", h["uid_map"], p["uid_map"]),
        ("PID 1's uid, seen from the host", str(h["host_uid"]), str(p["host_uid"])),
        ("owner of /data/made on the host", str(h["file_owner"]), str(p["file_owner"])),
        ("touch in a root-owned host directory", h["verdict"], p["verdict"]),
    ])]


def transcripts(ev):
    return {}
