"""The OCI front end: the config.json that `runc spec` writes (stored from runc 1.1.5) into the typed
spec and back, without losing what moby-dick reads; malformed documents are one line."""

import json
from pathlib import Path

import pytest

from moby_dick.config import Capabilities, IdMap, Mount, Namespace
from moby_dick.errors import UsageError
from moby_dick.oci import from_oci, to_oci
from moby_dick.plan import describe, plan

DATA = Path(__file__).parent / "data"


def runc_spec(name="runc-spec.json"):
    return json.loads((DATA / name).read_text())


def test_runc_spec_parses_into_the_typed_spec():
    config = from_oci(runc_spec(), bundle="/bundles/b1")
    assert config.root.path == "/bundles/b1/rootfs" and config.root.readonly and not config.root.copy_on_write
    assert config.process.args == ("sh",) and config.process.terminal and config.process.no_new_privs
    assert dict(config.process.env)["TERM"] == "xterm" and config.process.cwd == "/"
    assert config.process.capabilities.bounding == ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert config.process.rlimits[0].type == "RLIMIT_NOFILE" and config.process.rlimits[0].hard == 1024
    assert [n.kind for n in config.namespaces] == ["pid", "net", "ipc", "uts", "mnt"]
    assert config.hostname == "runc"
    assert Mount("/dev/pts", "devpts", "devpts",
                 ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")) in config.mounts
    assert "/proc/kcore" in config.masked_paths and "/proc/sys" in config.readonly_paths


@pytest.mark.parametrize("name", ["runc-spec.json", "runc-spec-rootless.json"])
def test_runc_spec_round_trips_through_the_typed_spec(name):
    document = runc_spec(name)
    config = from_oci(document, bundle="/b")
    again = from_oci(to_oci(config, bundle="/b"), bundle="/b")
    assert again == config
    written = to_oci(config, bundle="/b")
    for key in ("process", "root", "hostname", "mounts"):
        assert written[key] == document[key] or key == "process" and _same_process(written[key], document[key])
    assert written["linux"]["namespaces"] == document["linux"]["namespaces"]
    assert written["linux"]["maskedPaths"] == document["linux"]["maskedPaths"]


def _same_process(written, original):
    return {k: v for k, v in written.items() if v} == {k: v for k, v in original.items() if v}


def test_rootless_spec_has_a_user_namespace_and_id_maps():
    config = from_oci(runc_spec("runc-spec-rootless.json"))
    assert Namespace("user") in config.namespaces and "net" not in [n.kind for n in config.namespaces]
    assert config.uid_mappings == (IdMap(0, 1000, 1),) or config.uid_mappings[0].container_id == 0


def test_namespaces_with_a_path_are_joined_and_resources_become_limits():
    document = {"process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"},
                "linux": {"namespaces": [{"type": "network", "path": "/proc/42/ns/net"}, {"type": "mount"}],
                          "resources": {"memory": {"limit": 64 << 20}, "pids": {"limit": 0},
                                        "cpu": {"quota": 50000, "period": 100000}}},
                "unknownField": {"ignored": True}}
    config = from_oci(document, "/b")
    assert config.namespace("net") == Namespace("net", "/proc/42/ns/net") and config.unshares("mnt")
    assert not config.unshares("net")
    assert config.limits.memory == 64 << 20 and config.limits.pids is None and config.limits.cpus == 0.5
    text = describe(plan(config, _layout()))  # v1: PID 1 moves itself into each hierarchy
    assert "write 0 (itself, one thread) to /sys/fs/cgroup/" in text and "/sys/fs/cgroup/memory/" in text


def _layout():
    from moby_dick.cgroups import Layout

    return Layout("v1", {c: ("/sys/fs/cgroup/" + c, "/") for c in ("memory", "cpu", "cpuacct", "pids", "freezer")},
                  frozenset(("memory", "cpu", "cpuacct", "pids", "freezer")))


@pytest.mark.parametrize("document, words", [
    ([], "top level"), ({"process": {"args": "sh"}}, "process.args"), ({"process": {"env": ["NOEQUALS"]}}, "KEY=VALUE"),
    ({"root": {"path": ""}}, "root.path"), ({"linux": {"namespaces": [{"type": "bogus"}]}}, "namespace type"),
    ({"mounts": [{"destination": "relative"}]}, "absolute"), ({"linux": {"namespaces": "pid"}}, "list of objects"),
    ({"process": {"args": ["sh"], "cwd": "rel"}}, "cwd"),
])
def test_malformed_documents_are_one_line(document, words):
    with pytest.raises(UsageError) as caught:
        from_oci(document)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_capabilities_record_keeps_every_set():
    caps = Capabilities(bounding=("CAP_KILL",), ambient=())
    assert caps.effective == () and caps.bounding == ("CAP_KILL",)
