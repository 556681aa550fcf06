"""IPC isolation: the container's own System V IPC objects and POSIX message queues.

Syscall: ``unshare(CLONE_NEWIPC)`` (made by :mod:`moby_dick.namespaces`); nothing else is needed,
because a new IPC namespace starts empty and is destroyed, with every queue, semaphore set and
shared memory segment in it, when its last process exits. Read ipc_namespaces(7), sysvipc(7),
msgget(2), and ipcmk(1)/ipcs(1) for the tools the seed's README uses.

Evidence: ``/proc/sysvipc/msg`` lists the message queues of the IPC namespace *of the process
reading it* (not of the proc mount), so the same file read inside and outside differs
(:func:`moby_dick.probe.message_queues`).
"""

from __future__ import annotations

KIND = "ipc"
