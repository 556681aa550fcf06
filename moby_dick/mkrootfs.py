"""``moby-dick mkrootfs DIR``: a small root file system built offline, from what is on this machine.

From Debian's ``busybox-static`` when it is installed: one static binary, and a symlink per applet
(``busybox --list``). Otherwise from the host's own programs, each copied with the shared libraries
its ELF headers name (:mod:`moby_dick.elf`), at the same paths, so the dynamic loader finds them.
Either way: the directories a container needs as mount points, and a minimal ``/etc``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .elf import dependencies
from .errors import UsageError

HOST_TOOLS = ("sh", "ls", "cat", "echo", "ps", "hostname", "ip", "mount", "mkdir", "rm", "sleep", "true",
              "false", "id", "env", "uname", "touch", "grep", "wc", "head", "readlink")
SKELETON = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root")
ETC = {"passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
       "group": "root:x:0:\nnogroup:x:65534:\n", "hostname": "containerhostname\n"}


def mkrootfs(dest: str, source: str = "auto") -> str:
    """Build a rootfs in ``dest`` (created, or empty); return which source was used."""
    busybox = shutil.which("busybox")
    if source == "busybox" and not busybox:
        raise UsageError("busybox is not installed (Debian: apt-get install busybox-static)")
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise UsageError(f'"{dest}" exists and is not an empty directory')
    use_busybox = busybox and source in ("auto", "busybox") and _is_static(busybox)
    if source == "busybox" and not use_busybox:
        raise UsageError(f"{busybox} is dynamically linked; install busybox-static")
    created = not os.path.exists(dest)
    try:
        for directory in SKELETON:
            os.makedirs(os.path.join(dest, directory), exist_ok=True)
        os.chmod(os.path.join(dest, "tmp"), 0o1777)
        for name, text in ETC.items():
            with open(os.path.join(dest, "etc", name), "w") as file:
                file.write(text)
        if use_busybox:
            _from_busybox(dest, busybox)
            return "busybox"
        _from_host(dest)
        return "host"
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for name in os.listdir(dest):
                path = os.path.join(dest, name)
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        raise


def _is_static(program: str) -> bool:
    from .elf import read_dynamic_info

    with open(program, "rb") as file:
        interpreter, needed, _ = read_dynamic_info(file.read())
    return interpreter is None and not needed


def _from_busybox(dest: str, busybox: str) -> None:
    shutil.copy2(busybox, os.path.join(dest, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(dest, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)


def _from_host(dest: str) -> None:
    for tool in HOST_TOOLS:
        path = shutil.which(tool)
        if path is None:
            continue
        real = os.path.realpath(path)
        _copy_in(dest, real, os.path.join("/bin", tool))
        for library in dependencies(real):
            _copy_in(dest, os.path.realpath(library), library)


def _copy_in(dest: str, source: str, path: str) -> None:
    target = os.path.join(dest, path.lstrip("/"))
    if os.path.lexists(target):
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(source, target)
