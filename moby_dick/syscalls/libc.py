"""libc's functions and the few C types the runtime passes them, bound with ``_ctypes``.

Python 3.11's ``os`` has no unshare, setns, mount, umount2, pivot_root, sethostname, prctl, capset,
close_range or openat2, so the runtime calls libc. ``import ctypes`` costs ~3 ms per start on this
machine: the package builds some 30 classes and imports ``types``, ``struct`` and its endianness
helpers. ``_ctypes``, the C module it wraps, costs ~0.5 ms. This module binds what the runtime needs
exactly as ``ctypes/__init__.py`` does (read it: ``CFUNCTYPE``, ``CDLL``, the simple types'
``_type_`` codes), and nothing more:

- a simple C type is a subclass of ``_SimpleCData`` whose ``_type_`` is a struct-module code
  ("i" int, "I" unsigned int, "l" long, "L" unsigned long, "Q" uint64, "c" char);
- ``TYPE * N`` is an array type (the C module makes and caches it);
- a libc function is a ``CFuncPtr`` subclass instance made from ``(name, library)``: it returns a C
  int, saves ``errno`` after each call (``get_errno()`` reads it), and converts its arguments as
  ctypes does (int -> int, bytes -> char *, None -> NULL, ``byref(x)`` -> a pointer to x);
  :meth:`Libc.typed` gives one fixed argument and result types (``argtypes``, ``restype``), so a call
  made often converts plain ints in C instead of building a ctypes object per argument.

The rest of the standard ``ctypes`` (structures, callbacks, the libseccomp binding) stays where it is
used off the start path: :mod:`moby_dick.seccomp`, :mod:`moby_dick.devices_bpf`.
"""

from __future__ import annotations

from _ctypes import (FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, CFuncPtr, _SimpleCData, addressof, byref, dlopen,
                     get_errno, sizeof)

__all__ = ("c_int", "c_uint", "c_long", "c_ulong", "c_uint32", "c_uint64", "c_size_t", "c_char", "c_char_p",
           "Libc", "addressof", "byref", "get_errno", "sizeof", "string_buffer")


def _simple_type(name: str, code: str) -> type:
    """A C type as ctypes defines one: ``class c_int(_SimpleCData): _type_ = "i"``."""
    return type(name, (_SimpleCData,), {"_type_": code})


c_int, c_uint, c_long, c_ulong, c_uint64, c_char, c_char_p = (
    _simple_type(name, code) for name, code in (("c_int", "i"), ("c_uint", "I"), ("c_long", "l"),
                                                ("c_ulong", "L"), ("c_uint64", "Q"), ("c_char", "c"),
                                                ("c_char_p", "z")))
c_uint32 = c_uint  # Linux: int is 32 bits on every architecture
c_size_t = c_ulong  # Linux: LP64 or ILP32, size_t is as wide as a long


class _Function(CFuncPtr):
    """A libc function: ``int f(...)``, errno saved after each call (ctypes' ``use_errno=True``)."""

    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Libc:
    """The C library this process already has loaded (``dlopen(NULL)``): ``libc.mount(...)``. A
    function is looked up on first use and kept, as ``ctypes.CDLL`` keeps it."""

    def __init__(self):
        self._handle = dlopen(None, 0)  # the program and what it loaded: libc is among them

    def __getattr__(self, name: str) -> _Function:
        if name.startswith("_"):
            raise AttributeError(name)
        function = _Function((name, self))
        setattr(self, name, function)
        return function

    def typed(self, name: str, restype, *argtypes) -> _Function:
        """Another binding of ``name`` with its argument and result types fixed (``argtypes``,
        ``restype``): a variadic function such as ``syscall(2)`` is called with exact C types."""
        function = _Function((name, self))
        function.restype, function.argtypes = restype, argtypes
        return function


def string_buffer(data: bytes):
    """A mutable C copy of ``data`` (``ctypes.create_string_buffer`` without the trailing NUL)."""
    return (c_char * len(data)).from_buffer_copy(data)
