"""Helpers for the course notebooks: run a lesson's demo, show evidence, check the learner's answers.

The notebooks import this and :mod:`moby_dick.demos`, :mod:`moby_dick.probe`, :mod:`moby_dick.pictures`:
no lesson re-implements what the runtime does. Run without root, the privileged steps say what they
would have shown and why they cannot run, instead of raising a traceback.
"""

from __future__ import annotations

import os

from .demos import CannotRun, Report, run_demo
from .namespaces import KINDS, SEED_KINDS


def privileged_reason() -> str | None:
    """Why this process cannot create namespaces, or None if it can."""
    if os.geteuid() != 0:
        return "this needs root (namespaces need CAP_SYS_ADMIN): start Jupyter with sudo to run it"
    return None


def privileged(what: str, fn, *args, **kwargs):
    """Run ``fn`` if we can; otherwise say what it would have shown, and return None."""
    reason = privileged_reason()
    if reason:
        print(f"[not run] {what}: {reason}.")
        return None
    return fn(*args, **kwargs)


def lesson_demo(name: str) -> Report | None:
    """Run demo ``name`` live, print its report (host and container side by side), and return it."""
    from .demos.show import print_report

    reason = privileged_reason()
    if reason:
        print(f"[not run] the {name} demo would start containers and compare their namespaces with "
              f"this process's: {reason}.")
        return None
    try:
        report = run_demo(name)
    except CannotRun as why:
        print(f"[not run] the {name} demo cannot run here: {why}")
        return None
    print_report(report)
    return report


def namespace_rows(processes: dict) -> list[dict]:
    """One row per namespace kind: each process's id, and whether it equals the first process's."""
    labels = list(processes)
    rows = []
    for kind in sorted({kind for ids in processes.values() for kind in ids}):
        row = {"kind": kind, "isolates": KINDS[kind].isolates if kind in KINDS else "",
               "seed unshares": "yes" if kind in SEED_KINDS else ""}
        for label in labels:
            row[label] = str(processes[label].get(kind, "-"))
        if len(labels) > 1:
            first = processes[labels[0]].get(kind)
            for label in labels[1:]:
                row[f"{label} shares {labels[0]}'s?"] = "same" if processes[label].get(kind) == first else "OWN"
        rows.append(row)
    return rows


def show_table(rows: list[dict], title: str = "") -> None:
    """Print rows of dicts as a table (rich when installed)."""
    if not rows:
        print("(no rows)")
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for row in rows:
            print("  " + " | ".join(f"{k}={v}" for k, v in row.items()))
        return
    table = Table(title=title or None, title_justify="left")
    for column in rows[0]:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    Console(highlight=False).print(table)


def assert_held(report: Report | None) -> None:
    """The lesson's own check: every claim of its demo held in this run (a no-op when it could not run)."""
    if report is None:
        print("[not run] nothing to check without root.")
        return
    if not report.held:
        raise AssertionError("claims that failed in this run: " + "; ".join(c.text for c in report.failed))
    print(f"every claim of the {report.name} demo held in this run ({len(report.claims)} claims).")


def self_check(answer, solution, evidence, question: str) -> None:
    """Assert the learner's ``answer`` (or, if they left it None, the lesson's ``solution``) against
    what the kernel showed in this run (``evidence``). Fails if the answer is wrong, and also when the
    runtime is broken: then the reference solution no longer matches the evidence."""
    if evidence is None:
        print(f"[not run] {question}: needs the live evidence, which needs root.")
        return
    given = solution if answer is None else answer
    source = "the reference solution (set `answer` to try your own)" if answer is None else "your answer"
    if given != evidence:
        raise AssertionError(f"{question}\n  {source}: {given!r}\n  the kernel says: {evidence!r}")
    print(f"correct: {question} -> {given!r} ({source}, checked against this run's evidence)")


def engine_call_log(engine: str = "podman") -> list[str] | None:
    """Run one `podman run --rm` through moby-dick-oci behind a logging wrapper and return the calls it
    made (each a command line). podman runs isolated (scripts/isolated, its own store and cgroup parent,
    no network); None, with the reason printed, when podman is not installed."""
    import shutil
    import subprocess
    import sys
    import tarfile
    import tempfile
    from pathlib import Path

    if shutil.which(engine) is None:
        print(f"[not run] {engine} is not installed here (`make test` installs it: scripts/setup-system --engines)")
        return None
    from .mkrootfs import mkrootfs

    project = Path(__file__).resolve().parents[1]
    entry = Path(sys.executable).parent / "moby-dick-oci"
    work = Path(tempfile.mkdtemp(prefix="moby-course-podman."))
    try:
        log = work / "calls.log"
        wrapper = work / "moby-dick-oci-logged"
        wrapper.write_text(f'#!/bin/sh\necho "moby-dick-oci $*" >> {log}\nexec {entry} "$@"\n')
        wrapper.chmod(0o755)
        mkrootfs(str(work / "rootfs"), "busybox")
        with tarfile.open(work / "bb.tar", "w") as tar:
            tar.add(work / "rootfs", arcname=".")
        podman = [str(project / "scripts" / "isolated"), engine, "--root", str(work / "root"), "--runroot",
                  str(work / "runroot"), "--tmpdir", str(work / "tmp"), "--cgroup-manager", "cgroupfs",
                  "--events-backend", "file", "--storage-driver", "vfs", "--runtime", str(wrapper)]
        subprocess.run(podman + ["import", str(work / "bb.tar"), "bb"], capture_output=True, check=True, timeout=120)
        done = subprocess.run(podman + ["run", "--rm", "--network", "none", "--cgroup-parent", f"/moby-course-{work.name}",
                                        "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                                        "bb", "echo", "hello from podman"], capture_output=True, text=True, timeout=120)
        print(done.stdout.strip() or done.stderr.strip())
        calls = log.read_text().splitlines() if log.exists() else []
        return [" ".join(part if len(part) < 40 else "…" + part[-30:] for part in call.split()) for call in calls]
    finally:
        subprocess.run(["umount", "-R", str(work / "root")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        _remove_cgroup_beneath_own(f"moby-course-{work.name}")  # podman leaves its --cgroup-parent


def _remove_cgroup_beneath_own(name: str) -> None:
    import os

    from .cgroups import detect

    for mount, path in detect().roots.values():
        directory = os.path.join(mount, path.lstrip("/"), name)
        if os.path.isdir(directory):  # its children first (conmon's own cgroup), bottom-up
            for below, subdirectories, _ in os.walk(directory, topdown=False):
                for sub in subdirectories:
                    os.rmdir(os.path.join(below, sub))
            os.rmdir(directory)


EXAM_SUITE = ("hostname", "process", "linux_uid_mappings", "linux_masked_paths", "linux_readonly_paths",
              "linux_sysctl", "linux_devices")


def peer_suite(tests=EXAM_SUITE) -> dict | None:
    """Run OCI runtime-tools' validation programs ``tests`` against moby-dick-oci, as the test suite does
    (tests/engines): the peer copy beside this checkout (``../shared/peer``) or ``$MOBY_PEER_DIR``, built offline
    once. Returns ``{"passed", "failed", "tests": [{"name", "verdict", "ok", ...}]}``, or None with the reason."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    reason = privileged_reason()
    if reason:
        print(f"[not run] runtime-tools starts containers through moby-dick-oci: {reason}.")
        return None
    from .places import peer_dir

    peer = peer_dir() / "runtime-tools"
    if not (peer / "run").exists():
        print(f"[not run] the runtime-tools peer suite is not at {peer} (set MOBY_PEER_DIR)")
        return None
    built = subprocess.run([str(peer / "build")], capture_output=True, text=True)
    if built.returncode != 0:
        print(f"[not run] runtime-tools could not be built here (exit {built.returncode}; `make test` installs Go)")
        return None
    with tempfile.TemporaryDirectory(prefix="moby-course-rt.") as work:
        report = os.path.join(work, "rt.json")
        done = subprocess.run([str(peer / "run"), str(Path(sys.executable).parent / "moby-dick-oci"), *tests],
                              capture_output=True, text=True, env={**os.environ, "PEER_JSON": report}, timeout=600)
        print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip())
        with open(report) as file:
            return json.load(file)
