"""Fixtures for the tests that drive moby-dick-oci as the engines do: a bundle, the entry point, the
peer suites in ../shared/peer (or $MOBY_PEER_DIR)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest



@pytest.fixture(scope="session")
def oci_entry():
    """The installed moby-dick-oci console script, as an engine would call it."""
    entry = Path(sys.executable).parent / "moby-dick-oci"
    if not entry.exists():
        found = shutil.which("moby-dick-oci")
        assert found, "moby-dick-oci is not installed (pip install -e .)"
        entry = Path(found)
    return str(entry)


@pytest.fixture
def oci(oci_entry, tmp_path):
    """Run ``moby-dick-oci --root <own state dir> ARGS``; returns the CompletedProcess."""
    state_root = tmp_path / "state"
    counter = iter(range(1_000_000))

    def call(*args, input=None, timeout=60, log=None):
        """stdout and stderr go to files, as the engines give them: a detached container inherits
        them, and would hold a pipe open long after create returned."""
        command = [oci_entry, "--root", str(state_root)]
        if log:
            command += ["--log", str(log), "--log-format", "json"]
        number = next(counter)
        out, err = tmp_path / f"out.{number}", tmp_path / f"err.{number}"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            done = subprocess.run(command + list(args), stdout=stdout, stderr=stderr, text=True,
                                  input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                  timeout=timeout)
        done.stdout, done.stderr = out.read_text(), err.read_text()
        return done

    call.root = state_root
    yield call
    if state_root.exists():  # whatever a failed test left: removed, and then the test still fails on it
        for name in os.listdir(state_root):
            call("delete", "--force", name)


@pytest.fixture
def bundle(tmp_path, rootfs):
    """An OCI bundle: a copy of the busybox rootfs and the config `moby-dick-oci spec` writes, made
    non-interactive."""
    import json

    path = tmp_path / "bundle"
    shutil.copytree(rootfs, path / "rootfs", symlinks=True)

    def configure(args, **process):
        config_path = path / "config.json"
        if config_path.exists():
            config_path.unlink()
        from moby_dick.oci_cli import default_spec

        document = default_spec()
        document["process"].update({"terminal": False, "args": list(args), **process})
        config_path.write_text(json.dumps(document))
        return str(path)

    configure.path = path
    return configure
