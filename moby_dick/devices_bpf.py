"""Device rules on cgroup v2: a BPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup.

cgroup v2 has no ``devices.allow``/``devices.deny`` files: the kernel asks a BPF program, run for every
``open(2)`` and ``mknod(2)`` of a device node by a process of the cgroup, with ``struct bpf_cgroup_dev_ctx
{u32 access_type; u32 major; u32 minor}`` (access_type = access << 16 | type), and the answer is its return
value (1 allow, 0 deny: EPERM). Syscalls: ``bpf(BPF_PROG_LOAD)`` and ``bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)``
on a descriptor of the cgroup's directory. Read bpf(2), Documentation/admin-guide/cgroup-v2.rst ("Device
controller"), include/uapi/linux/bpf.h; runc's ``libcontainer/cgroups/devices/devicefilter.go`` emits the same
shape of program.

:func:`program` is pure (unit-tested instruction by instruction); :func:`attach` is the door. The rules are
the v1 texts moby-dick already writes (``"c 1:3 rwm"``, ``"a"``), in order, the last match winning, as the
v1 controller evaluates a deny-all followed by allows.
"""

from __future__ import annotations

import struct

from .records import Record

# struct bpf_insn: u8 code; u8 dst:4, src:4; s16 off; s32 imm
_INSN = struct.Struct("<BBhi")
LDX_W, AND_K, RSH_K, MOV32_X, JNE_K, JNE_X, MOV64_K, EXIT = 0x61, 0x54, 0x74, 0xBC, 0x55, 0x5D, 0xB7, 0x95
R0, R1, R2, R3, R4, R5, R6 = range(7)
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI = 15, 6, 2
SYSCALL_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return _INSN.pack(code, (src << 4) | dst, off, imm)


def parse_rule(text: str) -> tuple[int | None, int | None, int | None, int]:
    """``"c 1:3 rwm"`` -> (type, major, minor, access bits); ``"a"`` -> everything. None is a wildcard. Pure."""
    if text.strip() == "a":
        return None, None, None, ACC_MKNOD | ACC_READ | ACC_WRITE
    kind, numbers, access = text.split()
    major, minor = numbers.split(":")
    bits = (ACC_READ if "r" in access else 0) | (ACC_WRITE if "w" in access else 0) | (ACC_MKNOD if "m" in access else 0)
    return ({"c": DEV_CHAR, "b": DEV_BLOCK, "a": None}[kind], None if major == "*" else int(major),
            None if minor == "*" else int(minor), bits)


def _block(rule: tuple, allow: bool) -> list[bytes]:
    """The instructions of one rule: each condition jumps past the block when it does not hold."""
    kind, major, minor, access = rule
    tests = []
    if kind is not None:
        tests.append([insn(JNE_K, R2, imm=kind)])
    if access != ACC_MKNOD | ACC_READ | ACC_WRITE:  # every bit asked for must be one the rule grants
        tests.append([insn(MOV32_X, R6, R3), insn(AND_K, R6, imm=access), insn(JNE_X, R6, R3)])
    if major is not None:
        tests.append([insn(JNE_K, R4, imm=major)])
    if minor is not None:
        tests.append([insn(JNE_K, R5, imm=minor)])
    verdict = [insn(MOV64_K, R0, imm=1 if allow else 0), insn(EXIT)]
    body, remaining = [], sum(len(test) for test in tests) + len(verdict)
    for test in tests:
        remaining -= len(test)
        *head, jump = test  # the jump skips what is left of the block
        code, regs, _, imm = _INSN.unpack(jump)
        body += head + [_INSN.pack(code, regs, remaining, imm)]
    return body + verdict


def program(rules) -> bytes:
    """``[(allow, "c 1:3 rwm"), ...]`` (resources.device_rules' order; everything starts denied) -> the program."""
    prologue = [insn(LDX_W, R2, R1, 0), insn(AND_K, R2, imm=0xFFFF),   # r2 = type
                insn(LDX_W, R3, R1, 0), insn(RSH_K, R3, imm=16),        # r3 = access
                insn(LDX_W, R4, R1, 4), insn(LDX_W, R5, R1, 8)]         # r4 = major, r5 = minor
    blocks = []
    for allow, text in reversed(list(rules)):  # the last rule that matches decides: test it first
        blocks += _block(parse_rule(text), allow)
    return b"".join(prologue + blocks + [insn(MOV64_K, R0, imm=0), insn(EXIT)])


def attach(cgroup_dir: str, code: bytes) -> None:
    """bpf(BPF_PROG_LOAD) the program, bpf(BPF_PROG_ATTACH) it to ``cgroup_dir`` (a v2 cgroup). The program
    stays attached (the kernel holds it) until the cgroup is removed; our descriptors are closed."""
    import ctypes
    import os
    import platform

    from .errors import SyscallError

    libc = ctypes.CDLL(None, use_errno=True)
    number = SYSCALL_BPF[platform.machine()]
    instructions = ctypes.create_string_buffer(code, len(code))
    license_text = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8, ctypes.addressof(instructions),
                     ctypes.addressof(license_text), 1, len(log), ctypes.addressof(log))
    fd = libc.syscall(number, BPF_PROG_LOAD, attr, 128)
    if fd < 0:
        error = ctypes.get_errno()
        detail = log.value.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise SyscallError("bpf(BPF_PROG_LOAD)", error, f"cgroup device program ({detail[0]})")
    try:
        directory = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attach_attr = ctypes.create_string_buffer(struct.pack("<IIII", directory, fd, BPF_CGROUP_DEVICE,
                                                                  BPF_F_ALLOW_MULTI), 128)
            if libc.syscall(number, BPF_PROG_ATTACH, attach_attr, 128) != 0:
                raise SyscallError("bpf(BPF_PROG_ATTACH)", ctypes.get_errno(), cgroup_dir)
        finally:
            os.close(directory)
    finally:
        os.close(fd)


class AttachDeviceFilter(Record):
    """Host step (cgroup v2), after the cgroup exists: attach the device program made from ``rules``."""

    __slots__ = ("cgroup", "rules")

    def apply(self, host) -> None:
        attach(self.cgroup.dirs[""], program(self.rules))

    def __str__(self) -> str:
        return (f"bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE, {len(program(self.rules)) // 8} instructions from "
                f"{len(self.rules)} rules); bpf(BPF_PROG_ATTACH, the cgroup, BPF_CGROUP_DEVICE)")
