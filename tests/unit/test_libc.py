"""moby_dick.syscalls.libc binds libc as ctypes does: the same type sizes, errno kept after a call."""

import ctypes
import errno
import os

from moby_dick.syscalls import libc


def test_the_types_are_ctypes_own_sizes():
    for ours, theirs in ((libc.c_int, ctypes.c_int), (libc.c_uint, ctypes.c_uint), (libc.c_long, ctypes.c_long),
                         (libc.c_ulong, ctypes.c_ulong), (libc.c_uint64, ctypes.c_uint64),
                         (libc.c_uint32, ctypes.c_uint32), (libc.c_size_t, ctypes.c_size_t), (libc.c_char, ctypes.c_char)):
        assert libc.sizeof(ours) == ctypes.sizeof(theirs), ours
    assert libc.sizeof(libc.c_uint64 * 3) == 24


def test_a_call_returns_its_int_and_keeps_errno():
    library = libc.Libc()
    assert library.getpid() == os.getpid()
    assert library.close(libc.c_int(-1)) == -1 and libc.get_errno() == errno.EBADF
    read, write = os.pipe()
    data = libc.string_buffer(b"through libc")
    assert library.write(write, libc.byref(data), libc.c_size_t(len(data))) == len(data)
    assert os.read(read, 100) == b"through libc"
    os.close(read)
    os.close(write)
    assert library.getpid is library.getpid  # looked up once, then kept


def test_the_seccomp_struct_is_made_once_before_the_fork_and_names_the_program():
    from moby_dick.syscalls import Kernel, libc

    program = bytes(range(16))  # two sock_filter instructions (never installed here)
    kernel = Kernel()
    buffer, fprog = kernel.prepare_seccomp(program)
    assert kernel.prepare_seccomp(program)[1] is fprog  # kept: the child builds nothing
    assert fprog[0] == 2 and fprog[1] == libc.addressof(buffer) and bytes(buffer) == program
