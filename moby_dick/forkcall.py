"""Run a Python function in a forked child and get its result back: "the child reports, the parent asserts".

Whatever unshares, setns's or changes the hostname must not do it to the caller: a pytest worker or
a Jupyter kernel would be changed for good, and ``unshare``/``setns`` refuse some changes to a
multithreaded process. So the work runs in a forked child that sends back a pickled result record
and always ``os._exit``s, and the caller re-raises the child's exception if it had one.

  caller                          child
    |-- socketpair, fork ----------->| (optional: unshare / setns first)
    |                                | result = fn(*args)
    |<---- value <pickle(result)> ---| or "raise <pickle(exception)>"
    |<---- EOF, exit status ---------| os._exit(0)

The messages travel on the one channel (:mod:`moby_dick.channel`).
Syscalls: ``fork(2)``, ``socketpair(2)``, ``setns(2)``, ``unshare(2)``. Also: :func:`in_lab`, a throwaway
stand-in for "the host" that demos use so their negative controls can leak for real, harmlessly.
"""

from __future__ import annotations

import os
import pickle

from .channel import Channel
from .errors import ChildFailed


def output_of(fn, *args) -> tuple[int, str]:
    """Run ``fn(*args)`` in a forked child whose stdout is a pipe and stdin /dev/null; return (the exit
    status: ``fn``'s int result, 1 if it raised, and everything it wrote to fd 1)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            os.dup2(write_end, 1)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            code = fn(*args) or 0
        finally:
            os._exit(code if isinstance(code, int) else 0)
    os.close(write_end)
    with os.fdopen(read_end, errors="replace") as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def call_in_child(fn, *args, **kwargs):
    ours, theirs = Channel.pair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        try:
            try:
                kind, payload = "value", pickle.dumps(fn(*args, **kwargs))
            except BaseException as exc:  # report everything, even SystemExit, to the parent
                try:
                    kind, payload = "raise", pickle.dumps(exc)
                except Exception as unpicklable:
                    kind, payload = "raise", pickle.dumps(ChildFailed(f"unpicklable error: {unpicklable}"))
            theirs.send(kind, payload)
        except BaseException:
            pass
        finally:
            os._exit(0)
    theirs.close()
    try:
        kind, payload, _ = ours.receive()
    finally:
        ours.close()
        _, status = os.waitpid(pid, 0)
    if kind is None:
        raise ChildFailed(f"forked helper {pid} died without a result (wait status {status})")
    value = pickle.loads(payload)
    if kind == "raise":
        raise value
    return value


def _enter_namespaces(pid: int, kinds) -> None:
    from .namespaces import KINDS
    from .syscalls import KERNEL

    for kind in kinds:
        path = f"/proc/{pid}/ns/{kind}"
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            KERNEL.setns(fd, KINDS[kind].flag, path)
        finally:
            os.close(fd)


def _call_inside(pid, kinds, fn, args):
    _enter_namespaces(pid, kinds)
    return fn(*args)


def call_in_namespaces(pid: int, kinds, fn, *args):
    """Run ``fn(*args)`` in a child that first joins ``pid``'s namespaces of the given kinds."""
    return call_in_child(_call_inside, pid, tuple(kinds), fn, args)


LAB_HOSTNAME = "intacthostname"  # the seed README's host


def _lab_main(kinds, hostname, fn, args):
    from . import mounts
    from .namespaces import UnshareNamespaces
    from .syscalls import KERNEL

    UnshareNamespaces(tuple(kinds)).apply(KERNEL)
    if "mnt" in kinds:
        mounts.MakeRootPrivate("private").apply(KERNEL)
    if "uts" in kinds:
        KERNEL.sethostname(hostname)
    return fn(*args)


def in_lab(fn, *args, kinds=("uts", "ipc", "mnt"), hostname: str = LAB_HOSTNAME):
    """Run ``fn(*args)`` in a throwaway stand-in for the host: fresh namespaces of ``kinds``.

    Inside, ``hostname`` is the lab host's name, the lab has its own IPC objects and its own copy of
    the mount table (private, so nothing made in it reaches the real host). The demos' negative
    controls share these with a container and leak into them, for real, without touching the
    machine: everything dies with the lab.
    """
    return call_in_child(_lab_main, tuple(kinds), hostname, fn, args)
