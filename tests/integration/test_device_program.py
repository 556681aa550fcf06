"""The cgroup v2 device program, against the kernel: attached to a v2 cgroup of the test's own (beneath this
process's, in the unified hierarchy, which exists on v2 and hybrid machines), it decides what a process in that
cgroup may open; the control, a sibling cgroup without it, opens everything."""

import errno
import os

import pytest

from moby_dick import devices_bpf

pytestmark = pytest.mark.privileged
OPENS = (("/dev/zero", os.O_RDWR), ("/dev/null", os.O_RDONLY), ("/dev/null", os.O_WRONLY), ("/dev/urandom", os.O_RDONLY))


def _v2_dir():
    mount = next((line.split()[4] for line in open("/proc/self/mountinfo") if " - cgroup2 " in line), None)
    if mount is None:
        pytest.fail("no cgroup2 mount on this machine (every kernel since 4.5 has one: mount -t cgroup2 none /sys/fs/cgroup)")
    own = next(line.strip().split("::", 1)[1] for line in open("/proc/self/cgroup") if line.startswith("0::"))
    return os.path.join(mount, own.lstrip("/"))


def _opens_in(cgroup):
    """In a forked child moved into ``cgroup``: try each open, print ok or the errno's name."""
    from moby_dick.forkcall import output_of

    def try_opens():
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
        results = []
        for path, mode in OPENS:
            try:
                os.close(os.open(path, mode))
                results.append("ok")
            except OSError as error:
                results.append(errno.errorcode[error.errno])
        os.write(1, " ".join(results).encode())

    return output_of(try_opens)[1].split()


def test_the_program_allows_what_the_rules_allow_and_nothing_else():
    base = _v2_dir()
    filtered, control = (os.path.join(base, f"moby-dick-test-devices-{os.getpid()}-{n}") for n in ("bpf", "control"))
    os.mkdir(filtered)
    os.mkdir(control)
    try:
        devices_bpf.attach(filtered, devices_bpf.program([(True, "c 1:5 rwm"), (True, "c 1:3 r")]))
        assert _opens_in(filtered) == ["ok", "ok", "EPERM", "EPERM"]  # zero: all; null: read only; urandom: no rule
        assert _opens_in(control) == ["ok", "ok", "ok", "ok"]  # the control: no program, no filter
    finally:
        os.rmdir(filtered)
        os.rmdir(control)
