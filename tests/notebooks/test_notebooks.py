"""The course runs and checks itself: every notebook executes top to bottom, stored without outputs,
shows a generated picture, and its self-checks fail when an isolation is removed from the code."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra is not installed (pip install -e '.[test]')")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
LESSONS = [nb for nb in NOTEBOOKS if not nb.name.startswith("00-")]


def execute(path: Path, first_cell: str | None = None):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    if first_cell:
        notebook.cells.insert(0, nbformat.v4.new_code_cell(first_cell))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def outputs(notebook, kind):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "image" and "image/png" in output.get("data", {}):
                yield output
            elif kind == "text":
                yield output.get("text", "") + "".join(str(v) for v in output.get("data", {}).values())


def test_the_course_has_its_lessons():
    assert [nb.stem for nb in NOTEBOOKS] == ["00-what-is-a-container", "01-hostname-uts", "02-ipc",
                                             "03-network", "04-mounts-and-propagation", "05-pid-and-init",
                                             "06-filesystem-jail", "07-cgroups", "08-oci-and-the-engine-stack",
                                             "09-not-the-hosts-root", "09b-seccomp",
                                             "09c-descriptors-proc-and-escapes", "10-user-namespaces",
                                             "11-networking-veth-bridge-ports", "12-exec-setns-and-terminals",
                                             "13-final-exam"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_has_goals_exercises_and_reading(path):
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    for part in ("Learning goals", "## Exercise 1", "course.self_check", "negative control", "## Further reading",
                 "pictures.", "course.lesson_demo("):
        assert part in text, f"{path.name} lacks {part!r}"


@pytest.mark.privileged
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path):
    notebook = execute(path)
    text = "\n".join(outputs(notebook, "text"))
    assert "[not run]" not in text
    assert "correct:" in text
    assert list(outputs(notebook, "image")), "each lesson shows at least one generated picture"
    if path in LESSONS:
        assert "every claim of the" in text


BREAK = """
import moby_dick.runner
from moby_dick.testing.mutations import plan_without
moby_dick.runner.plan = plan_without({kind!r})
"""


@pytest.mark.privileged
@pytest.mark.parametrize("lesson, kind", [("01-hostname-uts", "uts"), ("02-ipc", "ipc"), ("03-network", "net"),
                                          ("04-mounts-and-propagation", "propagation"), ("05-pid-and-init", "pid"),
                                          ("06-filesystem-jail", "pivot_root"), ("07-cgroups", "cgroup"),
                                          ("08-oci-and-the-engine-stack", "gate"), ("09-not-the-hosts-root", "security"),
                                          ("09b-seccomp", "security"), ("09c-descriptors-proc-and-escapes", "fds"),
                                          ("10-user-namespaces", "user"), ("11-networking-veth-bridge-ports", "bridge"),
                                          ("12-exec-setns-and-terminals", "uts"), ("13-final-exam", "security")])
def test_a_broken_isolation_fails_the_lessons_checks(lesson, kind):
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as caught:
        execute(Path(NOTEBOOKS[0].parent / f"{lesson}.ipynb"), first_cell=BREAK.format(kind=kind))
    assert "AssertionError" in str(caught.value)


NOT_ROOT = "import os\nos.geteuid = lambda: 1000  # as a learner without root would run it\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_without_root_the_privileged_cells_explain_instead_of_failing(path):
    notebook = execute(path, first_cell=NOT_ROOT)
    text = "\n".join(outputs(notebook, "text"))
    assert "[not run]" in text and "needs root" in text
    assert "Traceback" not in text


def test_the_notebooks_are_what_build_py_writes(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, str(NOTEBOOKS[0].parent / "build.py"), str(tmp_path)], check=True)
    built = sorted(tmp_path.glob("*.ipynb"))
    assert [p.name for p in built] == [p.name for p in NOTEBOOKS]
    for ours, fresh in zip(NOTEBOOKS, built):
        assert nbformat.read(ours, as_version=4) == nbformat.read(fresh, as_version=4), \
            f"{ours.name} differs from notebooks/build.py: run `python notebooks/build.py` and commit"
