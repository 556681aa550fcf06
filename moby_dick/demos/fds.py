"""Demo "fds": a descriptor the caller leaked does not reach the container (the CVE-2024-21626 shape).

The demo behaves like a careless caller: it opens a host directory (holding a file "host-secret") as an
*inheritable* descriptor, then starts a ``--rootfs`` container whose script looks for it: does
``/proc/self/fd/N`` exist, and can it read ``/proc/self/fd/N/host-secret``? moby-dick's child closes every
descriptor but stdio and the channel (``close_range``), and the final phase marks the rest close-on-exec, so
the answer is no. Evidence from the kernel: the host lists ``/proc/<pid1>/fd`` of the running container. The
control: the same script through ``moby-dick-oci``'s ``--preserve-fds 1``, the deliberate way an engine passes
a descriptor (as fd 3): the host directory is then open inside, and its file readable. That is the whole
escape: a directory descriptor of the host, inside, is a way out of the rootfs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from . import CannotRun, Section, claim, require

TITLE = "Descriptors: a host directory the caller leaked never reaches the container"
INTRO = ("The demo opens a host directory as an inheritable descriptor, as a careless caller would, and starts a "
         "--rootfs container that looks for it. The control passes it on purpose, with moby-dick-oci --preserve-fds.")
SCRIPT = ("N={fd}; if [ -e /proc/self/fd/$N ]; then echo present; else echo absent; fi; "
          "if cat /proc/self/fd/$N/host-secret 2>/dev/null; then :; else echo refused; fi; exec sleep 5")


def requirements():
    require()
    if not shutil.which("busybox"):
        raise CannotRun("needs busybox-static for the rootfs (apt-get install busybox-static)")


def _through_moby_dick(rootfs: str, leaked: int) -> dict:
    from ..runner import start
    from ..spec import ContainerSpec

    spec = ContainerSpec(("sh", "-c", SCRIPT.format(fd=leaked)), rootfs=rootfs)
    with start(spec, capture=True) as container:
        container.wait_for_exec("sleep")
        seen_from_host = sorted(int(n) for n in os.listdir(f"/proc/{container.pid}/fd"))
        container.kill()
        result = container.wait(timeout=10)
    presence, verdict = (result.text.splitlines() + ["", ""])[:2]
    return {"fds_from_host": seen_from_host, "fd_inside": presence, "read": verdict}


def _through_preserve_fds(base: str, rootfs: str, leaked: int) -> dict:
    """moby-dick-oci create --preserve-fds 1 with the directory as fd 3, start, read the output, delete."""
    from .. import lifecycle
    from ..forkcall import call_in_child
    from ..oci_cli import default_spec

    bundle = os.path.join(base, "bundle")
    os.makedirs(bundle)
    config = default_spec(False)
    config["root"] = {"path": rootfs, "readonly": True}
    config["process"].update(args=["sh", "-c", SCRIPT.format(fd=3).replace("exec sleep 5", "exit 0")], terminal=False)
    with open(os.path.join(bundle, "config.json"), "w") as file:
        json.dump(config, file)

    def run_with_fd_three():
        from ..syscalls import KERNEL

        KERNEL.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: PID 1 comes back to us to be waited for
        os.dup2(leaked, 3)  # what an engine does before `--preserve-fds 1`
        read_end, write_end = os.pipe()
        root, name = os.path.join(base, "state"), f"demo-fds-{os.getpid()}"
        config_doc, _ = lifecycle.load_config(bundle)
        state = lifecycle.create_from_config(root, name, config_doc, bundle=bundle, preserve_fds=1,
                                             stdio=(None, write_end, write_end))
        os.close(write_end)
        try:
            lifecycle.start(root, name)
            with os.fdopen(read_end) as pipe:
                text = pipe.read()
            os.waitpid(state.pid, 0)
        finally:
            lifecycle.delete(root, name, force=True)
        return text

    text = call_in_child(run_with_fd_three)
    presence, verdict = (text.splitlines() + ["", ""])[:2]
    return {"fd_inside": presence, "read": verdict}


def gather() -> dict:
    from ..mkrootfs import mkrootfs

    base = tempfile.mkdtemp(prefix="moby-dick-demo-fds-", dir="/tmp")
    try:
        secret_dir = os.path.join(base, "host-only")
        os.makedirs(secret_dir)
        with open(os.path.join(secret_dir, "host-secret"), "w") as file:
            file.write("a file of the host\n")
        rootfs = os.path.join(base, "rootfs")
        mkrootfs(rootfs, "busybox")
        leaked = os.open(secret_dir, os.O_RDONLY | os.O_DIRECTORY)  # inheritable on purpose: the careless caller
        os.set_inheritable(leaked, True)
        try:
            return {"leaked_fd": leaked, "isolated": _through_moby_dick(rootfs, leaked),
                    "control": _through_preserve_fds(base, rootfs, leaked)}
        finally:
            os.close(leaked)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def claims(ev):
    iso, ctl, fd = ev["isolated"], ev["control"], ev["leaked_fd"]
    return [
        claim("the caller's descriptor is not among the container's (read from the host)",
              fd not in iso["fds_from_host"] and iso["fds_from_host"] == [0, 1, 2],
              f"/proc/<pid1>/fd: {iso['fds_from_host']}; the caller leaked {fd}"),
        claim("inside, the host directory's file cannot be read through /proc/self/fd",
              iso["read"] == "refused" and iso["fd_inside"] == "absent", f"fd {fd}: {iso['fd_inside']}; {iso['read']}"),
        claim("control (moby-dick-oci --preserve-fds 1): the host directory is fd 3 inside and its file is read",
              ctl["fd_inside"] == "present" and ctl["read"] == "a file of the host", f"fd 3: {ctl['fd_inside']}; {ctl['read']}",
              control=True),
    ]


def story(ev):
    iso, ctl = ev["isolated"], ev["control"]
    return [Section("a host directory, open in the caller as an inheritable descriptor", [
        ("the descriptor, inside", ctl["fd_inside"], iso["fd_inside"]),
        ("cat /proc/self/fd/N/host-secret", ctl["read"], iso["read"]),
    ], columns=("--preserve-fds 1 (control)", "moby-dick run --rootfs"))]


def transcripts(ev):
    return {}
