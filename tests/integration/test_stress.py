"""A bounded stress round (about a minute): concurrent starts of every shape, SIGKILLs of the runtime at
random moments of their start-up, then zero leftovers of any kind (moby_dick/testing/stress.py; the
longer `make soak` runs the same with 1,000 starts)."""

import pytest

from moby_dick.testing.stress import leftovers, round_of

pytestmark = pytest.mark.privileged


def test_concurrent_starts_and_sigkills_leave_nothing(tmp_path):
    counts = round_of(runs=200, parallel=4, kill_share=0.5, work=str(tmp_path), seed=1)
    assert counts["started"] == 200 and counts["killed"] > 40
    assert counts["exit codes"].get("0", 0) > 40  # most of those not killed simply ran
    assert leftovers(str(tmp_path)) == []
