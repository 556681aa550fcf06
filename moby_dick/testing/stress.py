"""Stress and soak: many starts at once, SIGKILLs of the runtime at random moments, then an inventory
of everything a run could leave on the host. The suite runs a bounded round (tests/integration/
test_stress.py, about a minute); ``make soak`` runs ``python -m moby_dick.testing.stress --runs 1000``.

Each round mixes the shapes a start can take (plain, a rootfs directory, limits, a tarball rootfs, an
OCI create), starts them ``parallel`` at a time, SIGKILLs a share of them at a random moment of their
start-up, and then waits for the guards; :func:`leftovers` then lists whatever is left.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

SHAPES = ("plain", "rootfs", "limits", "tarball", "oci")


def command_for(shape: str, rootfs: str, tarball: str, oci_root: str, bundle: str, number: int) -> list[str]:
    cli = [sys.executable, "-m", "moby_dick"]
    if shape == "plain":
        return cli + ["sh", "-c", "sleep 0.2"]
    if shape == "rootfs":
        return cli + ["--rootfs", rootfs, "sh", "-c", "sleep 0.2"]
    if shape == "limits":
        return cli + ["--memory", "64m", "--pids-limit", "50", "sh", "-c", "sleep 0.2"]
    if shape == "tarball":
        return cli + ["--rootfs", tarball, "sh", "-c", "sleep 0.2"]
    entry = os.path.join(os.path.dirname(sys.executable), "moby-dick-oci")
    return [entry, "--root", oci_root, "create", "--bundle", bundle, f"stress-{os.getpid()}-{number}"]


def round_of(runs: int, parallel: int, kill_share: float, work: str, seed: int = 0) -> dict:
    """Run ``runs`` starts; returns counts of what happened (exit codes, kills)."""
    from ..mkrootfs import mkrootfs
    from ..oci_cli import default_spec

    rng = random.Random(seed)
    rootfs = os.path.join(work, "rootfs")
    if not os.path.isdir(rootfs):
        mkrootfs(rootfs, "busybox")
    tarball = os.path.join(work, "rootfs.tar")
    if not os.path.exists(tarball):
        import tarfile

        with tarfile.open(tarball, "w") as archive:
            archive.add(rootfs, arcname=".")
    bundle = os.path.join(work, "bundle")
    if not os.path.isdir(bundle):
        os.makedirs(bundle)
        os.symlink(rootfs, os.path.join(bundle, "rootfs"))
        document = default_spec()
        document["process"].update({"terminal": False, "args": ["sleep", "1"]})
        document["root"] = {"path": rootfs, "readonly": True}
        with open(os.path.join(bundle, "config.json"), "w") as file:
            json.dump(document, file)
    oci_root = os.path.join(work, "oci")
    counts = {"started": 0, "killed": 0, "exit codes": {}}
    running: list = []
    number = 0
    while number < runs or running:
        while number < runs and len(running) < parallel:
            shape = SHAPES[number % len(SHAPES)]
            argv = command_for(shape, rootfs, tarball, oci_root, bundle, number)
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env={**os.environ, "MOBY_DICK_STRESS": work})  # a tag its processes keep
            kill_at = time.monotonic() + rng.uniform(0, 0.3) if rng.random() < kill_share else None
            running.append((process, kill_at, shape))
            number += 1
            counts["started"] += 1
        time.sleep(0.005)
        for item in list(running):
            process, kill_at, shape = item
            if process.poll() is not None:
                running.remove(item)
                code = str(process.returncode)
                counts["exit codes"][code] = counts["exit codes"].get(code, 0) + 1
            elif kill_at is not None and time.monotonic() >= kill_at:
                process.kill()
                counts["killed"] += 1
                running[running.index(item)] = (process, None, shape)
    for name in (os.listdir(oci_root) if os.path.isdir(oci_root) else ()):  # what an engine does after a kill
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "moby-dick-oci"), "--root", oci_root,
                        "delete", "--force", name], capture_output=True)
    return counts


def leftovers(work: str, settle: float = 10.0) -> list[str]:
    """Everything a run may leave: mounts, cgroups, processes, /mytmp, cache staging, OCI state. Waits up
    to ``settle`` seconds for guards and dying containers."""
    from ..hoststate import leftover_cgroups
    from ..mountpoints import MountpointRegistry

    deadline = time.monotonic() + settle
    while True:
        found = []
        with open("/proc/self/mountinfo") as file:
            mounts = [line for line in file if "moby-dick" in line or work in line or "/mytmp" in line]
        found += [f"mount: {line.split()[4]}" for line in mounts]
        found += [f"cgroup: {path}" for path in leftover_cgroups()]
        found += [f"cgroup: {path}" for path in _oci_cgroups(f"stress-{os.getpid()}-")]
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/comm") as file:
                        comm = file.read().strip()
                    with open(f"/proc/{name}/environ", "rb") as file:
                        tagged = f"MOBY_DICK_STRESS={work}".encode() in file.read().split(b"\0")
                    with open(f"/proc/{name}/cmdline", "rb") as file:
                        mentions = work.encode() in file.read()
                except OSError:
                    continue
                if (tagged or mentions) and int(name) != os.getpid():  # ours: not another test's containers
                    found.append(f"process {name}: {comm}")
        if os.path.lexists("/mytmp") and "/mytmp" not in MountpointRegistry().in_use():
            if os.path.exists(MountpointRegistry().lock_path("/mytmp")):
                found.append("/mytmp left by a run")
        from ..spec import ContainerSpec

        cache = ContainerSpec.DEFAULTS["cache_dir"]
        found += [f"cache staging: {n}" for n in (os.listdir(cache) if os.path.isdir(cache) else ())
                  if n.startswith(".unpacking-") and not os.path.exists(f"/proc/{n.split('-')[2]}")]
        oci = os.path.join(work, "oci")
        found += [f"OCI state: {n}" for n in (os.listdir(oci) if os.path.isdir(oci) else ())]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _oci_cgroups(prefix: str) -> list[str]:
    from ..cgroups import detect

    found = []
    for mount, path in detect().roots.values():
        base = os.path.join(mount, path.lstrip("/"))
        try:
            found += [os.path.join(base, n) for n in os.listdir(base) if n.startswith(prefix)]
        except OSError:
            pass
    return sorted(set(found))


def main(argv: list[str]) -> int:
    import argparse
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m moby_dick.testing.stress")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--kill-share", type=float, default=0.5)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="moby-dick-soak.")
    started = time.monotonic()
    try:
        counts = round_of(args.runs, args.parallel, args.kill_share, work)
        left = leftovers(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({**counts, "seconds": round(time.monotonic() - started, 1), "leftovers": left}, indent=1))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
