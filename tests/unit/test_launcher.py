"""The -I -S launchers (moby_dick/launcher.py): their text, and that one written to a directory runs."""

import os
import subprocess
import sys

from moby_dick import launcher


def test_the_launcher_starts_python_isolated_without_site_and_says_where_moby_dick_is():
    text = launcher.script("moby_dick.cli", "/opt/venv/bin/python", ["/src", "/opt/venv/lib/site-packages"])
    lines = text.splitlines()
    assert lines[0] == "#!/opt/venv/bin/python -ISOO"  # one word after the interpreter: Linux passes one argument
    assert "sys.path[:0] = ['/src']" in lines and "sys.path += ['/opt/venv/lib/site-packages']" in lines
    assert lines[-2:] == ["from moby_dick.cli import entry", "entry()"]
    assert lines.index("gc.disable()  # one command's process: no cycle collection (see moby_dick/launcher.py)") \
        < lines.index("from moby_dick.cli import entry")  # before the imports, whose objects it would walk


def test_written_launchers_run_from_their_directory_with_the_environment_ignored(tmp_path):
    written = launcher.install(str(tmp_path))
    assert sorted(os.path.basename(path) for path in written) == ["moby-dick", "moby-dick-oci"]
    assert all(os.access(path, os.X_OK) for path in written)
    # PYTHONPATH pointing at a directory whose moby_dick would fail: -I ignores it
    decoy = tmp_path / "decoy" / "moby_dick"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy was imported')\n")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "decoy")}
    done = subprocess.run([str(tmp_path / "moby-dick"), "--version"], capture_output=True, text=True, env=environment)
    assert done.returncode == 0 and done.stdout.startswith("moby-dick "), done.stderr
    interpreter = open(written[0]).readline()[2:].split()[0]
    assert os.path.samefile(interpreter, sys.executable)  # no python in the directory: this one
