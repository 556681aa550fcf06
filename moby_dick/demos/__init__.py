"""Executable demos: each replays one scenario of the seed's README and asserts it against kernel evidence.

Every demo has the same shape:

* ``gather()`` runs the scenario (containers started through :mod:`moby_dick.runner`, the same
  commands a student types: ``hostname``, ``ipcmk``/``ipcs``, ``ip a``, ``mount``) and returns the
  evidence as plain data. Scenarios that would change the host run inside a *lab*
  (:func:`moby_dick.forkcall.in_lab`): a throwaway stand-in for the host, so the negative control
  can leak for real without touching the machine.
* ``claims(evidence)`` turns the evidence into claims that hold or fail, the isolated run's and the
  negative control's (the same steps with that namespace shared: the leak must appear, or the demo
  has proven nothing).
* ``story(evidence)`` gives the tables a reader sees: host and container side by side.

``python -m moby_dick.demos NAME`` exits 0 when every claim held, 1 when one failed (naming it), 77
when the demo cannot run here (not root, a namespace or a tool missing), with the reason.
"""

from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import asdict, dataclass, field

NAMES = ("hostname", "ipc", "network", "mount", "pid", "init", "jail", "memory", "pids", "cpu", "oci", "security", "userns",
         "bridge", "exec", "fds")


class CannotRun(Exception):
    """The demo cannot run on this machine; the message says why (exit status 77)."""


@dataclass
class Claim:
    text: str
    held: bool
    evidence: str = ""
    control: bool = False  # part of the negative control (the leak that must show)


@dataclass
class Section:
    title: str
    rows: list  # (what, left, right): by default the host, then the container
    note: str = ""
    columns: tuple = ("host", "container")


@dataclass
class Report:
    name: str
    title: str
    intro: str
    sections: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    transcripts: dict = field(default_factory=dict)  # label -> terminal text
    evidence: dict = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return bool(self.claims) and all(claim.held for claim in self.claims)

    @property
    def failed(self) -> list[Claim]:
        return [claim for claim in self.claims if not claim.held]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["held"] = self.held
        return data


def claim(text: str, held: bool, evidence: str = "", control: bool = False) -> Claim:
    return Claim(text, bool(held), evidence, control)


def require(tools=(), root: bool = True) -> None:
    """Raise CannotRun unless we are root and every tool is on PATH."""
    if root and os.geteuid() != 0:
        raise CannotRun("needs root to create namespaces; run it with sudo")
    for tool in tools:
        if shutil.which(tool) is None:
            raise CannotRun(f"needs the {tool!r} command (Debian: apt-get install util-linux iproute2)")


def load(name: str):
    if name not in NAMES:
        raise KeyError(name)
    return importlib.import_module(f"moby_dick.demos.{name}")


def run_demo(name: str) -> Report:
    """Gather the evidence, judge the claims, return the report (raises CannotRun)."""
    module = load(name)
    module.requirements()
    evidence = module.gather()
    report = Report(name, module.TITLE, module.INTRO, evidence=evidence)
    report.sections = module.story(evidence)
    report.claims = module.claims(evidence)
    report.transcripts = module.transcripts(evidence)
    return report


def split_marked(text: str, marker: str = "@@") -> dict[str, str]:
    """Split a container's output into parts that start with a ``@@name`` line (for one-run scripts)."""
    parts, current = {}, ""
    for line in text.splitlines(keepends=True):
        if line.startswith(marker):
            current = line[len(marker):].strip()
            parts[current] = ""
        else:
            parts[current] = parts.get(current, "") + line
    return parts
