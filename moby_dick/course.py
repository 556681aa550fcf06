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
