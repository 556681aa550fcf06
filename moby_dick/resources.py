"""OCI ``linux.resources`` beyond the limits moby-dick's own flags set: the cgroup files they become, and
the device cgroup's rules (v1's ``devices.allow``/``devices.deny``, v2's BPF program: :mod:`devices_bpf`).
Pure. Apart from :mod:`moby_dick.oci` so that a ``--rootfs`` start, whose device rules come from here,
does not import the whole OCI front end (~29 KB of bytecode). Read config-linux.md ("Control groups").
"""

from __future__ import annotations

from .errors import UsageError


def object_at(doc: dict, key: str) -> dict:
    """``doc[key]``, a JSON object ({} when absent); UsageError when it is something else."""
    value = doc.get(key) if isinstance(doc, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"config.json: {key} must be a JSON object")
    return value



# Devices every container may use whatever its rules say (runc's AllowedDevices): the nodes of the
# default /dev, the ptys, and mknod of anything (opening it is still checked).
DEFAULT_DEVICE_RULES = ("c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm")


def resource_files(resources: dict, devices=(), version: str = "v1") -> dict:
    """``linux.resources`` beyond what Limits carries -> ``{controller: {file: text}}`` to write. Pure.
    (Memory limit, swap, pids, CPU quota and shares go through cgroups.limit_files.)"""
    files: dict = {}

    def put(controller, name, value):
        if value is not None:
            files.setdefault(controller, {})[name] = str(value)

    memory, cpu = object_at(resources, "memory"), object_at(resources, "cpu")
    if version == "v2":
        put("", "memory.low", memory.get("reservation") or None)
        put("", "cpuset.cpus", cpu.get("cpus") or None)
        put("", "cpuset.mems", cpu.get("mems") or None)
        return files
    put("memory", "memory.soft_limit_in_bytes", memory.get("reservation") or None)
    put("memory", "memory.kmem.limit_in_bytes", memory.get("kernel") or None)
    put("memory", "memory.kmem.tcp.limit_in_bytes", memory.get("kernelTCP") or None)
    put("memory", "memory.swappiness", memory.get("swappiness"))
    if memory.get("disableOOMKiller"):
        put("memory", "memory.oom_control", 1)
    put("cpu", "cpu.rt_period_us", cpu.get("realtimePeriod") or None)
    put("cpu", "cpu.rt_runtime_us", cpu.get("realtimeRuntime") or None)
    put("cpu", "cpu.cfs_period_us", cpu.get("period") or None)  # as given (Limits rounds to 100 ms)
    put("cpu", "cpu.cfs_quota_us", cpu.get("quota") or None)
    put("cpuset", "cpuset.cpus", cpu.get("cpus") or None)
    put("cpuset", "cpuset.mems", cpu.get("mems") or None)
    blkio = object_at(resources, "blockIO")
    put("blkio", "blkio.weight", blkio.get("weight") or None)
    put("blkio", "blkio.leaf_weight", blkio.get("leafWeight") or None)
    for key, name in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                      ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
                      ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
                      ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device")):
        for entry in blkio.get(key) or ():
            put("blkio", name, f"{entry['major']}:{entry['minor']} {entry['rate']}")
    for limit in resources.get("hugepageLimits") or ():
        put("hugetlb", f"hugetlb.{limit['pageSize']}.limit_in_bytes", limit["limit"])
    network = object_at(resources, "network")
    put("net_cls", "net_cls.classid", network.get("classID"))
    for priority in network.get("priorities") or ():
        put("net_prio", "net_prio.ifpriomap", f"{priority['name']} {priority['priority']}")
    rules = device_rules(resources.get("devices") or (), devices) if resources.get("devices") else []
    if rules:
        files["devices"] = {"devices.deny": "a"}
        files["devices"].update({f"devices.{'allow' if allow else 'deny'}#{i}": rule
                                 for i, (allow, rule) in enumerate(rules)})
    return files


def device_rules(rules, devices=()) -> list[tuple[bool, str]]:
    """The device cgroup's rules, in order: the config's, then the defaults and the listed devices."""
    ordered = []
    for rule in rules:
        kind = rule.get("type") or "a"
        major = "*" if rule.get("major") in (None, -1) else rule["major"]
        minor = "*" if rule.get("minor") in (None, -1) else rule["minor"]
        text = "a" if kind == "a" and major == "*" and minor == "*" else f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"
        if text == "a" and not rule.get("allow"):
            continue  # deny everything: the first write does it
        ordered.append((bool(rule.get("allow")), text))
    ordered += [(True, rule) for rule in DEFAULT_DEVICE_RULES]
    ordered += [(True, f"{'c' if d.type == 'u' else d.type} {d.major}:{d.minor} {d.access}") for d in devices
                if d.type != "p"]  # a fifo is no device: the device cgroup has no rule for it
    return ordered
