"""A container with its own root is not the host's root. Each protection with its control: the same
probe with the protection turned off shows the hole, inside the container's own namespaces, so that
nothing on the host changes whether the protection holds or not."""

import os
import shutil
import signal
import subprocess

import pytest

from moby_dick import run
from moby_dick.capabilities import DOCKER_DEFAULT, bits
from moby_dick.mkrootfs import mkrootfs

pytestmark = pytest.mark.privileged
PROBE_SOURCE = os.path.join(os.path.dirname(__file__), "probes", "syscalls.c")


@pytest.fixture(scope="module")
def secure_rootfs(tmp_path_factory):
    """A busybox rootfs with the static syscall probe in /probe."""
    root = tmp_path_factory.mktemp("secure") / "rootfs"
    mkrootfs(str(root), "busybox")
    compiler = shutil.which("gcc")
    assert compiler, "gcc is needed to build the syscall probe (scripts/setup-system --engines installs it)"
    subprocess.run([compiler, "-static", "-O1", "-o", str(root / "probe"), PROBE_SOURCE], check=True)
    return str(root)


def status_fields(rootfs, **options):
    result = run(["cat", "/proc/self/status"], capture=True, rootfs=rootfs, **options)
    return dict(line.split(":\t", 1) for line in result.text.splitlines() if ":\t" in line)


def test_capabilities_are_dockers_set_and_privileged_is_the_control(secure_rootfs):
    fields = status_fields(secure_rootfs)
    wanted = bits(DOCKER_DEFAULT)
    for name in ("CapEff", "CapPrm", "CapBnd"):
        assert int(fields[name], 16) == wanted, (name, fields[name])
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    control = status_fields(secure_rootfs, privileged=True)
    assert int(control["CapBnd"], 16) & ~wanted  # the control holds what the default refuses
    adjusted = status_fields(secure_rootfs, cap_add=("sys_admin",), cap_drop=("CAP_NET_RAW",))
    assert int(adjusted["CapEff"], 16) == (wanted | bits(["CAP_SYS_ADMIN"])) & ~bits(["CAP_NET_RAW"])


def test_dropping_the_bounding_set_stops_quietly_past_the_kernels_last_capability():
    from moby_dick.syscalls import KERNEL

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child of this test drops everything, numbers the kernel has never heard of included
        try:
            KERNEL.drop_bounding_set(range(64))
            with open("/proc/self/status") as status:
                os.write(write, next(line for line in status if line.startswith("CapBnd:")).encode())
        finally:
            os._exit(0)
    os.close(write)
    line = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert int(line.split()[1], 16) == 0, line
    with open("/proc/self/status") as status:  # control: this process kept its own
        assert int(next(line for line in status if line.startswith("CapBnd:")).split()[1], 16) != 0


def test_no_new_privileges_on_by_default_and_off_when_asked(secure_rootfs):
    assert status_fields(secure_rootfs)["NoNewPrivs"].strip() == "1"
    off = status_fields(secure_rootfs, security_opt=("no-new-privileges=false",))
    assert off["NoNewPrivs"].strip() == "0"


def probe(rootfs, *names, **options):
    result = run(["/probe", *names], capture=True, rootfs=rootfs, **options)
    assert result.exit_code == 0, result.stderr
    return dict(line.split() for line in result.text.splitlines())


def test_seccomp_refuses_what_docker_refuses_and_unconfined_is_the_control(secure_rootfs):
    assert status_fields(secure_rootfs)["Seccomp"].strip() == "2"  # a filter is installed
    refused = probe(secure_rootfs, "keyctl", "add_key", "userfaultfd", "bpf", "clone3")
    assert refused == {"keyctl": "EPERM", "add_key": "EPERM", "userfaultfd": "EPERM", "bpf": "EPERM",
                       "clone3": "ENOSYS"}  # clone3 -> ENOSYS, so that glibc falls back to clone
    control = probe(secure_rootfs, "keyctl", "add_key", security_opt=("seccomp=unconfined",))
    assert status_fields(secure_rootfs, security_opt=("seccomp=unconfined",))["Seccomp"].strip() == "0"
    assert control["keyctl"] != "EPERM" and control["add_key"] != "EPERM"  # past the door: the filter did it
    # the other entry points of an x86-64 kernel: i386 (int $0x80) and x32 (__X32_SYSCALL_BIT) face the same rules
    if os.uname().machine == "x86_64":
        from moby_dick.seccomp import kernel_has_x32

        assert probe(secure_rootfs, "i386_keyctl") == {"i386_keyctl": "EPERM"}
        x32 = run(["/probe", "x32_keyctl"], capture=True, rootfs=secure_rootfs)
        if kernel_has_x32():  # the x32 tree of the filter answers, as for x86-64
            assert x32.text.split() == ["x32_keyctl", "EPERM"]
        else:  # no x32 ABI here, so no x32 tree: the architecture check kills the caller (SIGSYS)
            assert x32.exit_code == 128 + signal.SIGSYS and x32.text == ""
        unfiltered = probe(secure_rootfs, "i386_keyctl", "x32_keyctl", security_opt=("seccomp=unconfined",))
        assert unfiltered["i386_keyctl"] != "EPERM"  # the control: past the door through int $0x80
        # the kernel's own answer: past the door where x32 runs, ENOSYS where it does not
        assert unfiltered["x32_keyctl"] != "EPERM" if kernel_has_x32() else unfiltered["x32_keyctl"] == "ENOSYS"
    # namespace flags are refused by the filter even when the capability allows them ...
    gated = probe(secure_rootfs, "unshare", cap_add=("SYS_ADMIN",), security_opt=("seccomp=" + _no_unshare(secure_rootfs),))
    assert gated["unshare"] == "EPERM"
    # ... and with CAP_SYS_ADMIN docker's profile lets them through (its own UTS namespace: harmless)
    assert probe(secure_rootfs, "unshare", cap_add=("SYS_ADMIN",))["unshare"] == "OK"


def _no_unshare(rootfs):
    import json

    from moby_dick.capabilities import NUMBERS
    from moby_dick.seccomp import default_profile

    profile = json.loads(json.dumps(default_profile(tuple(NUMBERS))))  # a copy: the default one is shared
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "unshare"]
    path = os.path.join(os.path.dirname(rootfs), "no-unshare.json")
    with open(path, "w") as file:
        json.dump(profile, file)
    return path


def test_masked_and_read_only_paths(secure_rootfs):
    script = ("cat /proc/keys 2>&1 | head -1; echo @; ls /sys/firmware | wc -l; echo @; "
              "echo moby > /proc/sys/kernel/domainname 2>&1; cat /proc/sys/kernel/domainname")
    result = run(["sh", "-c", script], capture=True, rootfs=secure_rootfs)
    inside = result.text.split("@\n")
    assert inside[0].strip() == ""  # /dev/null over /proc/keys
    assert inside[1].strip() == "0"  # an empty tmpfs over /sys/firmware
    assert "Read-only file system" in result.stderr.decode() and "moby" not in inside[2]
    # control: --privileged has no masks; the write lands in the container's own UTS namespace only
    control = run(["sh", "-c", script], capture=True, rootfs=secure_rootfs, privileged=True).text.split("@\n")
    assert control[1].strip() != "0" or not os.listdir("/sys/firmware")
    assert "moby" in control[2]


def test_the_device_cgroup_refuses_devices_that_are_not_the_defaults(secure_rootfs):
    # in /dev (a tmpfs without nodev): on a nodev mount the open would fail before the device cgroup
    script = "mknod /dev/probe-loop b 7 0; head -c 1 /dev/probe-loop > /dev/null; echo $?; head -c 1 /dev/zero | wc -c"
    inside = run(["sh", "-c", script], capture=True, rootfs=secure_rootfs)
    assert "Operation not permitted" in inside.stderr.decode()  # opening the block device: the device cgroup said no
    assert inside.text.split()[-1] == "1"  # /dev/zero, a default device, still works
    control = run(["sh", "-c", script], capture=True, rootfs=secure_rootfs, privileged=True)
    assert "Operation not permitted" not in control.stderr.decode()  # past the device cgroup (ENXIO or data)


def test_the_init_is_not_dumpable_so_proc_1_does_not_lead_to_the_host(secure_rootfs):
    script = ("for link in exe cwd root fd/0; do readlink /proc/1/$link || echo DENIED-$link; done; "
              "for map in /proc/1/map_files/*; do head -c 1 $map > /dev/null 2>&1 && echo OPENED || echo DENIED-maps; "
              "break; done")
    inside = run(["sh", "-c", script], capture=True, rootfs=secure_rootfs, init=True)
    assert inside.text.split() == ["DENIED-exe", "DENIED-cwd", "DENIED-root", "DENIED-fd/0", "DENIED-maps"], inside.text
    control = run(["sh", "-c", "readlink /proc/1/exe"], capture=True, rootfs=secure_rootfs, init=True, privileged=True)
    assert "python" in control.text  # with CAP_SYS_PTRACE (privileged) the link is readable: what the default hides


def test_bad_security_input_is_one_line_and_leaves_nothing(cli, secure_rootfs):
    for args in (["--cap-add", "NOSUCH"], ["--security-opt", "seccomp=/no/such.json"], ["--security-opt", "label=x"],
                 ["--security-opt", "nonsense"], ["--cap-drop", "bogus"]):
        done = cli("--rootfs", secure_rootfs, *args, "true")
        assert done.returncode == 125 and done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr, args
    done = cli("--cap-add", "SYS_ADMIN", "true")  # without a rootfs: refused, it would mean nothing
    assert done.returncode == 125 and b"--rootfs" in done.stderr


def test_a_device_given_with_device_is_usable_and_others_are_not(secure_rootfs):
    allowed = run(["sh", "-c", "head -c 0 /dev/fuse && echo fuse-opened"], capture=True, rootfs=secure_rootfs,
                  devices=("/dev/fuse",))
    assert "fuse-opened" in allowed.text
    # the control: the same device (10:229), made by hand without --device, is refused by the device cgroup
    refused = run(["sh", "-c", "mknod /dev/other c 10 229; head -c 0 /dev/other || echo other-refused"],
                  capture=True, rootfs=secure_rootfs)
    assert "other-refused" in refused.text and "Operation not permitted" in refused.stderr.decode()


def test_a_namespaced_sysctl_changes_the_containers_namespace_only(secure_rootfs):
    with open("/proc/sys/kernel/msgmax") as file:
        host_before = file.read()
    inside = run(["cat", "/proc/sys/kernel/msgmax"], capture=True, rootfs=secure_rootfs, sysctls=("kernel.msgmax=4321",))
    assert inside.text.strip() == "4321"
    with open("/proc/sys/kernel/msgmax") as file:
        assert file.read() == host_before  # the IPC namespace's own value, not the host's
    from moby_dick import UsageError

    for bad in ("kernel.hostname=x", "vm.swappiness=1", "nonsense"):
        with pytest.raises(UsageError):
            run(["true"], rootfs=secure_rootfs, sysctls=(bad,))
    with pytest.raises(UsageError):  # net.* with the host's network namespace would change the host
        run(["true"], rootfs=secure_rootfs, sysctls=("net.ipv4.ip_forward=1",), share={"net"})
