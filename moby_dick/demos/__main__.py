"""``python -m moby_dick.demos NAME|all [--json]``, ``--list``. Exit 0 held, 1 failed, 77 cannot run."""

from __future__ import annotations

import json
import sys

from . import NAMES, CannotRun, load, run_demo

EXIT_HELD, EXIT_FAILED, EXIT_CANNOT_RUN, EXIT_USAGE = 0, 1, 77, 2


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    as_json = "--json" in args
    names = [a for a in args if a != "--json"]
    if names == ["--list"]:
        for name in NAMES:
            print(f"{name:10} {load(name).TITLE}")
        return 0
    if len(names) != 1 or (names[0] not in NAMES and names[0] != "all"):
        print(f"usage: python -m moby_dick.demos {{{'|'.join(NAMES)}|all}} [--json] | --list", file=sys.stderr)
        return EXIT_USAGE
    selected = NAMES if names[0] == "all" else names
    reports, codes = [], []
    for name in selected:
        try:
            report = run_demo(name)
        except CannotRun as reason:
            print(f"{name}: cannot run here: {reason}", file=sys.stderr)
            codes.append(EXIT_CANNOT_RUN)
            continue
        reports.append(report)
        if not as_json:
            from .show import print_report

            print_report(report)
        for failed in report.failed:
            print(f"{name}: FAILED: {failed.text} ({failed.evidence})", file=sys.stderr)
        codes.append(EXIT_HELD if report.held else EXIT_FAILED)
    if as_json:
        print(json.dumps([r.to_dict() for r in reports] if names[0] == "all" else
                         (reports[0].to_dict() if reports else None), indent=2))
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    return EXIT_CANNOT_RUN if EXIT_CANNOT_RUN in codes else EXIT_HELD


if __name__ == "__main__":
    sys.exit(main())
