"""Regression guard for the start path: a plain `moby-dick COMMAND` imports nothing heavy.

Measured on a 2-core VM: dataclasses ~35 ms, pathlib ~27 ms, re ~14 ms, signal's enums ~9 ms to import,
against ~3 ms for unshare(1) to start a whole container. See benchmarks/ for the real measurements.
"""

import subprocess
import sys

from moby_dick.records import Record

HEAVY = {"dataclasses", "pathlib", "inspect", "re", "enum", "typing", "signal", "contextlib", "collections",
         "argparse", "json", "pickle", "selectors", "subprocess", "rich", "pyroute2", "hypothesis",
         "matplotlib", "warnings", "threading"}

ROOT = str(__import__("pathlib").Path(__file__).resolve().parents[2])

# Everything `moby-dick COMMAND` imports up to the fork, started as its launcher starts it (python -I -S,
# moby_dick/launcher.py), from this checkout whatever is installed: parse argv, validate, plan, load libc.
# Only this path is guarded: the OCI verbs, the engine's verbs and the API may import what they need.
PLAIN_RUN = f"""
import sys
sys.path[:0] = [{ROOT!r}]
from moby_dick import cli, runner, validate, plan
assert runner.__file__.startswith({ROOT!r})
spec = cli.parse_args(["true"]).spec()
validate.spec_problems(spec)
plan.plan(spec)
runner.KERNEL.prepare()
print(" ".join(sorted(sys.modules)))
"""


def test_no_heavy_module_on_the_start_path():
    done = subprocess.run([sys.executable, "-I", "-S", "-c", PLAIN_RUN], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "moby_dick.runner" in loaded and "_ctypes" in loaded  # the guard looks at the real path
    assert "ctypes" not in loaded  # libc through the C module (moby_dick.syscalls.libc): ~3 ms less
    assert not loaded & HEAVY, f"heavy modules on the start path: {sorted(loaded & HEAVY)}"
    assert "moby_dick.forkserver" not in loaded  # the CLI forks its containers itself


class Point(Record):
    __slots__ = ("x", "y")
    DEFAULTS = {"y": 0}


def test_record_behaves_like_a_frozen_dataclass():
    import pickle

    assert Point(1) == Point(x=1, y=0) != Point(1, 2)
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
    assert Point(1).replace(y=5) == Point(1, 5)
    assert pickle.loads(pickle.dumps(Point(3, 4))) == Point(3, 4)
    for bad in (lambda: Point(), lambda: Point(1, 2, 3), lambda: Point(1, x=2), lambda: Point(1, z=2)):
        try:
            bad()
        except TypeError:
            continue
        raise AssertionError("a bad construction was accepted")


# What the fork server imports to serve a plain start (its boot line and serve(), then launch()): the at-fork
# handler of ``threading`` runs as Python in every child it forks, before anything else, and cost each
# container ~0.7 ms of copied pages here (benchmarks/RESULTS.md); the server must not load it.
SERVER = f"""
import sys
sys.path[:0] = [{ROOT!r}]
from moby_dick import forkserver, plan, spec
import pickle, selectors, _signal
from moby_dick.runner import launch
from moby_dick.syscalls import KERNEL
KERNEL.prepare()
pickle.loads(pickle.dumps(plan.plan(spec.ContainerSpec(("true",), seed_tmpfs=False))))
print(" ".join(sorted(sys.modules)))
"""


def test_the_fork_server_does_not_load_threading():
    done = subprocess.run([sys.executable, "-I", "-S", "-c", SERVER], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "moby_dick.forkserver" in loaded and "moby_dick.runner" in loaded
    assert "threading" not in loaded


ROOTFS_PLAN = f"""
import sys
sys.path[:0] = [{ROOT!r}]
from moby_dick import plan, runner
from moby_dick.spec import ContainerSpec
the_plan = plan.plan(ContainerSpec(("sh",), rootfs="/srv/rootfs", read_only=True))
runner.prepare_steps(the_plan)
print(" ".join(sorted(sys.modules)))
"""


def test_a_rootfs_start_loads_neither_the_oci_front_end_nor_a_hash_module():
    """Its device rules come from moby_dick.resources, not the whole OCI front end (~29 KB of bytecode);
    its seccomp cache entry is found without loading sha256 (~0.3 ms)."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", ROOTFS_PLAN], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert {"moby_dick.resources", "moby_dick.seccomp"} <= loaded  # the guard looks at the real path
    assert not loaded & {"moby_dick.oci", "_sha256", "hashlib"}
