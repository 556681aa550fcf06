"""The benchmark's report logic (pure): budgets say held or missed, and by how much."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parents[2] / "benchmarks" / "run.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def stat(median):
    return {"median": median, "p90": median, "min": median, "n": 1}


def test_budgets_held_and_missed():
    stats = {"moby_dick API (in-process)": stat(4.0), "unshare -uinmpf --mount-proc": stat(3.0),
             "moby-dick CLI": stat(40.0), "python -c pass (interpreter floor)": stat(25.0), "runc run": stat(30.0)}
    lines = bench.budgets(stats)
    assert lines[0].startswith("API <= 1.5x unshare (4.50 ms): held (4.00 ms, 1.33x)")
    assert lines[1].startswith("CLI <= floor + 10 ms (35.0 ms): MISSED (40.0 ms, floor + 15.0 ms)")
    assert lines[2].startswith("CLI faster than runc run (30.0 ms): MISSED")


def test_summary_and_ratios():
    summary = bench.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (summary["median"], summary["min"], summary["p90"], summary["n"]) == (3.0, 1.0, 5.0, 5)
    rows = bench.ratios({"moby_dick API (in-process)": stat(6.0), "unshare -uinmpf --mount-proc": stat(3.0), "runc run": stat(12.0)})
    assert rows == [{"": "moby_dick API (in-process)", "/ unshare -uinmpf --mount-proc": "2.00x", "/ runc run": "0.50x"}]


def test_the_bridge_budget_is_the_difference_of_its_two_rows():
    lines = bench.budgets({"moby-dick CLI (in a netns)": stat(60.0), "moby-dick CLI --network bridge (in a netns)": stat(63.5)})
    assert lines == ["--network bridge adds <= 5 ms: held (+3.5 ms)"]
    lines = bench.budgets({"moby-dick CLI (in a netns)": stat(60.0), "moby-dick CLI --network bridge (in a netns)": stat(70.0)})
    assert lines == ["--network bridge adds <= 5 ms: MISSED (+10.0 ms)"]
