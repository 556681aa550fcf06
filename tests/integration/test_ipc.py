"""IPC isolation, with its control. The "host" is a lab IPC namespace, so queues die with it."""

import subprocess

import pytest

from moby_dick import probe, run
from moby_dick.forkcall import in_lab

pytestmark = pytest.mark.privileged
LIST = "cat /proc/sysvipc/msg"


def _scenario(share):
    subprocess.run(["ipcmk", "-Q"], check=True, capture_output=True)
    host = [q.key for q in probe.message_queues()]
    inside = run(["sh", "-c", f"{LIST}; echo @@; ipcmk -Q >/dev/null; {LIST}"], capture=True, share=share)
    seen, _, after = inside.text.partition("@@\n")
    return {"host": host, "seen": [q.key for q in probe.parse_sysvipc_msg(seen)],
            "made": [q.key for q in probe.parse_sysvipc_msg(after)],
            "host_after": [q.key for q in probe.message_queues()],
            "same_ns": inside.namespaces["ipc"] == probe.namespace_id("self", "ipc")}


def test_queues_do_not_cross_in_either_direction():
    ev = in_lab(_scenario, frozenset(), kinds=("ipc",))
    assert len(ev["host"]) == 1
    assert not ev["same_ns"]
    assert ev["seen"] == []
    assert len(ev["made"]) == 1 and ev["made"][0] not in ev["host"]
    assert ev["host_after"] == ev["host"]


def test_control_shared_ipc_leaks_both_ways():
    ev = in_lab(_scenario, frozenset({"ipc"}), kinds=("ipc",))
    assert ev["same_ns"]
    assert ev["seen"] == ev["host"]
    assert len(ev["host_after"]) == 2 and set(ev["made"]) == set(ev["host_after"])


def test_the_containers_queues_die_with_it():
    # The container's queue exists while it runs (seen from its namespace) and the host never has it.
    from moby_dick import start
    from moby_dick.spec import ContainerSpec

    before = probe.sysvipc_snapshot()
    with start(ContainerSpec(("sh", "-c", "ipcmk -Q >/dev/null; exec sleep 30"), seed_tmpfs=False)) as container:
        container.wait_for_exec("sleep")
        assert len(probe.message_queues_of(container.pid)) == 1
        assert probe.sysvipc_snapshot() == before
    assert probe.sysvipc_snapshot() == before
