"""The benchmark's report logic (pure): budgets say held or missed, and by how much."""

import importlib.util
import statistics
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
    assert lines == ["moby-dick CLI <= 0.9x runc run (27.00 ms): MISSED (40.00 ms, 1.33x)",
                     "moby_dick API (in-process) <= 1.5x unshare -uinmpf --mount-proc (4.50 ms): held (4.00 ms, 1.33x)",
                     "over the interpreter floor: <= 10 ms: MISSED (+15.0 ms)"]


def test_the_sweeps_budgets():
    sweep = [{"size_mb": size, "median": {"API (fork server)": api, "API (fork of the caller)": forked,
                                          "unshare -uinmpf --mount-proc": 4.0}}
             for size, api, forked in ((16, 5.0, 6.0), (1024, 7.0, 60.0))]
    flight = {"moby_dick API": {"1": 120.0, "2": 150.0}, "runc run": {"1": 50.0, "2": 160.0}}
    lines = bench.sweep_budgets(sweep, flight, {"runc run": 2100, "moby-dick CLI": 6000})
    assert lines == [
        "API from a 16 MB caller <= 1.5x unshare (6.00 ms): held (5.00 ms, 1.25x; forking the caller itself: 6.00 ms)",
        "API from a 1024 MB caller <= 1.5x unshare (6.00 ms): MISSED (7.00 ms, 1.75x; forking the caller itself: 60.00 ms)",
        "throughput at 1 in flight >= runc's (50/s): held (120/s)",
        "throughput at 2 in flight >= runc's (160/s): MISSED (150/s)",
        "host memory per running container, moby-dick CLI <= runc's (2100 KB): MISSED (6000 KB)"]


def test_summary_and_ratios():
    summary = bench.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (summary["median"], summary["min"], summary["p90"], summary["n"]) == (3.0, 1.0, 5.0, 5)
    rows = bench.ratios({"moby_dick API (in-process)": stat(6.0), "unshare -uinmpf --mount-proc": stat(3.0), "runc run": stat(12.0)})
    assert rows == [{"": "moby_dick API (in-process)", "/ unshare -uinmpf --mount-proc": "2.00x", "/ runc run": "0.50x"}]


def test_the_bridge_budget_is_the_difference_of_its_two_rows():
    lines = bench.budgets({"moby-dick CLI (in a netns)": stat(60.0), "moby-dick CLI --network bridge (in a netns)": stat(63.5)})
    assert lines == ["--network bridge: <= 5 ms: held (+3.5 ms)"]
    lines = bench.budgets({"moby-dick CLI (in a netns)": stat(60.0), "moby-dick CLI --network bridge (in a netns)": stat(70.0)})
    assert lines == ["--network bridge: <= 5 ms: MISSED (+10.0 ms)"]


def test_the_podman_rows_are_compared_runtime_to_runtime():
    stats = {"podman run --rm (runc)": stat(150.0), "podman run --rm (moby-dick-oci)": stat(225.0)}
    assert bench.ratios(stats) == [{"": "podman run --rm (moby-dick-oci)", "/ podman run --rm (runc)": "1.50x"}]
    assert bench.ratios({"podman run --rm (runc)": stat(150.0)}) == []  # no engine row without both


def test_extra_costs_are_measured_in_back_to_back_pairs():
    ours, without = "moby-dick CLI --network bridge (in a netns)", "moby-dick CLI (in a netns)"
    names = [ours, "runc run", without, "crun run", "moby-dick CLI", "python -c pass (interpreter floor)"]
    for _ in range(20):
        units = bench.rounds_of(list(names))
        assert sorted(name for unit in units for name in unit) == sorted(names)
        assert sorted([ours, without]) in [sorted(unit) for unit in units]  # the pair runs back to back
        assert ["runc run"] in units
    samples = {ours: [10.0, 30.0, 11.0], without: [6.0, 20.0, 7.5]}  # a slow round moves both
    assert bench.paired_differences(samples) == {(ours, without): 4.0}
    stats = {name: stat(statistics.median(values)) for name, values in samples.items()}
    assert bench.budgets(stats, bench.paired_differences(samples)) == [
        "--network bridge: <= 5 ms: held (+4.0 ms, median of the rounds' paired differences; difference of the "
        "medians +3.5 ms)"]


def test_the_step_timer_marks_each_step_on_fd_2_and_undoes_itself(capfd):
    found = importlib.util.spec_from_file_location("steps", Path(__file__).resolve().parents[2] / "benchmarks" / "steps.py")
    steps = importlib.util.module_from_spec(found)
    found.loader.exec_module(steps)

    class Step:
        def apply(self, kernel):
            return "applied"

    class Quiet(Step):  # inherits apply: wrapped once, named as itself
        pass

    undo = steps.timed({Step, Quiet})
    try:
        assert Quiet().apply(None) == "applied" and Step().apply(None) == "applied"
    finally:
        steps._undo(undo)
    marks = [line.split() for line in capfd.readouterr().err.splitlines()]
    assert [name for _, _, name in marks] == ["Quiet", "Step"]  # one mark a step, by its own type
    assert "apply" not in Quiet.__dict__ and Step.apply(None, None) == "applied"  # as it was
    Step().apply(None)
    assert capfd.readouterr().err == ""  # no more marks
