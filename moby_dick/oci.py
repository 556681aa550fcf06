"""The OCI front end: a bundle's ``config.json`` (runtime-spec v1.3.0) to the typed spec, and back. Pure.

Read the runtime-spec's config.md and config-linux.md; runc's ``libcontainer/specconv`` does the same
job in Go. Unknown fields are ignored, as the spec requires of a runtime ("MUST NOT generate an error
if it encounters an unknown property"); fields moby-dick cannot honour on this machine are refused
in one line by :func:`problems` (the way runc and crun refuse an absent LSM).
"""

from __future__ import annotations

import os

from .config import (Capabilities, Config, Device, Hook, IdMap, Mount, Namespace, Process, Rlimit, Root,
                     User)
from .errors import UsageError
from .resources import object_at

SPEC_VERSION = "1.3.0"
# runtime-spec namespace type -> /proc/<pid>/ns name
NAMESPACE_TYPES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
                   "user": "user", "cgroup": "cgroup", "time": "time"}
KIND_TO_TYPE = {kind: name for name, kind in NAMESPACE_TYPES.items()}
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
PROPAGATIONS = {"": "private", "private": "private", "rprivate": "private", "slave": "slave",
                "rslave": "slave", "shared": "shared", "rshared": "shared", "unbindable": "unbindable",
                "runbindable": "unbindable"}


def from_oci(document: dict, bundle: str = ".") -> Config:
    """``config.json`` (parsed JSON) -> Config. ``bundle``: the directory a relative root.path is in.
    Raises UsageError, one line naming the field, for what is malformed."""
    if not isinstance(document, dict):
        raise UsageError("config.json: the top level must be a JSON object")
    linux = object_at(document, "linux")
    process = _process(object_at(document, "process"))
    root_doc = object_at(document, "root")
    root = None
    if root_doc:
        path = root_doc.get("path")
        if not isinstance(path, str) or not path:
            raise UsageError("config.json: root.path must be a non-empty string")
        path = os.path.normpath(os.path.join(bundle, path))
        root = Root(path, bool(root_doc.get("readonly", False)), "pivot", copy_on_write=False)
    namespaces = []
    for entry in _list(linux, "namespaces"):
        kind = NAMESPACE_TYPES.get(entry.get("type"))
        if kind is None:
            raise UsageError(f"config.json: unknown namespace type {entry.get('type')!r}")
        namespaces.append(Namespace(kind, entry.get("path") or None))
    mounts = tuple(Mount(m.get("destination", ""), m.get("type") or ("bind" if _is_bind(m) else "none"),
                         m.get("source"), tuple(m.get("options") or ())) for m in _list(document, "mounts"))
    for mount in mounts:
        if not mount.destination.startswith("/"):
            raise UsageError(f"config.json: mount destination {mount.destination!r} must be absolute")
    hooks = []
    for when in HOOK_KINDS:
        for hook in _list(object_at(document, "hooks"), when):
            if not isinstance(hook.get("path"), str):
                raise UsageError(f"config.json: every {when} hook needs a path")
            hooks.append(Hook(when, hook["path"], tuple(hook.get("args") or ()), tuple(hook.get("env") or ()),
                              hook.get("timeout")))
    resources = object_at(linux, "resources")
    return Config(
        process=process, root=root, hostname=document.get("hostname") or None, mounts=mounts,
        namespaces=tuple(namespaces),
        uid_mappings=tuple(_id_maps(linux, "uidMappings")), gid_mappings=tuple(_id_maps(linux, "gidMappings")),
        limits=limits_from_resources(resources), cgroup=True, cgroup_path=linux.get("cgroupsPath") or None,
        resources=resources,
        propagation=PROPAGATIONS.get(linux.get("rootfsPropagation", ""), "private"),
        masked_paths=tuple(linux.get("maskedPaths") or ()), readonly_paths=tuple(linux.get("readonlyPaths") or ()),
        sysctl=tuple(sorted((linux.get("sysctl") or {}).items())), seccomp=linux.get("seccomp"),
        hooks=tuple(hooks), annotations=tuple(sorted((document.get("annotations") or {}).items())),
        domainname=document.get("domainname") or None,
        devices=tuple(Device(d["path"], d.get("type", "c"), d.get("major", 0), d.get("minor", 0),
                             d.get("fileMode", 0o666), d.get("uid", 0), d.get("gid", 0))
                      for d in _list(linux, "devices")))


def _process(doc: dict) -> Process:
    if not doc:
        return Process(args=())
    args = doc.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise UsageError("config.json: process.args must be a list of strings")
    user_doc = doc.get("user") or {}
    user = User(int(user_doc.get("uid", 0)), int(user_doc.get("gid", 0)),
                tuple(int(g) for g in user_doc.get("additionalGids") or ()), user_doc.get("umask"))
    env = []
    for item in doc.get("env") or ():
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"config.json: process.env entry {item!r} is not KEY=VALUE")
        env.append((key, value))
    caps_doc = doc.get("capabilities")
    capabilities = None
    if caps_doc is not None:
        capabilities = Capabilities(**{name: tuple(caps_doc.get(name) or ()) for name in CAPABILITY_SETS})
    size = doc.get("consoleSize")
    cwd = doc.get("cwd") or "/"
    if not cwd.startswith("/"):
        raise UsageError(f"config.json: process.cwd {cwd!r} must be absolute")
    return Process(args=tuple(args), env=tuple(env), cwd=cwd, user=user, terminal=bool(doc.get("terminal")),
                   capabilities=capabilities, no_new_privs=bool(doc.get("noNewPrivileges")),
                   rlimits=tuple(Rlimit(r["type"], int(r["soft"]), int(r["hard"])) for r in doc.get("rlimits") or ()),
                   console_size=(size["height"], size["width"]) if size else None,
                   oom_score_adj=doc.get("oomScoreAdj"))


def limits_from_resources(resources: dict):
    """``linux.resources`` -> cgroups.Limits, or None when it sets none of them. Zero or absent: unset."""
    from .cgroups import Limits

    memory = object_at(resources, "memory")
    cpu = object_at(resources, "cpu")
    pids = object_at(resources, "pids")
    values = {}
    if memory.get("limit") and memory["limit"] > 0:
        values["memory"] = int(memory["limit"])
    if memory.get("swap") and values.get("memory"):
        values["memory_swap"] = int(memory["swap"])
    if pids.get("limit") and pids["limit"] > 0:
        values["pids"] = int(pids["limit"])
    if cpu.get("quota") and cpu["quota"] > 0:
        values["cpus"] = int(cpu["quota"]) / int(cpu.get("period") or 100_000)
    if cpu.get("shares"):
        values["cpu_shares"] = int(cpu["shares"])
    return Limits(**values) if values else None


def to_oci(config: Config, bundle: str | None = None) -> dict:
    """Config -> ``config.json`` (what ``moby-dick-oci spec`` writes). ``bundle``: write root.path
    relative to it."""
    process = config.process
    user = process.user or User()
    doc: dict = {"ociVersion": SPEC_VERSION}
    proc = {"terminal": process.terminal, "user": {"uid": user.uid, "gid": user.gid},
            "args": list(process.args), "env": [f"{k}={v}" for k, v in process.env or ()], "cwd": process.cwd or "/"}
    if user.additional_gids:
        proc["user"]["additionalGids"] = list(user.additional_gids)
    if user.umask is not None:
        proc["user"]["umask"] = user.umask
    if process.console_size:
        proc["consoleSize"] = {"height": process.console_size[0], "width": process.console_size[1]}
    if process.capabilities is not None:
        proc["capabilities"] = {name: list(getattr(process.capabilities, name)) for name in CAPABILITY_SETS
                                if getattr(process.capabilities, name)}
    if process.rlimits:
        proc["rlimits"] = [{"type": r.type, "hard": r.hard, "soft": r.soft} for r in process.rlimits]
    if process.no_new_privs:
        proc["noNewPrivileges"] = True
    if process.oom_score_adj is not None:
        proc["oomScoreAdj"] = process.oom_score_adj
    doc["process"] = proc
    if config.root is not None:
        path = os.path.relpath(config.root.path, bundle) if bundle else config.root.path
        doc["root"] = {"path": path, "readonly": config.root.readonly}
    if config.hostname is not None:
        doc["hostname"] = config.hostname
    if config.domainname is not None:
        doc["domainname"] = config.domainname
    doc["mounts"] = [{key: value for key, value in (("destination", m.destination), ("type", m.type),
                                                   ("source", m.source), ("options", list(m.options)))
                      if value not in (None, [])} for m in config.mounts]
    hooks: dict = {}
    for hook in config.hooks:
        entry = {"path": hook.path}
        for key, value in (("args", list(hook.args)), ("env", list(hook.env)), ("timeout", hook.timeout)):
            if value:
                entry[key] = value
        hooks.setdefault(hook.when, []).append(entry)
    if hooks:
        doc["hooks"] = hooks
    if config.annotations:
        doc["annotations"] = dict(config.annotations)
    linux: dict = {}
    if config.uid_mappings:
        linux["uidMappings"] = [_id_map_doc(m) for m in config.uid_mappings]
    if config.gid_mappings:
        linux["gidMappings"] = [_id_map_doc(m) for m in config.gid_mappings]
    if config.sysctl:
        linux["sysctl"] = dict(config.sysctl)
    resources = dict(config.resources or {})
    resources.update(resources_from_limits(config.limits))
    if resources:
        linux["resources"] = resources
    if config.cgroup_path:
        linux["cgroupsPath"] = config.cgroup_path
    linux["namespaces"] = [{"type": KIND_TO_TYPE[n.kind], **({"path": n.path} if n.path else {})}
                           for n in config.namespaces]
    if config.devices:
        linux["devices"] = [{"path": d.path, "type": d.type, "major": d.major, "minor": d.minor,
                             "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid} for d in config.devices]
    if config.seccomp is not None:
        linux["seccomp"] = config.seccomp
    if config.propagation != "private":
        linux["rootfsPropagation"] = "r" + config.propagation if config.propagation != "unchanged" else ""
    if config.masked_paths:
        linux["maskedPaths"] = list(config.masked_paths)
    if config.readonly_paths:
        linux["readonlyPaths"] = list(config.readonly_paths)
    doc["linux"] = linux
    return doc


def resources_from_limits(limits) -> dict:
    if limits is None:
        return {}
    resources: dict = {}
    if limits.memory is not None:
        resources["memory"] = {"limit": limits.memory}
        if limits.memory_swap is not None:
            resources["memory"]["swap"] = limits.memory_swap
    if limits.pids is not None:
        resources["pids"] = {"limit": limits.pids}
    if limits.cpus is not None or limits.cpu_shares is not None:
        cpu: dict = {}
        if limits.cpus is not None:
            cpu.update(quota=round(limits.cpus * 100_000), period=100_000)
        if limits.cpu_shares is not None:
            cpu["shares"] = limits.cpu_shares
        resources["cpu"] = cpu
    return resources


def _id_map_doc(m: IdMap) -> dict:
    return {"containerID": m.container_id, "hostID": m.host_id, "size": m.size}


def _id_maps(linux: dict, key: str) -> list:
    return [IdMap(int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in _list(linux, key)]


def _is_bind(mount: dict) -> bool:
    return bool({"bind", "rbind"} & set(mount.get("options") or ()))


def _list(doc: dict, key: str) -> list:
    value = doc.get(key) if isinstance(doc, dict) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UsageError(f"config.json: {key} must be a list of objects")
    return value
