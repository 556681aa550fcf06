"""Which shared libraries a program needs, read from its ELF headers (pure parsing; no ``ldd``).

``ldd`` runs the program's dynamic loader; this reads the file instead: the ELF header, the program
headers (``PT_INTERP``: the loader's path; ``PT_DYNAMIC``: the dynamic section; ``PT_LOAD``: how
virtual addresses map to file offsets), and in the dynamic section the ``DT_NEEDED`` names, the string
table ``DT_STRTAB`` they index, and ``DT_RUNPATH``/``DT_RPATH``. Read elf(5) and ld.so(8).
"""

from __future__ import annotations

import os
import struct

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29
LIBRARY_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")


class NotElf(ValueError):
    pass


def read_dynamic_info(data: bytes) -> tuple[str | None, list[str], list[str]]:
    """(interpreter, needed library names, runpath directories) of an ELF image. Pure."""
    if data[:4] != b"\x7fELF":
        raise NotElf("not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        phoff, phentsize, phnum = struct.unpack_from(endian + "Q", data, 32)[0], *struct.unpack_from(endian + "HH", data, 54)
        ph_format, dyn_format = endian + "IIQQQQQQ", endian + "qQ"
    else:
        phoff, phentsize, phnum = struct.unpack_from(endian + "I", data, 28)[0], *struct.unpack_from(endian + "HH", data, 42)
        ph_format, dyn_format = endian + "IIIIIIII", endian + "iI"
    interpreter, dynamic, loads = None, None, []
    for index in range(phnum):
        fields = struct.unpack_from(ph_format, data, phoff + index * phentsize)
        if is64:
            p_type, _, offset, vaddr, _, filesz, _, _ = fields
        else:
            p_type, offset, vaddr, _, filesz, _, _, _ = fields
        if p_type == PT_INTERP:
            interpreter = data[offset:offset + filesz].rstrip(b"\0").decode()
        elif p_type == PT_DYNAMIC:
            dynamic = (offset, filesz)
        elif p_type == PT_LOAD:
            loads.append((vaddr, offset, filesz))
    if dynamic is None:
        return interpreter, [], []  # a static binary (busybox-static) needs nothing
    entries, size = [], struct.calcsize(dyn_format)
    for position in range(dynamic[0], dynamic[0] + dynamic[1], size):
        tag, value = struct.unpack_from(dyn_format, data, position)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    strtab_vaddr = next((value for tag, value in entries if tag == DT_STRTAB), None)
    strtab = next((offset + strtab_vaddr - vaddr for vaddr, offset, filesz in loads
                   if vaddr <= strtab_vaddr < vaddr + filesz), None) if strtab_vaddr is not None else None
    if strtab is None:
        return interpreter, [], []

    def string(at: int) -> str:
        end = data.index(b"\0", strtab + at)
        return data[strtab + at:end].decode()

    needed = [string(value) for tag, value in entries if tag == DT_NEEDED]
    runpath = [d for tag, value in entries if tag in (DT_RUNPATH, DT_RPATH) for d in string(value).split(":") if d]
    return interpreter, needed, runpath


def find_library(name: str, extra_dirs=(), root: str = "/") -> str | None:
    for directory in (*extra_dirs, *LIBRARY_DIRS):
        candidate = os.path.join(root, directory.lstrip("/"), name)
        if os.path.exists(candidate):
            return os.path.join(directory, name)
    return None


def dependencies(program: str) -> list[str]:
    """Every file ``program`` needs to run (its loader and libraries, recursively), as host paths."""
    found, queue = [], [program]
    seen = {os.path.realpath(program)}
    while queue:
        with open(queue.pop(), "rb") as file:
            interpreter, needed, runpath = read_dynamic_info(file.read())
        for path in ([interpreter] if interpreter else []) + [find_library(name, runpath) or name for name in needed]:
            if not path.startswith("/"):
                raise FileNotFoundError(f"library {path} (needed by {program}) not found")
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                found.append(path)
                queue.append(path)
    return found
