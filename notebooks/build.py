"""The course's notebooks, written as Python so that a lesson reads (and diffs) as text.

    python notebooks/build.py            # rewrites notebooks/*.ipynb, without outputs
    python notebooks/build.py OUTDIR     # writes them elsewhere (the test suite checks they match)

Edit a lesson here, run this, commit both. tests/notebooks/test_notebooks.py fails when the committed
notebooks and this file disagree.
"""

import os
import sys

import nbformat as nbf
from nbformat.v4 import new_code_cell as code
from nbformat.v4 import new_markdown_cell as md
from nbformat.v4 import new_notebook

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def save(name, cells):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                             "language_info": {"name": "python"}})
    for index, cell in enumerate(nb.cells):  # stable ids: rebuilding changes nothing that did not change
        cell["id"] = f"{name[:2]}-{index:02d}"
    nbf.write(nb, os.path.join(OUT, f"{name}.ipynb"))

IMPORTS = code("from moby_dick import course, pictures, probe, run\n"
               "from moby_dick.spec import ContainerSpec\n"
               "from moby_dick.plan import plan, describe")

save("00-what-is-a-container", [
 md("# 00 · What is a container?\n\nA container is **a process with its own view of the kernel**. Nothing in the kernel is called "
    "\"container\": a runtime such as docker, runc or moby_dick starts an ordinary process and asks the kernel to give it "
    "its own copies of some global resources (its hostname, its mounts, its network devices...). Each copy is a **namespace**.\n\n"
    "**Learning goals**\n- read which namespaces a process is in, from `/proc/<pid>/ns/`\n- name what each kind of namespace isolates\n"
    "- see which of them the seed (the C program moby_dick started from) unshares\n- start a container and compare its namespaces with yours, as the kernel reports them"),
 IMPORTS,
 md("## Your notebook's own namespaces\n\nEvery process has one symlink per namespace kind in `/proc/<pid>/ns/`. The link's text names the kind and "
    "an inode number: two processes are in the same namespace **if and only if** these files have the same device and inode "
    "(namespaces(7)). This is the evidence every lesson uses."),
 code("import os\nfor name in sorted(os.listdir('/proc/self/ns')):\n    print(f\"{name:18} -> {os.readlink(f'/proc/self/ns/{name}')}\")"),
 md("## What each kind isolates, and the seed's map\n\nThe seed cloned its child with `CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWNET`: four of the eight kinds. "
    "moby_dick does the same, plus the PID namespace, with one `unshare(2)` call in a forked child. Later lessons add the others (user, cgroup)."),
 code("from moby_dick.namespaces import KINDS, SEED_KINDS\n"
      "course.show_table([{'kind': k.name, 'isolates': k.isolates, 'man page': k.man,\n"
      "                    'the seed unshares': 'yes' if k.name in SEED_KINDS else ''} for k in KINDS.values()],\n"
      "                  title='namespaces(7)')"),
 md("## The plan: which syscalls make a container\n\nmoby_dick describes what it will do before doing it. This is the whole plan, phase by phase: what moby-dick does on the host, what "
    "the container's child and its PID 1 do, the messages they exchange on the one channel, and the final steps before `execve` "
    "(what `moby-dick --dry-run /bin/sh` prints). Nothing here needs root."),
 code("the_plan = plan(ContainerSpec(('/bin/sh',)))\nprint(describe(the_plan))"),
 md("## A container, live\n\nNow start one (`true` does nothing and exits) and compare its namespaces with this notebook's. "
    "The container's child reads its own `/proc/self/ns/*` just before `execve`, and reports them to the parent."),
 code("host = probe.namespace_ids()\n"
      "result = course.privileged('start a container', run, ['true'])\n"
      "if result:\n    course.show_table(course.namespace_rows({'notebook': host, 'container': result.namespaces}), title='namespace ids')"),
 md("### Picture: processes and the namespaces they hold\n\nEach box on the right is one namespace, drawn once: green when both processes hold it (shared), red when only one does."),
 code("if result:\n    pictures.namespace_graph({'host (this notebook)': host, 'container': result.namespaces},\n"
      "                             kinds=('uts', 'ipc', 'net', 'mnt', 'pid', 'user'));"),
 md("## Exercise 1\n\nWhich namespace kinds does moby_dick give the container of its own (by default)? Write your answer as a set of kind "
    "names, e.g. `{'uts', 'pid'}`, and run the check: it compares your answer with what the kernel reported in *this* run. "
    "Leave `answer = None` to check the lesson's reference solution instead."),
 code("answer = None  # your answer: a set of kind names"),
 code("course.self_check(answer, solution={'uts', 'ipc', 'net', 'mnt', 'pid'},\n"
      "                  evidence={k for k in result.namespaces if result.namespaces[k] != host[k]} if result else None,\n"
      "                  question='kinds the container holds of its own')"),
 md("## Exercise 2\n\nHow many `mount(2)` calls does the default plan make, and why is the first one needed *before* the others? "
    "(Lesson 04 answers the why.) Count them in the plan above."),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=3, evidence=sum(str(step).startswith('mount(') for step in the_plan.steps()),\n"
      "                  question='mount(2) calls in the default plan')"),
 md("## Further reading\n- namespaces(7), unshare(2), clone(2), setns(2)\n- Michael Kerrisk, *Namespaces in operation* (LWN, 2013), part 1\n"
    "- the seed: [evaporei/moby-dick](https://github.com/evaporei/moby-dick) and this project's README, section \"What the seed got wrong\""),
])

def lesson(name, title, goals, explain, demo, after_demo, picture, exercises, reading):
    cells = [md(f"# {title}\n\n**Learning goals**\n" + "\n".join(f"- {g}" for g in goals)), IMPORTS, md(explain),
             code(f"print(describe(plan(ContainerSpec(('sh',)))))"),
             md("## The scenario, live\n\nThis runs the seed's scenario through moby_dick's own demo (`python -m moby_dick.demos "
                f"{demo}` runs the same code), prints host and container side by side, and judges each claim, the negative control's included."),
             code(f"report = course.lesson_demo('{demo}')\nev = report.evidence if report else None"),
             md(after_demo), md("### Picture"), code(picture),
             md("## The lesson checks itself\n\nEvery claim of the demo must have held in this run, including the control's leak: a check that cannot fail proves nothing."),
             code("course.assert_held(report)")]
    for number, (question, hint, answer_cell, check) in enumerate(exercises, 1):
        cells += [md(f"## Exercise {number}\n\n{question}\n\n{hint} Leave `answer = None` to check the reference solution."),
                  code(answer_cell), code(check)]
    cells.append(md("## Further reading\n" + "\n".join(f"- {r}" for r in reading)))
    save(name, cells)

lesson("01-hostname-uts", "01 · Hostname: the UTS namespace",
 ["give a process its own hostname with `unshare(CLONE_NEWUTS)` and `sethostname(2)`",
  "prove it from the kernel: UTS namespace ids, and what `hostname` prints inside and outside",
  "see the leak when the namespace is shared (`--uts host`)"],
 "## How it works\n\n`uname(2)` returns a `nodename`: that is what `hostname` prints. It lives in the process's **UTS namespace** "
 "(the name comes from *UNIX Time-sharing System*). The container's child calls `unshare(CLONE_NEWUTS)` and gets a copy; "
 "`sethostname(2)` then changes only the copy. Read uts_namespaces(7), sethostname(2), uname(2).\n\n"
 "The demo runs in a *lab*: a throwaway UTS namespace named `intacthostname` (as in the seed's README) stands in for the host, so that the "
 "negative control can really rename it without renaming this machine. The plan below shows the `sethostname` step, run by PID 1 once the runtime said go:",
 "hostname",
 "## Reading the evidence\n\nThe container printed `containerhostname`, then `josh`; the host kept its name. In the control (`--uts host`) the "
 "container's UTS namespace id **equals** the host's, and `hostname josh` inside renamed the host: this is what the namespace buys.",
 "if ev:\n    pictures.namespace_graph({'host (lab)': {'uts': ev['host_uts']}, 'container': {'uts': ev['isolated_uts']},\n"
 "                             'container --uts host': {'uts': ev['control_uts']}}, kinds=('uts',),\n"
 "                             title='the isolated container holds its own UTS namespace; the control holds the host\\'s');",
 [("After `hostname josh` inside the isolated container, what is the host's hostname?", "Answer with a string.",
   "answer = None  # your answer: a hostname",
   "course.self_check(answer, solution='intacthostname', evidence=ev['host_after_isolated'] if ev else None,\n"
   "                  question=\"the host's hostname after `hostname josh` inside\")"),
  ("And in the negative control (`--uts host`)?", "Answer with a string.",
   "answer = None  # your answer: a hostname",
   "course.self_check(answer, solution='josh', evidence=ev['host_after_control'] if ev else None,\n"
   "                  question=\"the host's hostname after the control's `hostname josh`\")"),
  ("Choose a hostname and predict what `hostname` prints inside a container started with it.",
   "Change `my_name`, then run both cells.",
   "my_name = 'lesson-one'\nanswer = None  # your prediction of the output, e.g. 'lesson-one\\n'",
   "result = course.privileged('start a container', run, ['hostname'], hostname=my_name, capture=True)\n"
   "course.self_check(answer, solution=my_name + '\\n', evidence=result.text if result else None,\n"
   "                  question='what hostname prints inside')")],
 ["uts_namespaces(7), sethostname(2), uname(2), hostname(1)", "namespaces(7)",
  "the demo's code: `moby_dick/demos/hostname.py`; the step: `moby_dick/uts.py`"])

lesson("02-ipc", "02 · Interprocess communication: the IPC namespace",
 ["see that System V message queues are global unless the IPC namespace is unshared",
  "read the evidence: `/proc/sysvipc/msg` answers for the namespace of the process that reads it",
  "see the leak both ways with `--ipc host`, and that a container's queues die with it"],
 "## How it works\n\n`ipcmk -Q` calls `msgget(2)` to make a message queue; `ipcs -q` lists them. Queues, semaphore sets and shared memory "
 "segments live in the caller's **IPC namespace**. The container's child unshares it with `unshare(CLONE_NEWIPC)`: a new IPC namespace starts "
 "empty, and everything in it is destroyed when its last process exits. Read ipc_namespaces(7), sysvipc(7), msgget(2).\n\n"
 "The host here is a lab IPC namespace, so the queues the demo makes, the control's leaked one included, vanish with it. The plan:",
 "ipc",
 "## Reading the evidence\n\nThe host's queue was invisible inside; the queue the container made was visible only inside and never reached the "
 "host. With `--ipc host` the container saw the host's queue, and the queue it made stayed on the host after it exited.",
 "if ev:\n    pictures.side_by_side('host (lab) after both runs', [hex(k) for k in ev['host_after_control']],\n"
 "                          'the isolated container', [hex(k) for k in ev['isolated']['keys_after']],\n"
 "                          title='message queues: red lines exist on one side only');",
 [("How many message queues did the container see when it started (isolated run)?", "Answer with a number.",
   "answer = None  # your answer: a number",
   "course.self_check(answer, solution=0, evidence=len(ev['isolated']['keys_before']) if ev else None,\n"
   "                  question='queues visible inside at start')"),
  ("How many queues does the host have after the negative control's container exited?", "Answer with a number.",
   "answer = None  # your answer: a number",
   "course.self_check(answer, solution=2, evidence=len(ev['host_after_control']) if ev else None,\n"
   "                  question='host queues after the control')")],
 ["ipc_namespaces(7), sysvipc(7), msgget(2), ipcmk(1), ipcs(1)", "proc(5): /proc/sysvipc/",
  "the demo's code: `moby_dick/demos/ipc.py`"])

lesson("03-network", "03 · Network: the network namespace",
 ["see that a new network namespace has only `lo`, and that it is down",
  "ask the kernel, not sysfs: without a filesystem jail `/sys/class/net` still shows the host's devices",
  "see every host device leak in with `--network host`"],
 "## How it works\n\nA **network namespace** has its own devices, addresses, routes, firewall and ports. `unshare(CLONE_NEWNET)` gives the "
 "container an empty one: only the loopback device `lo`, DOWN. Read network_namespaces(7), netdevice(7).\n\n"
 "The evidence comes from inside the container's namespace: a forked helper `setns(2)`s into it and asks the kernel for its devices "
 "(`if_nameindex(3)`) and their flags (the `SIOCGIFFLAGS` ioctl), which is what `ip a` does. The plan:",
 "network",
 "## Reading the evidence\n\nThe container's only device is `lo`, and it is DOWN, as the seed's `ip a` showed. Note the `/sys/class/net` row: "
 "sysfs shows the devices of the namespace that *mounted* it, and without a filesystem jail that is the host's mount. "
 "With `--network host` the container sees every device of the host.",
 "if ev:\n    show = lambda devices: [f\"{name} {'UP' if up else 'DOWN'}\" for name, up in devices]\n"
 "    pictures.side_by_side('host', show(ev['host_devices']), 'container', show(ev['isolated']['devices']),\n"
 "                          title='network devices, as the kernel reports them');",
 [("Which devices does the container have, and are they up? Answer as a list of (name, up) pairs.",
   "For example `[('eth0', True)]`.",
   "answer = None  # your answer: a list of (name, is_up) pairs",
   "course.self_check(answer, solution=[('lo', False)],\n"
   "                  evidence=[tuple(d) for d in ev['isolated']['devices']] if ev else None,\n"
   "                  question=\"the container's devices\")"),
  ("In the control, does the container see exactly the host's devices?", "Answer True or False.",
   "answer = None  # your answer: True or False",
   "course.self_check(answer, solution=True,\n"
   "                  evidence=[tuple(d) for d in ev['control']['devices']] == [tuple(d) for d in ev['host_devices']] if ev else None,\n"
   "                  question=\"the control sees the host's devices\")")],
 ["network_namespaces(7), netdevice(7), ip-link(8), if_nameindex(3)", "the demo's code: `moby_dick/demos/network.py`"])

lesson("04-mounts-and-propagation", "04 · Mounts and propagation: the mount namespace, and the seed's bug",
 ["give the container its own mount table with `unshare(CLONE_NEWNS)`",
  "understand shared, slave and private propagation (mount_namespaces(7), \"Shared subtrees\")",
  "see the seed's bug live: without `mount --make-rprivate /`, a container's mount appears on a shared host mount and stays"],
 "## How it works\n\n`unshare(CLONE_NEWNS)` gives the container a **copy** of the host's mount table. The copy keeps each mount's "
 "*propagation type*:\n\n- **shared**: mount events propagate both ways between the copies (systemd makes `/` shared on every boot);\n"
 "- **slave**: events come in from the host, none go out;\n- **private**: nothing crosses.\n\n"
 "The seed unshared the mount namespace and mounted a tmpfs on `/mytmp`, but never changed the propagation: on a systemd machine its "
 "\"private\" tmpfs appeared on the host and stayed after the container exited. moby_dick's the first mount of the init phase makes `/` recursively private first:",
 "mount",
 "## Reading the evidence\n\nThe host's demo mount is `shared` (see the note under the first table). With moby_dick's fix, the container's "
 "tmpfs mounts appear only in its own `/proc/<pid>/mountinfo`. With `--propagation unchanged` (the seed), the tmpfs under the shared mount "
 "appeared in the host's mount table during the run **and stayed after the container exited**. All of this ran in a lab mount namespace "
 "that died with the demo, so the machine's own mount table never changed.\n\n"
 "### All three propagation types\n\nThe same experiment for `private`, `slave` and `unchanged` (shared): does the container's mount reach the "
 "host, and does a mount the host makes after the start reach the container?",
 "if ev:\n    pictures.side_by_side('host during the seed\\'s run (control)', ev['control']['host_during'],\n"
 "                          'container', ev['control']['inside'],\n"
 "                          title='the seed\\'s bug: the container\\'s tmpfs shows up in the host\\'s mount table');\n"
 "from moby_dick.demos.mount import propagation_experiment\n"
 "experiments = {p: course.privileged(f'the {p} experiment', propagation_experiment, p) for p in ('private', 'slave', 'unchanged')}\n"
 "if all(experiments.values()):\n    course.show_table([{'propagation': p, **seen} for p, seen in experiments.items()], title='propagation, measured')",
 [("With `--propagation slave`: does a mount the host makes after the container started appear inside? "
   "Does the container's tmpfs reach the host?", "Answer as a pair of booleans: (host mount inside, container mount on host).",
   "answer = None  # your answer: (bool, bool)",
   "seen = experiments['slave']\n"
   "course.self_check(answer, solution=(True, False),\n"
   "                  evidence=(seen['host_mount_inside'], seen['container_mount_on_host']) if seen else None,\n"
   "                  question='slave propagation: (in, out)')"),
  ("With moby_dick's default, how many of the container's tmpfs mounts could the host see during the run?", "Answer with a number.",
   "answer = None  # your answer: a number",
   "course.self_check(answer, solution=0, evidence=len(ev['isolated']['host_during']) if ev else None,\n"
   "                  question='container mounts visible on the host')")],
 ["mount_namespaces(7), section \"Shared subtrees\"; mount(2) (MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_REC)",
  "Documentation/filesystems/sharedsubtree.rst in the kernel tree", "the demo's code: `moby_dick/demos/mount.py`; the steps: `moby_dick/mounts.py`"])

lesson("05-pid-and-init", "05 · Processes: the PID namespace, and PID 1's duties",
 ["give the container its own process tree with `unshare(CLONE_NEWPID)` and a `fork`",
  "see why PID 1 is special: signals it has no handler for are dropped, orphans become its children",
  "see moby-dick's `--init` reap zombies and pass signals on, and the control without it"],
 "## How it works\n\n`unshare(CLONE_NEWPID)` does not move the caller: it decides where the caller's *next child* goes, and that child is "
 "**PID 1** of the new namespace. So the plan has a `fork()` right after the `unshare`: the child is PID 1 and makes every later step; "
 "the parent stays outside, waits for it and exits as it did. A fresh `/proc` is mounted, because a proc mount shows the PID namespace "
 "of the process that mounted it. Read pid_namespaces(7) and proc(5). The plan:",
 "pid",
 "## Reading the evidence\n\nInside, the process is PID 1, `/proc` lists only it, and the demo's own host pid is neither visible nor "
 "signallable (`ESRCH`). With `--pid host` all of the host's processes are there.\n\n"
 "### PID 1's duties\n\nThe kernel treats PID 1 as the namespace's init: it delivers only the signals PID 1 has a handler for, and "
 "re-parents orphans to it, expecting it to reap them. Most programs were not written for that. The `init` demo shows both, with "
 "moby-dick's `--init` and without it:",
 "init_report = course.lesson_demo('init')\n"
 "if ev:\n    pictures.namespace_graph({'host (this notebook)': {'pid': ev['host_pid_ns']},\n"
 "                              f\"container: PID 1, sees {len(ev['isolated']['pids'])} process\": {'pid': ev['isolated_ns']},\n"
 "                              f\"--pid host: sees {len(ev['control']['pids'])} processes\": {'pid': ev['control_ns']}},\n"
 "                             kinds=('pid',), title='which PID namespace each process is in, and how many processes it sees');",
 [("What does `getpid()` return for the container's first process?", "Answer with a number.",
   "answer = None  # your answer: a number",
   "course.self_check(answer, solution=1, evidence=ev['isolated']['own_pid'] if ev else None,\n"
   "                  question=\"the container's first pid\")"),
  ("Without `--init`, how many zombies stay under PID 1 after its orphan exited? And with it?",
   "Answer as a pair: (without, with).",
   "answer = None  # your answer: (number, number)",
   "ie = init_report.evidence if init_report else None\n"
   "course.self_check(answer, solution=(1, 0), evidence=(ie['without_init']['zombies'], ie['with_init']['zombies']) if ie else None,\n"
   "                  question='zombies under PID 1 (without --init, with --init)')")],
 ["pid_namespaces(7), section \"The namespace init process\"; proc(5)", "tini's README: what an init does for a container",
  "the demos' code: `moby_dick/demos/pid.py`, `moby_dick/demos/init.py`; the init: `moby_dick/pid.py`"])

lesson("06-filesystem-jail", "06 · The filesystem jail: pivot_root, and why chroot is not a jail",
 ["build a root file system offline (`moby-dick mkrootfs`) and enter it with `pivot_root(2)`",
  "keep the rootfs directory untouched with a copy-on-write overlay that lives only in the container's mount namespace",
  "see the classic chroot escape fail against `pivot_root` and succeed against a plain `chroot` (the control)"],
 "## How it works\n\n`chroot(2)` changes how `/` is resolved for one process, nothing more: the old root stays mounted above, and a process "
 "that may call `chroot` can climb back out. `pivot_root(2)` swaps the *mount namespace's* root: the old root is moved under the new one, "
 "then detached with `umount2(MNT_DETACH)`, and nothing is left above `/`. Read pivot_root(2), chroot(2) (NOTES), overlayfs.\n\n"
 "moby-dick mounts a scratch tmpfs over the rootfs directory (inside the container's private mount namespace only), creates the overlay's "
 "upper and work directories in it, and mounts the overlay with the *original* directory as its lower layer. Here is the plan for a rootfs "
 "(the plan is pure: it describes, nothing runs):\n\n"
 "```python\nprint(describe(plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'))))\n```\n\nand the default plan, for comparison:",
 "jail",
 "## Reading the evidence\n\nInside, `/` is the rootfs, a file on the host is unreachable, and after the escape `/` is still the rootfs. "
 "What the container wrote never reached the rootfs directory. Under `--jail chroot` the very same escape lists the host's root.",
 "print(describe(plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'))))\n"
 "if ev:\n    pictures.side_by_side('after the escape, --jail chroot (control)', ev['chrooted']['after_escape'],\n"
 "                          'after the escape, pivot_root', ev['jailed']['after_escape'],\n"
 "                          title='the same escape, two jails: red entries are seen on one side only');",
 [("After the chroot escape inside the pivot_root jail, is the file created on the host reachable?", "Answer True or False.",
   "answer = None  # your answer: True or False",
   "course.self_check(answer, solution=False, evidence=ev['jailed']['marker_after_escape'] if ev else None,\n"
   "                  question='host file reachable after the escape (pivot_root)')"),
  ("And under `--jail chroot`?", "Answer True or False.",
   "answer = None  # your answer: True or False",
   "course.self_check(answer, solution=True, evidence=ev['chrooted']['marker_after_escape'] if ev else None,\n"
   "                  question='host file reachable after the escape (chroot)')")],
 ["pivot_root(2), chroot(2) section NOTES, mount_namespaces(7)", "Documentation/filesystems/overlayfs.rst",
  "runc's `libcontainer/rootfs_linux.go` (pivotRoot)", "the demo's code: `moby_dick/demos/jail.py`; the steps: `moby_dick/rootfs.py`"])

lesson("07-cgroups", "07 · Resource limits: cgroups",
 ["limit memory, processes and CPU with cgroups, v1 and v2, and read what the container used",
  "see the kernel enforce each limit: the OOM killer, a refused fork, CFS throttling",
  "place a container's cgroup beneath moby-dick's own, join it before anything runs, and remove it after"],
 "## How it works\n\nNamespaces decide what a container can *see*; cgroups decide how much it can *use*. A cgroup is a directory in a "
 "special file system: `mkdir` makes one, writing to its files sets limits, writing a pid to `cgroup.procs` moves a process in (its "
 "children stay in), and `rmdir` removes it once empty. Read cgroups(7) and the kernel's cgroup-v2.rst.\n\n"
 "Two layouts exist: **v2**, one tree with `memory.max`, `pids.max`, `cpu.max`; and **v1**, one tree per controller with "
 "`memory.limit_in_bytes`, `pids.max`, `cpu.cfs_quota_us`. This machine's layout, as moby-dick detects it:\n\n"
 "```python\nfrom moby_dick.cgroups import detect; detect()\n```\n\nThe cgroup is named in the plan before it exists and moby-dick "
 "creates it before the fork. On v1, PID 1's first act is to move itself in: it writes `0` to each hierarchy's `tasks` (one "
 "thread, itself). On v2 (or in a user namespace) moby-dick writes PID 1's pid to `cgroup.procs` when it reports `pid1`, and "
 "only then says `go`. Why two ways: moving a whole process write-locks a kernel-wide lock that first waits for an RCU grace "
 "period, milliseconds after a quiet moment (`python benchmarks/cgroup_write.py` measures both); a thread moving itself "
 "needs no such lock. Either way nothing PID 1 runs is ever unlimited. The default plan below has no cgroup; "
 "`moby-dick --memory 32m --dry-run sh` shows the host phase's `mkdir` and the write that places PID 1:",
 "memory",
 "## Reading the evidence\n\nThe hog was stopped by the kernel's OOM killer at 32 MiB (exit 137, `oom_kill` in the cgroup's counters); "
 "the control, whose cgroup only counts, reached about 100 MiB. The limits are files; here is what moby-dick writes for each version "
 "(pure code, no root needed):\n\n```python\nfrom moby_dick.cgroups import Limits, limit_files\n"
 "limit_files(Limits(memory=32 << 20, pids=20, cpus=0.5), 'v1'), limit_files(Limits(memory=32 << 20, pids=20, cpus=0.5), 'v2')\n```\n\n"
 "The other two limits, live:",
 "from moby_dick.cgroups import Limits, detect, limit_files\n"
 "print(detect())\nprint(limit_files(Limits(memory=32 << 20, pids=20, cpus=0.5), 'v1'))\n"
 "print(limit_files(Limits(memory=32 << 20, pids=20, cpus=0.5), 'v2'))\n"
 "pids_report = course.lesson_demo('pids')\ncpu_report = course.lesson_demo('cpu')\n"
 "if ev and cpu_report:\n    cpu = cpu_report.evidence\n"
 "    pictures.measured_bars([\n"
 "        ('peak memory, MiB (cgroup)', {'--memory 32m': ev['limited']['stats']['peak_memory_bytes'] / 2**20,\n"
 "                                       'no limit': ev['control']['stats']['peak_memory_bytes'] / 2**20}, 32),\n"
 "        ('CPU seconds in 1 s (cgroup)', {'--cpus 0.5': cpu['limited']['cpu_seconds'],\n"
 "                                         'no limit': cpu['control']['cpu_seconds']}, 0.5)],\n"
 "        title='what the cgroups measured, this run: with the limit (red line) and without');",
 [("What exit status did the memory hog get under `--memory 32m`?", "Answer with a number.",
   "answer = None  # your answer: a number",
   "course.self_check(answer, solution=137, evidence=ev['limited']['exit'] if ev else None,\n"
   "                  question='exit status of the OOM-killed container')"),
  ("Under `--pids-limit 20`, how many of the 50 forks can succeed at most?", "Answer with a number (the program is a process too).",
   "answer = None  # your answer: a number",
   "pe = pids_report.evidence if pids_report else None\n"
   "course.self_check(answer, solution=19, evidence=pe['limited']['counts'][0] if pe else None,\n"
   "                  question='forks that succeeded under --pids-limit 20')")],
 ["cgroups(7); Documentation/admin-guide/cgroup-v2.rst; cgroup-v1/memory.rst, pids.rst; scheduler/sched-bwc.rst",
  "the demos' code: `moby_dick/demos/memory.py`, `pids.py`, `cpu.py`; the cgroups: `moby_dick/cgroups.py`"])

save("08-oci-and-the-engine-stack", [
 md("# 08 · OCI: the bundle, the lifecycle, and the engines above the runtime\n\n"
    "**Learning goals**\n"
    "- read an OCI bundle: a root file system and a `config.json` (the runtime-spec), and see it become moby_dick's typed spec and plan\n"
    "- follow the lifecycle `create` → `start` → `kill` → `delete`, with the kernel's evidence at each step, and explain the start gate\n"
    "- explain why `create` exits while the container lives on, and how a pty reaches the engine over a unix socket\n"
    "- place `moby-dick-oci` in the engine stack: docker → containerd → shim → runtime; podman → conmon → runtime; Kubernetes' RuntimeClass"),
 IMPORTS,
 md("## The bundle\n\nAn engine never calls a runtime with flags for each isolation. It writes a **bundle**: a directory with the container's "
    "root file system and a `config.json` that says everything (process, mounts, namespaces, cgroups, hooks...). This is the one "
    "`moby-dick-oci spec` writes (runc's default, through moby_dick's typed spec). Read the runtime-spec's config.md and config-linux.md."),
 code("import json\nfrom moby_dick.oci_cli import default_spec\nfrom moby_dick.oci import from_oci\n"
      "document = default_spec()\nprint(json.dumps({k: document[k] for k in ('process', 'root', 'hostname')}, indent=1)[:900])\n"
      "config = from_oci(document, bundle='/bundles/demo')\nconfig.process.args, [n.kind for n in config.namespaces], len(config.mounts)"),
 md("The front end (`moby_dick/oci.py`) turns the JSON into the same records the `moby-dick` command line makes, and the same "
    "planner makes the whole plan. With a start gate (the descriptor 3 stands for the gate's fifo) the plan of `create` is:"),
 code("from moby_dick.cgroups import Layout\n"
      "layout = Layout('v1', {c: ('/sys/fs/cgroup/' + c, '/') for c in ('memory', 'pids', 'cpuacct', 'freezer')},\n"
      "                frozenset(('memory', 'pids', 'cpuacct', 'freezer')))  # a v1 layout, so the plan reads the same on v2 machines\n"
      "print(describe(plan(config, layout, gate_fd=3)))"),
 md("Note the child phase: `fork()` and the child **exits** once PID 1 exists (it is detached), and the final phase: PID 1 "
    "opens the gate for writing, which blocks until `start` opens it for reading."),
 md("## The lifecycle, live\n\nThe demo drives the lifecycle from Python exactly as an engine drives the command line, and asks the kernel at "
    "each step: after `create`, PID 1 exists in its own namespaces but is still the runtime (its `/proc/<pid>/exe` is the interpreter) "
    "and the program has not run; after `start` the same pid runs the program. The **negative control** creates the same bundle "
    "without the gate: the program runs at `create` already, before the engine could set up anything."),
 code("report = course.lesson_demo('oci')\nev = report.evidence if report else None"),
 md("### Picture: what each verb cost, this run"),
 code("if ev:\n    seconds = ev['gated']['seconds']\n"
      "    pictures.measured_bars([('milliseconds', {verb: 1000 * s for verb, s in seconds.items()}, None)],\n"
      "                           title='moby-dick-oci create, start and delete, measured in this run');"),
 md("## The lesson checks itself\n\nEvery claim of the demo must have held in this run, including the control's: a check that cannot fail proves nothing."),
 code("course.assert_held(report)"),
 md("## Why `create` exits, and who waits for the container\n\n"
    "An engine's monitor (conmon for podman, containerd-shim for containerd and docker) runs `create` and must learn the container's exit "
    "status later, long after `create` returned. Linux gives it a way: a process marked `PR_SET_CHILD_SUBREAPER` receives the orphans of "
    "its descendants. `create`'s child forks PID 1 and exits; PID 1 is re-parented to the monitor, which `waitpid`s for it. So the runtime "
    "keeps no process per container (moby-dick-oci's state is a directory: `state.json` and the gate), and `state` derives the status from the "
    "kernel each time: the pid with its start time (pids are reused), the gate, the freezer.\n\n"
    "**The pty over a socket.** With `\"terminal\": true` the engine passes `--console-socket PATH`. PID 1 opens a pty inside the "
    "container's own devpts after `pivot_root`, makes the slave its stdin, stdout, stderr and controlling terminal (`setsid`, "
    "`TIOCSCTTY`), and sends the master over the channel to the runtime, which connects to the socket and passes it on with "
    "`SCM_RIGHTS` (`moby_dick/terminal.py`). The engine then owns the master: what you type in `docker exec -t` goes there.\n\n"
    "## The engine stack, from a real call log\n\n"
    "```\ndocker CLI → dockerd → containerd → containerd-shim-runc-v2 → moby-dick-oci create/start/kill/delete\n"
    "podman → conmon → moby-dick-oci\nkubelet → CRI (containerd) → shim → the RuntimeClass handler's BinaryName = moby-dick-oci\n```\n\n"
    "Here podman (when installed) runs one `podman run --rm` through a wrapper that logs every call it makes to moby-dick-oci:"),
 code("calls = course.privileged('podman through a logging wrapper', course.engine_call_log)\nfor call in calls or []:\n    print(call)"),
 md("## Exercise 1\n\nRight after `create` returned, what is the container's status? Answer with the word the runtime-spec uses. "
    "Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a status word"),
 code("course.self_check(answer, solution='created', evidence=ev['gated']['created']['status'] if ev else None,\n"
      "                  question=\"the status after create\")"),
 md("## Exercise 2\n\nAfter `create` returned, is the process that ran `create` still the parent of the container's PID 1? "
    "Answer True or False. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: True or False"),
 code("course.self_check(answer, solution=False, evidence=ev['gated']['created']['parent_is_runtime'] if ev else None,\n"
      "                  question='PID 1 is still a child of the creating process')"),
 md("## Further reading\n- the runtime-spec: runtime.md (lifecycle, state, operations), config.md (hooks), config-linux.md\n"
    "- runc(8) and runc's `libcontainer/container_linux.go` (exec.fifo), crun's `status.c`\n"
    "- prctl(2) `PR_SET_CHILD_SUBREAPER`; unix(7) `SCM_RIGHTS`; pty(7)\n"
    "- this project's `moby_dick/lifecycle.py`, `state.py`, `oci.py`, `oci_cli.py`, and the README section on moby-dick-oci"),
])

save("09-not-the-hosts-root", [
 md("# 09 · Not the host's root: capabilities, no_new_privs, seccomp, masked paths\n\n"
    "**Learning goals**\n"
    "- read a process's capability sets in `/proc/self/status` and name what docker's 14 capabilities leave out\n"
    "- explain no_new_privs and why a setuid binary cannot give a container its privileges back\n"
    "- read a seccomp filter: the allow-list, the calls gated by a capability, the i386 entry point\n"
    "- tell the escapes the hardening closes: CVE-2019-5736 (the runtime's binary through `/proc/self/exe`), "
    "CVE-2024-21626 (a leaked directory descriptor), CVE-2022-0492 (a cgroup v1 `release_agent`), each shown here "
    "by its negative control inside a container, never against the host"),
 IMPORTS,
 md("## Root, in pieces\n\nSince Linux 2.2 \"root\" is a set of about 41 **capabilities** (capabilities(7)): CAP_SYS_ADMIN (mounts, "
    "namespaces...), CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_NET_ADMIN... A process has five sets; the **bounding** set caps "
    "what it and its children can ever hold again. With `--rootfs`, moby-dick keeps docker's 14 and drops the rest from "
    "every set before `execve`. The final phase of the plan shows it, in runc's order:"),
 code("from moby_dick.cgroups import Layout\n"
      "layout = Layout('v1', {c: ('/sys/fs/cgroup/' + c, '/') for c in ('memory', 'pids', 'cpuacct', 'freezer', 'devices')},\n"
      "                frozenset(('memory', 'pids', 'cpuacct', 'freezer', 'devices')))\n"
      "the_plan = plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'), layout)\n"
      "for step in the_plan.final:\n    print(step)"),
 md("**no_new_privs** (`prctl(PR_SET_NO_NEW_PRIVS)`): from then on `execve` never grants more, so a setuid-root binary "
    "in the image runs with the caller's ids. **seccomp** (seccomp(2)): a BPF program the kernel runs on every syscall; "
    "moby-dick compiles docker's rules with libseccomp. Here is the start of the compiled filter, in libseccomp's "
    "readable form (no root needed):"),
 code("from moby_dick import seccomp\nfrom moby_dick.capabilities import DOCKER_DEFAULT\n"
      "program = seccomp.compile_profile(seccomp.default_profile(DOCKER_DEFAULT))\n"
      "text = seccomp.compile_profile(seccomp.default_profile(DOCKER_DEFAULT), readable=True).decode()\n"
      "print(len(program) // 8, 'BPF instructions;', text.count('action ALLOW'), 'ALLOW actions')\n"
      "print('\\n'.join(line for line in text.splitlines() if 'arch' in line or 'keyctl' in line or 'default action' in line)[:1500])"),
 md("## The protections, live\n\nThe demo runs the same busybox shell twice: with moby-dick's defaults, and, as the **negative control**, "
    "with `--privileged`. Its program reads its own `/proc/self/status` after `execve`, tries `unshare -u`, and looks at two masked paths."),
 code("report = course.lesson_demo('security')\nev = report.evidence if report else None"),
 md("### Picture: the capability bits, this run"),
 code("if ev:\n    pictures.measured_bars([('capabilities held', {'--rootfs': bin(int(ev['default']['CapEff'], 16)).count('1'),\n"
      "                                                     '--privileged': bin(int(ev['control']['CapEff'], 16)).count('1')}, 14)],\n"
      "                           title='effective capabilities of the container\\'s program (red: docker\\'s 14)');"),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## The escape history, told through the controls\n\n"
    "- **CVE-2019-5736** (runc): a container process opened `/proc/<runc pid>/exe` and overwrote the host's runc binary. "
    "moby-dick's `--init` is the host's Python interpreter; it is made **not dumpable**, so `/proc/1/exe`, `fd`, `cwd`, "
    "`root` and `map_files` do not open for the container's root (no CAP_SYS_PTRACE). "
    "`tests/integration/test_security.py::test_the_init_is_not_dumpable...` shows the control: with `--privileged` the link reads.\n"
    "- **CVE-2024-21626** (runc): a directory descriptor of the host leaked into the container, and `..` from it walked to the "
    "host's root. moby-dick closes every inherited descriptor in the child and marks everything above stdio close-on-exec "
    "(`close_range`); `test_descriptors_the_caller_leaks_do_not_reach_the_container` leaks one on purpose.\n"
    "- **CVE-2022-0492**: on cgroup v1, writing a `release_agent` from a container ran a program on the host. The container's "
    "`/sys/fs/cgroup` is read-only, mount is refused by the filter and by the missing CAP_SYS_ADMIN, so no fresh cgroup fs can be mounted."),
 md("## Exercise 1\n\nHow many capabilities does the container's program hold with `--rootfs`? Answer with a number. "
    "Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=14, evidence=bin(int(ev['default']['CapEff'], 16)).count('1') if ev else None,\n"
      "                  question='capabilities of a --rootfs container')"),
 md("## Exercise 2\n\nIs `unshare -u` (a new UTS namespace) allowed inside a `--rootfs` container? Answer True or False. "
    "Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: True or False"),
 code("course.self_check(answer, solution=False, evidence=(ev['default']['unshare'] == 'allowed') if ev else None,\n"
      "                  question='unshare allowed inside')"),
 md("## Further reading\n- capabilities(7), prctl(2) (`PR_SET_NO_NEW_PRIVS`, `PR_CAPBSET_DROP`, `PR_SET_DUMPABLE`), seccomp(2), "
    "seccomp_rule_add(3)\n- docker's default seccomp profile and its documentation; runc's `libcontainer/init_linux.go`\n"
    "- the advisories of CVE-2019-5736, CVE-2024-21626 and CVE-2022-0492\n"
    "- this project's `moby_dick/security.py`, `capabilities.py`, `seccomp.py`, `masks.py`"),
])

save("10-user-namespaces", [
 md("# 10 · User namespaces: root inside, nobody outside\n\n"
    "**Learning goals**\n"
    "- read a process's id map (`/proc/<pid>/uid_map`) and explain what \"root inside\" means outside\n"
    "- follow the round trip that maps the ids: the child unshares, the runtime writes the maps, the child goes on\n"
    "- see that files a container's root makes belong to an unprivileged id on the host, and that a root-owned host "
    "directory stays closed to it\n"
    "- explain why `hostname josh` works for the container's root and changes nothing outside: capabilities count "
    "relative to the user namespace that owns the UTS namespace"),
 IMPORTS,
 md("## Id maps\n\nA user namespace (user_namespaces(7)) has its own uids and gids and a **map** to its parent's: `0 100000 65536` "
    "means ids 0-65535 inside are 100000-165535 outside. Only a process with CAP_SETUID in the *parent* namespace may "
    "write a map of more than its own id, so the child asks and the runtime writes (`setgroups`, `gid_map`, `uid_map`). "
    "The other namespaces are unshared after it, so that the new user namespace owns them, and its root has every "
    "capability *over them* and over nothing else (capabilities(7)). The plan shows the exchange:"),
 code("from moby_dick.config import IdMap, Namespace, from_spec\n"
      "seed = from_spec(ContainerSpec(('sh',)))  # the seed's container, plus a user namespace and its maps:\n"
      "config = seed.replace(namespaces=seed.namespaces + (Namespace('user'),),\n"
      "                      uid_mappings=(IdMap(0, 100000, 65536),), gid_mappings=(IdMap(0, 100000, 65536),))\n"
      "print(describe(plan(config)))"),
 md("## Rootless: no root at all\n\nRun by an unprivileged user, moby-dick makes the user namespace by itself, as podman and "
    "bwrap do: the caller's own uid becomes 0 inside. It may map only its own id (`setgroups` denied first), unless "
    "`/etc/subuid` and `/etc/subgid` give it a subordinate range: then the setuid helpers `newuidmap`/`newgidmap` "
    "(shadow-utils; they check those files) write ids 1..N too. What needs the host's root stays out: creating mount "
    "points on the host, and cgroups without a delegated v2 subtree (a one-line error says so). The maps of a caller "
    "with uid 1000 and the range 100000:65536, and how they are written:"),
 code("rootless = seed.replace(namespaces=seed.namespaces + (Namespace('user'),), map_helper=True,\n"
      "                        uid_mappings=(IdMap(0, 1000, 1), IdMap(1, 100000, 65536)),\n"
      "                        gid_mappings=(IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))\n"
      "print(plan(rootless).on_map_ids[0])"),
 md("## Root inside, nobody outside, live\n\nThe demo runs one script with `--userns private` and, as the **negative control**, "
    "with `--userns host`; the host reads the container's PID 1 uid and the owner of the file it made."),
 code("report = course.lesson_demo('userns')\nev = report.evidence if report else None"),
 md("### Picture: who the container's root is, seen from the host"),
 code("if ev:\n    pictures.measured_bars([('uid on the host', {'--userns private': ev['private']['host_uid'],\n"
      "                                                 '--userns host': ev['host']['host_uid']}, None)],\n"
      "                           title='PID 1 of the container, as /proc/<pid>/status shows it to the host');"),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## Why `hostname josh` works, and changes nothing\n\n`sethostname(2)` asks for CAP_SYS_ADMIN *in the user namespace that owns "
    "the UTS namespace*. The container's UTS namespace was made after its user namespace, so it is owned by it, and the "
    "container's root has that capability there; the host's UTS namespace is owned by the initial user namespace, where "
    "the container's root is uid 100000 with no capabilities at all. The same rule decides mounts, network settings and "
    "IPC objects: each is allowed over what the container's user namespace owns, refused over the rest."),
 md("## Exercise 1\n\nWhich uid does the host see for the container's root under `--userns private` on this machine? "
    "Answer with a number. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=100000, evidence=ev['private']['host_uid'] if ev else None,\n"
      "                  question=\"the host's uid of the container's root\")"),
 md("## Exercise 2\n\nCan the container's root (with `--userns private`) write into a host directory owned by the host's root "
    "with mode 755? Answer True or False. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: True or False"),
 code("course.self_check(answer, solution=False, evidence=ev['private']['host_dir_written'] if ev else None,\n"
      "                  question='the container root writes a root-owned host directory')"),
 md("## Further reading\n- user_namespaces(7) (\"Defining user and group ID mappings\", \"Interaction of user namespaces and other "
    "types of namespaces\"), subuid(5), newuidmap(1)\n- capabilities(7), \"Capabilities and user namespaces\"\n"
    "- this project's `moby_dick/userns.py`, `tests/integration/test_rootless.py` and the README section on user namespaces"),
])

save("11-networking-veth-bridge-ports", [
 md("# 11 · Networking: veth pairs, a bridge, published ports\n\n"
    "**Learning goals**\n"
    "- build a container network from three kernel objects: a network namespace, a veth pair, a bridge\n"
    "- follow the plan: the runtime connects PID 1 *before* `go`, creating the container's end inside its namespace\n"
    "- read the evidence with iproute2 (netlink): links and their master, addresses, routes, namespace inodes\n"
    "- publish a port without touching host-wide settings (a forwarder, not DNAT), and see `--network none` as the "
    "negative control"),
 IMPORTS,
 md("## How it works\n\nA new network namespace has only `lo`, DOWN (lesson 03). To connect it, moby-dick asks the kernel "
    "(rtnetlink, rtnetlink(7)) for a **veth pair** (veth(4)): two devices joined like a cable, one created directly *inside* "
    "PID 1's namespace (`IFLA_NET_NS_FD`) and named `eth0`, the other left on the host and made a port of the **bridge** "
    "`moby-dick0`, a software switch with the subnet's first address. From a netlink socket made inside the container's "
    "namespace (`setns(2)` for the one `socket(2)` call), the runtime sets `lo` up, gives `eth0` its address and adds "
    "a default route to the bridge. All of it happens on \"pid1 N\", before \"go\": the command starts connected.\n\n"
    "**Who holds the address?** The kernel. The host end of the veth is *named* after the address (`mdv` and the address "
    "in hex: 10.213.0.2 is `mdv0ad50002`), so the list of links is the lease table. Creating the name with `NLM_F_EXCL` "
    "takes the address (two runtimes racing for it: one gets EEXIST and takes the next); when PID 1's network namespace "
    "dies, the kernel deletes both ends of the veth, and the address is free again, even after a SIGKILL of moby-dick. "
    "No file, no lock, no process to clean up after.\n\n"
    "A published port (`-p 8080:80`) is a small **forwarder**: it binds 127.0.0.1:8080 in the host's namespace, then enters "
    "the container's and connects to the container's address for each client. DNAT to 127.0.0.1 would need "
    "`route_localnet=1` and iptables rules: host-wide settings moby-dick never changes. The plan:"),
 code("print(describe(plan(ContainerSpec(('sh',), network='bridge', publish=('8080:80',)))))"),
 md("## The network, live\n\nThe demo builds a **lab**: a network namespace of its own, standing in for the host, so the "
    "bridge, the veths and the port exist nowhere else and no traffic can leave it. A server and a client container join "
    "the bridge; the lab reaches the server on 127.0.0.1:8080. The **negative control** is a client with `--network none`."),
 code("report = course.lesson_demo('bridge')\nev = report.evidence if report else None"),
 md("### Picture: namespaces, veth pairs and the bridge, from this run's evidence"),
 code("if ev:\n    pictures.network_map(ev);"),
 md("## On cgroup v1 and v2\n\nNothing here touches cgroups: the same cells run on either. The bridge is a network device "
    "of the lab's namespace, listed by `ip -j link`; on a real host, `ip link show moby-dick0` shows it while a container "
    "is on it, and it stays after the last one, like docker0, until `moby-dick cleanup`."),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## Exercise 1\n\nWhich address did the *server* container get? (The bridge has the subnet's first; containers get the "
    "lowest free one after it.) Answer with a string such as `'10.213.0.9'`. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: an IPv4 address"),
 code("course.self_check(answer, solution='10.213.0.2', evidence=ev['server_address'] if ev else None,\n"
      "                  question=\"the server's address on the bridge\")"),
 md("## Exercise 2\n\nThe server printed the address of each peer that connected. For the connection that came through the "
    "published port, which address did it see: the lab's 127.0.0.1, the bridge's, or its own? Answer with the address. "
    "(Hint: where does the forwarder make its connection?)"),
 code("answer = None  # your answer: an IPv4 address"),
 code("course.self_check(answer, solution='10.213.0.2', evidence=ev['server_peers'][-1] if ev and ev['server_peers'] else None,\n"
      "                  question='the peer the server saw for the published port')"),
 md("## Further reading\n- veth(4), network_namespaces(7), rtnetlink(7), netlink(7), ip-link(8), bridge(8)\n"
    "- docker's userland proxy (`docker-proxy`) and why `route_localnet` is a host-wide risk\n"
    "- this project's `moby_dick/network.py`, `netlink.py`, `ports.py`, and the demo `moby_dick/demos/bridge.py`"),
])

save("12-exec-setns-and-terminals", [
 md("# 12 · exec, setns and terminals: joining a running container\n\n"
    "**Learning goals**\n"
    "- explain what `docker exec` / `moby-dick exec` is to the kernel: a new process that `setns(2)`s into every "
    "namespace of the container's PID 1, joins its cgroup, and passes the same final phase\n"
    "- read the evidence: the exec'd process's `/proc/<pid>/ns/*` equal PID 1's, its `Seccomp:` and `NoNewPrivs:`\n"
    "- follow a terminal across processes: the pty is made *inside* (the container's devpts) and its master travels "
    "over a unix socket (SCM_RIGHTS) to whoever shows it: moby-dick, conmon, containerd's shim"),
 IMPORTS,
 md("## How it works\n\n`setns(2)` moves the *calling thread* into an existing namespace given by a descriptor of "
    "`/proc/<pid>/ns/<kind>`. Joining a PID namespace, like unsharing one, only places the caller's *next child* in it, so "
    "exec forks once more; the mount namespace is joined last (it changes what paths mean). The plan of an exec is "
    "the container's plan with joins instead of unshares, and the same final phase: capabilities, no_new_privs, the "
    "seccomp filter read from the container's own config. With `-t`, the process opens a new pty from the container's "
    "`/dev/ptmx` (its own devpts, `newinstance`), makes the slave its stdio and controlling terminal (`setsid`, "
    "`TIOCSCTTY`) and sends the master over the channel; moby-dick receives it on a console socket, as conmon does, "
    "and relays your keys and the output (pty(7), unix(7)). The plan of a run with a terminal:"),
 code("print(describe(plan(ContainerSpec(('sh',), tty=True))))"),
 md("## exec, live\n\nThe demo starts a detached container (`moby-dick run -d`), then `moby-dick exec` and `exec -t` "
    "into it, and compares namespaces from the host. The **negative control** is a container made with the host's "
    "UTS and IPC namespaces: the exec'd process then holds the host's."),
 code("report = course.lesson_demo('exec')\nev = report.evidence if report else None"),
 md("### Picture: PID 1, the exec'd shell and this notebook, and the namespaces they hold"),
 code("from moby_dick.namespaces import NamespaceId\n"
      "def ids(texts):\n"
      "    return {kind: text for kind, text in texts.items()}\n"
      "if ev:\n    pictures.namespace_graph({'host (this notebook)': ids(ev['host']), \"container's PID 1\": ids(ev['isolated']['pid_one']),\n"
      "                              \"exec'd shell\": ids(ev['isolated']['exec']['ns'])}, kinds=('uts', 'ipc', 'net', 'mnt', 'pid'),\n"
      "                             title=\"the exec'd shell holds PID 1's namespaces (green: shared), not the host's\");"),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## Exercise 1\n\nIn the exec'd shell, what is `/proc/1/comm`: the host's init, moby-dick, or the container's "
    "command? Answer with the name. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a process name"),
 code("course.self_check(answer, solution='sleep', evidence=ev['isolated']['exec']['pid1_comm'] if ev else None,\n"
      "                  question=\"PID 1 as the exec'd shell sees it\")"),
 md("## Exercise 2\n\nThe pty of `exec -t` is a character device. What is its major number (decimal)? "
    "(devices.txt: the Unix98 pty slaves.) Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=136, evidence=int(ev['isolated']['exec_tty']['stdin_device'].split()[0], 16) if ev else None,\n"
      "                  question='the major number of the exec -t terminal')"),
 md("## Further reading\n- setns(2), namespaces(7), pty(7), tty_ioctl(4), unix(7) (SCM_RIGHTS), pidfd_open(2)\n"
    "- runc's `exec` and `--console-socket`; conmon's console handling\n"
    "- this project's `moby_dick/lifecycle.py` (`exec_process`), `terminal.py`, `engine.py` and `demos/exec.py`"),
])

save("13-final-exam", [
 md("# 13 · The final exam: what a container is, graded by the kernel and by the suites the project passes\n\n"
    "**Learning goals**\n"
    "- answer one question from each part of the course, each graded against live kernel evidence\n"
    "- run the OCI runtime-tools validation programs the project itself passes, against moby-dick-oci\n"
    "- see that your understanding and the runtime are checked the same way: by evidence, with a control"),
 IMPORTS,
 md("## How it is graded\n\nEvery answer below is compared with what the kernel reports *in this run* (as in every "
    "lesson's exercises). Then the exam runs a part of the same suite the project's CI runs (`tests/engines`): OCI "
    "runtime-tools, the conformance programs of the runtime-spec, driving `moby-dick-oci` through create, start, "
    "state, kill and delete. A runtime that breaks an isolation fails both: the questions' evidence changes and the "
    "suite's checks fail. The plan of a container with its own root, which the questions refer to:"),
 code("print(describe(plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'))))"),
 md("## The evidence: a container that is not the host's root, live\n\nThe security demo runs a `--rootfs` "
    "container and its **negative control** (`--privileged`) and reads capabilities, seccomp and the masked paths "
    "from `/proc`."),
 code("report = course.lesson_demo('security')\nev = report.evidence if report else None\ncourse.assert_held(report)"),
 md("## Exercise 1 (lessons 00-05)\n\nWhich namespace kinds does `moby-dick run` give a container of its own by "
    "default, without `--rootfs`? A set of names."),
 code("answer = None  # your answer: a set of kind names"),
 code("host = probe.namespace_ids()\n"
      "result = course.privileged('start a container', run, ['true'])\n"
      "course.self_check(answer, solution={'uts', 'ipc', 'net', 'mnt', 'pid'},\n"
      "                  evidence={k for k in result.namespaces if result.namespaces[k] != host[k]} if result else None,\n"
      "                  question='kinds of its own')"),
 md("## Exercise 2 (lesson 09)\n\nHow many capabilities does a `--rootfs` container keep in its effective set?"),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=14, evidence=bin(int(ev['default']['CapEff'], 16)).count('1') if ev else None,\n"
      "                  question='effective capabilities with --rootfs')"),
 md("## Exercise 3 (lesson 11)\n\nA container on `--network bridge`: what is the name of its network device (besides `lo`)?"),
 code("answer = None  # your answer: a device name"),
 code("from moby_dick.forkcall import in_lab\n"
      "import socket\n"
      "def devices_on_the_bridge():  # in a lab network namespace: the bridge exists only there\n"
      "    inside = run(ContainerSpec((), network='bridge', function=lambda: [n for _, n in socket.if_nameindex()]))\n"
      "    return [name for name in inside.value if name != 'lo']\n"
      "names = course.privileged('start a container in a lab', in_lab, devices_on_the_bridge, kinds=('uts', 'ipc', 'mnt', 'net'))\n"
      "course.self_check(answer, solution='eth0', evidence=names[0] if names else None, question=\"the container's device\")"),
 md("## The project's own suite: OCI runtime-tools against moby-dick-oci\n\nSeven validation programs of the "
    "runtime-spec's conformance suite (the full 58 run in `tests/engines`); each starts containers through "
    "`moby-dick-oci` and checks them from inside with `runtimetest`."),
 code("suite = course.peer_suite()\n"
      "if suite:\n"
      "    course.show_table([{'program': t['name'], 'verdict': t['verdict'], 'checks ok': t['ok'], 'not ok': t['not_ok']}\n"
      "                       for t in suite['tests']], title='runtime-tools, this run')"),
 md("### Picture: the checks each program made, and passed"),
 code("if suite:\n    pictures.measured_bars([('checks ok', {t['name'].replace('linux_', ''): t['ok'] for t in suite['tests']}, None)],\n"
      "                           title='runtime-tools checks that held against moby-dick-oci');"),
 md("## Exercise 4: did the runtime pass?\n\nHow many of the seven programs failed in this run?"),
 code("answer = None  # your answer: a number"),
 code("course.self_check(answer, solution=0, evidence=suite['failed'] if suite else None,\n"
      "                  question='runtime-tools programs that failed')"),
 md("## Further reading\n- the OCI runtime-spec (`config.md`, `runtime.md`) and runtime-tools' `validation/`\n"
    "- every lesson's reading list; this project's README, sections \"From docker to moby-dick\" and "
    "\"moby-dick-oci\""),
])

save("09b-seccomp", [
 md("# 09b · seccomp: a filter in front of every system call\n\n"
    "**Learning goals**\n"
    "- explain what a seccomp filter is: a classic-BPF program the kernel runs on every syscall's number and arguments\n"
    "- read docker's default profile semantics (an allow-list; everything else EPERM) and why some calls are gated by capability\n"
    "- see the architecture check that closes the i386 (`int $0x80`) and x32 entries\n"
    "- prove it from the kernel: `Seccomp: 2` in `/proc/<pid>/status`, and a refused `unshare`; the control: `--privileged`"),
 IMPORTS,
 md("## How it works\n\n`seccomp(2)` with `SECCOMP_SET_MODE_FILTER` installs a program that sees `struct seccomp_data` "
    "(the syscall number, the architecture, six arguments) and answers allow, an errno, or kill. It needs no_new_privs "
    "(or CAP_SYS_ADMIN), it is inherited across fork and execve, and it can only be made stricter. moby-dick compiles "
    "docker's default profile with libseccomp (through ctypes) in the runtime, *before* the fork, caches the program, "
    "and installs it as the very last step before `execve`. The calls that reach past namespaces (keyctl, bpf, "
    "perf_event_open, mount without CAP_SYS_ADMIN, namespace flags to clone/unshare...) are left out of the allow-list; "
    "the first check compares the architecture, so a 32-bit entry cannot reach the same numbers with other meanings. "
    "The plan's final phase:"),
 code("print(describe(plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'))).split('final')[-1])"),
 md("### Picture: how big the compiled filter is\n\nThe same profile compiled for two capability sets: with CAP_SYS_ADMIN "
    "the gated calls (mount, unshare, setns...) join the allow-list."),
 code("from moby_dick.seccomp import compile_profile, default_profile\n"
      "from moby_dick.capabilities import DOCKER_DEFAULT as DOCKER_CAPABILITIES\n"
      "sizes = {}\n"
      "for label, caps in (('docker default', DOCKER_CAPABILITIES), ('+ CAP_SYS_ADMIN', DOCKER_CAPABILITIES + ('CAP_SYS_ADMIN',))):\n"
      "    sizes[label] = len(compile_profile(default_profile(caps), caps)) // 8\n"
      "pictures.measured_bars([('BPF instructions', sizes, None)], title='the compiled seccomp program, per capability set');"),
 md("### The program in libseccomp's readable form (PFC), its first lines\n\nThe architecture check comes first: a "
    "syscall from another ABI (i386, x32) is refused before any number is compared."),
 code("text = compile_profile(default_profile(DOCKER_CAPABILITIES), DOCKER_CAPABILITIES, readable=True).decode()\n"
      "print('\\n'.join(text.splitlines()[:24]))"),
 md("## The filter, live\n\nThe security demo starts a `--rootfs` container and, as the **negative control**, the same one "
    "with `--privileged` (no filter), and reads `/proc/self/status` inside."),
 code("report = course.lesson_demo('security')\nev = report.evidence if report else None"),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## Exercise 1\n\nWhat does the `Seccomp:` line of `/proc/self/status` say inside a `--rootfs` container? "
    "(0: none, 1: strict, 2: filter.) Answer with a string. Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: '0', '1' or '2'"),
 code("course.self_check(answer, solution='2', evidence=ev['default'].get('Seccomp') if ev else None,\n"
      "                  question='the Seccomp field inside')"),
 md("## Exercise 2\n\nAnd under `--privileged`? Answer with a string."),
 code("answer = None  # your answer: '0', '1' or '2'"),
 code("course.self_check(answer, solution='0', evidence=ev['control'].get('Seccomp') if ev else None,\n"
      "                  question='the Seccomp field under --privileged')"),
 md("## Further reading\n- seccomp(2), seccomp_rule_add(3), seccomp_export_bpf(3); the kernel's `Documentation/userspace-api/seccomp_filter.rst`\n"
    "- docker's default seccomp profile and its documentation\n- this project's `moby_dick/seccomp.py` and `security.py`"),
])

save("09c-descriptors-proc-and-escapes", [
 md("# 09c · Descriptors, /proc and the escapes: what runtimes got wrong\n\n"
    "**Learning goals**\n"
    "- see that a directory descriptor of the host, inside a container, is a way out of its rootfs (CVE-2024-21626)\n"
    "- follow moby-dick's descriptor hygiene: the child closes everything but stdio and the channel, the final phase "
    "marks the rest close-on-exec\n"
    "- relate `/proc` and `/dev` hardening to the escapes: a non-dumpable `--init` (CVE-2019-5736), a read-only "
    "`/sys/fs/cgroup` and no mount (CVE-2022-0492), masked `/proc` files\n"
    "- run each as a negative control in a lab, never against the host"),
 IMPORTS,
 md("## How it works\n\nA descriptor names an open file, not a path: `openat(fd, \"..\")` from a directory descriptor "
    "of the host walks the *host's* tree, whatever the container's root is. runc leaked one (CVE-2024-21626: its own "
    "cgroup directory, at a low fd, into the container's `cwd`). moby-dick's child closes every descriptor above stdio "
    "but the channel (`close_range(2)`), and the final phase runs `close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)` right "
    "before `execve`, so that nothing of the runtime's, nor of its caller's, crosses. The same idea keeps PID 1 "
    "unreachable: with `--init`, PID 1 is the host's interpreter, made non-dumpable, so `/proc/1/exe`, `/proc/1/fd` "
    "and `/proc/1/map_files` cannot be opened by the container (CVE-2019-5736 overwrote runc's binary through "
    "`/proc/self/exe`). The plan's final phase:"),
 code("print(describe(plan(ContainerSpec(('sh',), rootfs='/srv/rootfs'))).split('final')[-1])"),
 md("## A leaked descriptor, live\n\nThe demo opens a host directory as an *inheritable* descriptor (a careless caller) "
    "and starts a `--rootfs` container that looks for it. The **negative control** passes it on purpose, the way an "
    "engine does, with `moby-dick-oci create --preserve-fds 1`: then it is fd 3 inside, and the host's file reads."),
 code("report = course.lesson_demo('fds')\nev = report.evidence if report else None"),
 md("### Picture: the same descriptor, passed and not passed"),
 code("if ev:\n    pictures.side_by_side('--preserve-fds 1 (the control)', [f\"fd 3 inside: {ev['control']['fd_inside']}\",\n"
      "                             f\"host-secret: {ev['control']['read']}\"],\n"
      "                          'moby-dick run --rootfs', [f\"fd {ev['leaked_fd']} inside: {ev['isolated']['fd_inside']}\",\n"
      "                             f\"host-secret: {ev['isolated']['read']}\",\n"
      "                             f\"/proc/<pid1>/fd from the host: {ev['isolated']['fds_from_host']}\"],\n"
      "                          title='a host directory, open in the caller');"),
 md("## The lesson checks itself"),
 code("course.assert_held(report)"),
 md("## Exercise 1\n\nWhich descriptors does the host see for the container's PID 1 in `/proc/<pid>/fd`? A list of numbers. "
    "Leave `answer = None` to check the reference solution."),
 code("answer = None  # your answer: a list such as [0, 1]"),
 code("course.self_check(answer, solution=[0, 1, 2], evidence=ev['isolated']['fds_from_host'] if ev else None,\n"
      "                  question=\"PID 1's descriptors\")"),
 md("## Exercise 2\n\nIn the control, what did the container read from `/proc/self/fd/3/host-secret`? A string."),
 code("answer = None  # your answer: the file's first line"),
 code("course.self_check(answer, solution='a file of the host', evidence=ev['control']['read'] if ev else None,\n"
      "                  question='what the control read through fd 3')"),
 md("## Further reading\n- close_range(2), openat2(2), proc(5) (`/proc/<pid>/fd`, `map_files`), prctl(2) (`PR_SET_DUMPABLE`)\n"
    "- the advisories of CVE-2024-21626, CVE-2019-5736 and CVE-2022-0492\n"
    "- this project's `moby_dick/process.py` (the child), `finalize.py` and `demos/fds.py`"),
])
