"""Demo "hostname": the seed's "System identification" session, asserted.

    > moby-dick /bin/bash          > hostname josh       > exit
    > hostname                     > hostname            > hostname
    containerhostname              josh                  intacthostname

Runs in a lab whose hostname is ``intacthostname`` (as in the seed), so the control, which shares
the UTS namespace, can really rename "the host" without renaming this machine.
"""

from __future__ import annotations

from .. import probe
from ..forkcall import LAB_HOSTNAME, in_lab
from ..runner import run
from . import Section, claim, require

TITLE = "System identification: a UTS namespace gives the container its own hostname"
INTRO = ("The container runs `hostname`, then `hostname josh`, then `hostname` again. With its own UTS "
         "namespace the rename stays inside; with the host's (--uts host) it renames the host.")
SESSION = "hostname; hostname josh; hostname"


def requirements():
    require(tools=("hostname", "sh"))


def _scenario():
    host_uts = probe.namespace_id("self", "uts")
    before = probe.hostname()
    isolated = run(["sh", "-c", SESSION], capture=True)
    after_isolated = probe.hostname()
    control = run(["sh", "-c", SESSION], capture=True, share={"uts"})
    after_control = probe.hostname()
    return {
        "host_uts": str(host_uts), "host_before": before,
        "isolated_uts": str(isolated.namespaces["uts"]), "isolated_output": isolated.text.split(),
        "isolated_exit": isolated.exit_code, "host_after_isolated": after_isolated,
        "control_uts": str(control.namespaces["uts"]), "control_output": control.text.split(),
        "host_after_control": after_control,
    }


def gather() -> dict:
    evidence = in_lab(_scenario, kinds=("uts",))
    evidence["machine_hostname"] = probe.hostname()
    return evidence


def claims(ev):
    return [
        claim("the container has its own UTS namespace", ev["isolated_uts"] != ev["host_uts"],
              f"{ev['isolated_uts']} vs host {ev['host_uts']}"),
        claim("it starts as containerhostname", ev["isolated_output"][:1] == ["containerhostname"],
              f"hostname printed {ev['isolated_output'][:1]}"),
        claim("`hostname josh` renames the container", ev["isolated_output"][1:] == ["josh"],
              f"then printed {ev['isolated_output'][1:]}"),
        claim("the host keeps its name", ev["host_after_isolated"] == ev["host_before"] == LAB_HOSTNAME,
              f"host: {ev['host_before']!r} before, {ev['host_after_isolated']!r} after"),
        claim("control --uts host: the container is in the host's UTS namespace",
              ev["control_uts"] == ev["host_uts"], f"{ev['control_uts']} vs host {ev['host_uts']}",
              control=True),
        claim("control --uts host: `hostname josh` inside renames the host (the leak)",
              ev["host_after_control"] == "josh" and ev["control_output"][:1] == [ev["host_before"]],
              f"host became {ev['host_after_control']!r}", control=True),
    ]


def story(ev):
    return [
        Section("moby-dick sh -c 'hostname; hostname josh; hostname'", [
            ("UTS namespace", ev["host_uts"], ev["isolated_uts"]),
            ("hostname at start", ev["host_before"], ev["isolated_output"][0] if ev["isolated_output"] else "?"),
            ("after `hostname josh`", ev["host_after_isolated"], " ".join(ev["isolated_output"][1:])),
        ], note="The host is a lab namespace named as in the seed README; this machine stays "
                f"{ev['machine_hostname']!r}."),
        Section("negative control: moby-dick --uts host ...", [
            ("UTS namespace", ev["host_uts"], ev["control_uts"]),
            ("after `hostname josh`", ev["host_after_control"], " ".join(ev["control_output"][1:])),
        ]),
    ]


def transcripts(ev):
    return {"inside the container": "\n".join(
        ["> hostname", ev["isolated_output"][0] if ev["isolated_output"] else "", "> hostname josh",
         "> hostname", *ev["isolated_output"][1:], "> exit"]),
        "on the host afterwards": f"> hostname\n{ev['host_after_isolated']}"}
