"""Network isolation: the container's own network stack.

Syscall: ``unshare(CLONE_NEWNET)`` (made by :mod:`moby_dick.namespaces`). A new network namespace
has exactly one device, the loopback ``lo``, and it is DOWN: no addresses, no routes, no way out,
as the seed's ``ip a`` shows. Read network_namespaces(7) and netdevice(7).

Evidence: ``/sys/class/net`` shows the devices of the network namespace that *mounted* sysfs, so
without a filesystem jail it still lists the host's devices. ``/proc/<pid>/net/dev`` and
``if_nameindex(3)`` answer for the process's own namespace (:func:`moby_dick.probe.interfaces`).
"""

from __future__ import annotations

KIND = "net"
