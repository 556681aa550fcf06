"""Print a demo report for a reader: rich tables when rich is installed, plain text otherwise."""

from __future__ import annotations

from . import Report


def print_report(report: Report, file=None) -> None:
    try:
        from rich.console import Console
    except ImportError:  # the demos extra is optional; plain text says the same
        _print_plain(report, file)
        return
    from rich.panel import Panel
    from rich.table import Table

    console = Console(file=file, highlight=False)
    console.rule(f"[bold]{report.name}[/]: {report.title}")
    console.print(report.intro)
    for label, text in report.transcripts.items():
        console.print(Panel(text, title=label, expand=False))
    for section in report.sections:
        table = Table(title=section.title, title_justify="left", show_lines=True)
        table.add_column("")
        for column in section.columns:
            table.add_column(column)
        for what, host, container in section.rows:
            table.add_row(what, str(host), str(container))
        console.print(table)
        if section.note:
            console.print(f"[dim]{section.note}[/]")
    for item in report.claims:
        mark = "[green]held[/]" if item.held else "[bold red]FAILED[/]"
        console.print(f"  {mark}  {item.text}  [dim]{item.evidence}[/]")
    verdict = "[green]every claim held[/]" if report.held else f"[bold red]{len(report.failed)} claim(s) failed[/]"
    console.print(f"{report.name}: {verdict}\n")


def _print_plain(report: Report, file=None) -> None:
    out = lambda text="": print(text, file=file)  # noqa: E731
    out(f"== {report.name}: {report.title}")
    out(report.intro)
    for label, text in report.transcripts.items():
        out(f"-- {label}\n{text}")
    for section in report.sections:
        out(f"-- {section.title}")
        for what, host, container in section.rows:
            out(f"   {what}: {section.columns[0]}={host!s} | {section.columns[1]}={container!s}")
        if section.note:
            out(f"   ({section.note})")
    for item in report.claims:
        out(f"  {'held  ' if item.held else 'FAILED'}  {item.text}  [{item.evidence}]")
    out(f"{report.name}: {'every claim held' if report.held else f'{len(report.failed)} claim(s) failed'}\n")
