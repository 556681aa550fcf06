"""The course as a static site: ``make course`` (or ``python -m moby_dick.course_site [OUT]``) executes every
notebook and writes ``build/course/``: an index with the course map, then one page per lesson with its outputs
and pictures, prev/next links on each.

Why nbconvert: the lessons are plain Jupyter notebooks executed by nbclient (the test suite does the same), and
nbconvert is the Jupyter project's own converter for exactly that, with no site generator or theme to keep.
Its ``basic`` template gives the body only; the page around it (layout, type, code colours from Pygments) is
ours, so the site is **offline**: no CDN script or font, the pictures are ``data:`` URIs inside each page.
Each page also carries a few lines of script that record, once loaded, how many of its pictures the browser
decoded (``data-pictures="shown N of M"`` on ``<body>``): the browser test reads that back.
"""

from __future__ import annotations

import html
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --code: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--paper);
       font: 17px/1.6 -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
header.site { border-bottom: 1px solid var(--line); background: #f0f4f8; }
header.site div, main, nav.pager { max-width: 980px; margin: 0 auto; padding: 0.8rem 1.5rem; }
header.site a { color: var(--ink); font-weight: 600; text-decoration: none; }
main h1 { font-size: 2rem; line-height: 1.25; margin-top: 1.2rem; }
main h2 { font-size: 1.4rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
a { color: var(--accent); }
code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.86rem; }
p code, li code, td code { background: var(--code); padding: 0.1rem 0.3rem; border-radius: 4px; }
.cell { margin: 0.9rem 0; }
.prompt { display: none; }
.input_area { background: var(--code); border: 1px solid var(--line); border-left: 4px solid var(--accent);
              border-radius: 6px; padding: 0.2rem 0.8rem; overflow-x: auto; }
.input_area pre { margin: 0.4rem 0; }
.output_subarea pre { background: #fbfbfb; border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem;
                      margin: 0.3rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.output_subarea { overflow-x: auto; }
.output_png img, img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; max-width: 100%; }
table.map { width: 100%; table-layout: fixed; } table.map th:first-child { width: 34%; } table.map ul { margin: 0; padding-left: 1.1rem; }
a.anchor-link { visibility: hidden; margin-left: 0.3rem; text-decoration: none; }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link { visibility: visible; }
th, td { border: 1px solid var(--line); padding: 0.35rem 0.6rem; vertical-align: top; text-align: left; }
th { background: #f0f4f8; }
nav.pager { display: flex; justify-content: space-between; border-top: 1px solid var(--line); margin-top: 2rem; }
.map td:first-child { font-weight: 600; }
.muted { color: var(--muted); }
"""
CHECK_PICTURES = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var shown = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-pictures", "shown " + shown + " of " + images.length);
});
</script>"""


def lessons(directory: Path = NOTEBOOKS) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]*-*.ipynb"))


def execute(path: Path, timeout: int = 600):
    """The notebook run top to bottom by nbclient in its own kernel (as the test suite runs it)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def title_and_goals(notebook) -> tuple[str, list[str]]:
    """The first heading and the "Learning goals" list of the first markdown cell. Pure."""
    first = next((cell.source for cell in notebook.cells if cell.cell_type == "markdown"), "")
    lines = first.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "untitled")
    goals, in_goals = [], False
    for line in lines:
        if line.strip().startswith("**Learning goals**"):
            in_goals = True
        elif in_goals and line.startswith("- "):
            goals.append(line[2:].strip())
        elif in_goals and line.strip() and not line.startswith("- "):
            break
    return title, goals


def body_html(notebook) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(notebook)
    return body


def page(title: str, body: str, previous=None, following=None) -> str:
    """One page of the site: our layout around nbconvert's body. ``previous``/``following``: (href, title)."""
    from pygments.formatters import HtmlFormatter

    colours = HtmlFormatter(style="default").get_style_defs(".highlight")
    pager = ['<nav class="pager">',
             f'<a rel="prev" href="{previous[0]}">← {html.escape(previous[1])}</a>' if previous else "<span></span>",
             f'<a rel="next" href="{following[0]}">{html.escape(following[1])} →</a>' if following else "<span></span>",
             "</nav>"]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)} · moby_dick, the course</title>",
        f"<style>{CSS}\n{colours}</style>", "</head>", "<body>",
        '<header class="site"><div><a href="index.html">moby_dick · how containers work, proven</a></div></header>',
        f"<main>{body}</main>", *pager, CHECK_PICTURES, "</body>", "</html>"])


def inline_markdown(text: str) -> str:
    """`code`, **bold** and *emphasis* of one line of markdown, as HTML (everything else escaped). Pure."""
    import re

    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"(?<![*\w])\*([^*]+)\*(?![*\w])", r"<em>\1</em>", escaped)


def index_html(entries: list[dict]) -> str:
    rows = "\n".join(
        f'<tr><td><a href="{e["href"]}">{html.escape(e["title"])}</a></td>'
        f'<td><ul>{"".join(f"<li>{inline_markdown(goal)}</li>" for goal in e["goals"])}</ul></td></tr>' for e in entries)
    body = (
        "<h1>moby_dick: how containers work, proven</h1>"
        "<p>A container is a process with its own view of the kernel. Each lesson builds one part of that view with "
        "moby_dick's own code, shows the kernel's evidence and a picture drawn from the run, runs the negative "
        "control (the same steps without the isolation: the leak must show), and ends in exercises checked against "
        "the evidence. The pages below were executed on the machine that built them.</p>"
        "<p class=\"muted\">Run them yourself: <code>make course</code> builds this site; "
        "<code>jupyter lab notebooks/</code> opens the lessons (as root, since they start containers).</p>"
        f'<h2>The course map</h2><table class="map"><tr><th>lesson</th><th>you will</th></tr>{rows}</table>')
    return page("The course", body, None, (entries[0]["href"], entries[0]["title"]) if entries else None)


def build(out: str | Path, directory: Path = NOTEBOOKS, *, workers: int = 2, run=execute) -> list[Path]:
    """Execute every lesson (``workers`` kernels at a time) and write the site into ``out``. Returns the pages."""
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = lessons(directory)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        notebooks = list(pool.map(run, paths)) if run else [nbformat.read(p, as_version=4) for p in paths]
    entries = []
    for path, notebook in zip(paths, notebooks):
        title, goals = title_and_goals(notebook)
        entries.append({"href": f"{path.stem}.html", "title": title, "goals": goals, "notebook": notebook})
    written = []
    for number, entry in enumerate(entries):
        previous = ("index.html", "the course map") if number == 0 else (entries[number - 1]["href"], entries[number - 1]["title"])
        following = (entries[number + 1]["href"], entries[number + 1]["title"]) if number + 1 < len(entries) else None
        target = out / entry["href"]
        target.write_text(page(entry["title"], body_html(entry["notebook"]), previous, following), encoding="utf-8")
        written.append(target)
    index = out / "index.html"
    index.write_text(index_html(entries), encoding="utf-8")
    (out / "course.json").write_text(json.dumps([{k: e[k] for k in ("href", "title", "goals")} for e in entries],
                                                indent=2), encoding="utf-8")
    return [index, *written]


def main(argv: list[str]) -> int:
    out = argv[0] if argv else str(ROOT / "build" / "course")
    pages = build(out)
    print(f"moby-dick: the course site is in {out} ({len(pages)} pages); open {out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
