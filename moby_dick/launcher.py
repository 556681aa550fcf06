"""The console scripts as moby-dick starts fastest: ``python -I -S``, with the paths written in.

pip's console script starts the interpreter as any program does: ``site`` reads ``pyvenv.cfg``, lists
site-packages and runs every ``.pth`` file there (setuptools' ``distutils-precedence.pth`` imports a
module of its own): ~4 ms of a ~35 ms start, for paths that do not change between two starts. This
launcher starts the interpreter with ``-I`` (no ``PYTHON*`` variables, no user site, no current
directory on ``sys.path``: moby-dick runs as root, so nothing in the caller's environment may add code
to it) and ``-S`` (no ``site``), and puts on ``sys.path`` the directories ``site`` would have added,
found once, when the launcher is written::

    python -m moby_dick.launcher [BINDIR]     # the Makefile does this after pip install

``-OO`` leaves the docstrings (and asserts: the runtime has none) out of the compiled modules the
command loads: ~0.7 ms of a start and ~0.1 MB of each waiting parent (the ``.opt-2.pyc`` files, which the
Makefile compiles beside the plain ones; the API, in the caller's interpreter, keeps its docstrings).

It also turns the cyclic garbage collector off (``gc.disable()``, before any import): a moby-dick
process runs one command and frees what it drops by reference counting; the collector would only walk
the ~40,000 objects of the imports (a full collection is ~0.8 ms here) and, in a forked child, write
to each object's header, copying the pages the child shares with its parent (every copy is a page
fault, 5-6 us on this VM). A process that lives on (a detached container's monitor) turns it on again.

BINDIR defaults to the interpreter's own directory (the venv's ``bin``). The scripts it replaces are
pip's, with the same names and entry points (``[project.scripts]`` in pyproject.toml).
"""

from __future__ import annotations

import os
import sys

ENTRY_POINTS = {"moby-dick": "moby_dick.cli", "moby-dick-oci": "moby_dick.oci_cli"}


def script(module: str, interpreter: str, paths: list[str]) -> str:
    """The text of one launcher. Pure: tested in tests/unit/test_launcher.py."""
    return (f"#!{interpreter} -ISOO\n"
            "# moby-dick's launcher (python -m moby_dick.launcher): -I -S, the paths site would add written in\n"
            "import gc\n"
            "gc.disable()  # one command's process: no cycle collection (see moby_dick/launcher.py)\n"
            "import sys\n"
            f"sys.path[:0] = {paths[:1]!r}\n"
            f"sys.path += {paths[1:]!r}\n"
            f"from {module} import entry\n"
            "entry()\n")


def search_paths() -> list[str]:
    """The package's own parent first (an editable checkout wins, as its .pth makes it), then the
    site directories ``site`` put on this interpreter's path (for the optional libraries)."""
    import moby_dick
    import site

    parent = os.path.dirname(os.path.dirname(os.path.abspath(moby_dick.__file__)))
    sites = [path for path in site.getsitepackages() if os.path.isdir(path) and path != parent]
    return [parent, *sites]


def install(bindir: str) -> list[str]:
    interpreter = os.path.join(bindir, os.path.basename(sys.executable))
    if not os.path.exists(interpreter):
        interpreter = sys.executable
    paths = search_paths()
    written = []
    for name, module in ENTRY_POINTS.items():
        path = os.path.join(bindir, name)
        temporary = f"{path}.new"
        with open(temporary, "w") as file:
            file.write(script(module, interpreter, paths))
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)  # atomic: a start running now reads the old one or the new one
        written.append(path)
    return written


if __name__ == "__main__":
    for written in install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(f"moby-dick: wrote {written}")
