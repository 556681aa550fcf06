"""cgroup v2 device rules as a BPF program: the instructions, checked one by one (pure, no root)."""

import struct

from moby_dick import devices_bpf as d
from moby_dick.cgroups import Layout
from moby_dick.config import from_spec
from moby_dick.plan import plan
from moby_dick.spec import ContainerSpec


def decode(code):
    return [struct.unpack("<BBhi", code[i:i + 8]) for i in range(0, len(code), 8)]


def test_a_rule_is_a_block_whose_tests_jump_past_it_and_the_last_rule_is_tested_first():
    code = decode(d.program([(True, "c 1:3 rw"), (False, "c 1:3 w")]))
    assert len(code) == 6 + 2 * 8 + 2  # prologue, two blocks of 8, the final deny
    first = code[6:14]  # the *last* rule ("c 1:3 w", deny) comes first
    assert first[0] == (d.JNE_K, d.R2, 7, d.DEV_CHAR)  # type: skip the 7 instructions left of the block
    assert first[1][0] == d.MOV32_X and first[2] == (d.AND_K, d.R6, 0, d.ACC_WRITE)
    assert first[3] == (d.JNE_X, d.R6 | (d.R3 << 4), 4, 0)  # the access asked for is within the rule's
    assert first[4] == (d.JNE_K, d.R4, 3, 1) and first[5] == (d.JNE_K, d.R5, 2, 3)
    assert first[6] == (d.MOV64_K, d.R0, 0, 0) and first[7] == (d.EXIT, 0, 0, 0)  # deny
    assert code[13 + 7] == (d.MOV64_K, d.R0, 0, 1)  # the allow block's verdict
    assert code[-2:] == [(d.MOV64_K, d.R0, 0, 0), (d.EXIT, 0, 0, 0)]  # nothing matched: denied


def test_wildcards_leave_their_test_out():
    assert d.parse_rule("a") == (None, None, None, 7)
    assert d.parse_rule("c *:* m") == (d.DEV_CHAR, None, None, d.ACC_MKNOD)
    assert len(decode(d.program([(True, "a")]))) == 6 + 2 + 2  # no test at all: allow


def test_the_v2_plan_attaches_the_program_after_making_the_cgroup():
    layout = Layout("v2", {c: ("/sys/fs/cgroup", "/") for c in ("", "memory", "pids", "cpu")},
                    frozenset(("memory", "pids", "cpu")))
    the_plan = plan(from_spec(ContainerSpec(("sh",), rootfs="/srv/rootfs")), layout)
    kinds = [type(step).__name__ for step in the_plan.host]
    assert kinds[:2] == ["CreateCgroup", "AttachDeviceFilter"]
    assert "BPF_CGROUP_DEVICE" in str(the_plan.host[1])
    v1 = Layout("v1", {c: (f"/sys/fs/cgroup/{c}", "/") for c in ("memory", "pids", "devices")},
                frozenset(("memory", "pids", "devices")))
    assert "AttachDeviceFilter" not in [type(s).__name__ for s in plan(from_spec(ContainerSpec(("sh",), rootfs="/srv/rootfs")), v1).host]
