"""Start-to-exit latency of `/bin/true` in new UTS, IPC, network, mount and PID namespaces, moby_dick beside
the real runtimes, measured in one run, interleaved. Usage (root): ``make bench`` or

    .venv/bin/python benchmarks/run.py [--rounds 60] [--throughput 200] [--out benchmarks/out]

Writes ``results.json``, ``results.md`` (the table, the ratios and the budgets) and ``latency.png``.
Every command runs once per round, in a shuffled order, after a warm-up; external commands start with
``posix_spawn`` so the harness adds the same small cost to each. The harness stays small (it imports
matplotlib only at the end), because ``fork`` of a large Python process is slower.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from moby_dick import ContainerSpec, start  # noqa: E402

CONFIG = {  # an OCI bundle equivalent to moby-dick's default: uts, ipc, network, mount, pid; /bin/true
    "ociVersion": "1.0.2",
    "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"],
                "terminal": False},
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "containerhostname",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": t} for t in ("uts", "ipc", "network", "mount", "pid")]},
}
BUDGETS = ("CLI <= 0.9x runc and <= the interpreter floor + 10 ms; with limits <= runc with the same limits; "
           "API <= 1.5x unshare from callers of 16 MB, 200 MB and 1 GB; the security phase <= 2 ms; "
           "--network bridge <= 5 ms; moby-dick-oci run <= runc run; memory per running container <= runc's; "
           "throughput at 1, 2 and 4 in flight >= runc's")
LIMITS = {"memory": {"limit": 64 << 20}, "pids": {"limit": 64}}  # the limits variant, for every runtime


def make_bundle(directory: str) -> str | None:
    busybox = shutil.which("busybox")
    if not busybox:
        return None
    rootfs = os.path.join(directory, "rootfs")
    for sub in ("bin", "proc", "dev", "sys", "tmp"):  # moby-dick --read-only needs its mount points
        os.makedirs(os.path.join(rootfs, sub))
    shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin", "true"))
    with open(os.path.join(directory, "config.json"), "w") as config:
        json.dump(CONFIG, config)
    # the same bundle with cgroup limits (its own directory: a bundle is a directory with config.json)
    limited = os.path.join(directory, "limited")
    os.mkdir(limited)
    own_memory = _own_cgroup("memory")
    with open(os.path.join(limited, "config.json"), "w") as config:
        json.dump({**CONFIG, "root": {"path": rootfs, "readonly": True},  # runc refuses a symlinked rootfs
                   "linux": {**CONFIG["linux"], "resources": LIMITS,
                                       # crun takes the path from each hierarchy's root: keep it below our own
                                       "cgroupsPath": f"{own_memory.rstrip('/')}/moby-bench-{os.getpid()}"}}, config)
    # and one whose container sleeps, for the memory a running container costs
    os.symlink("busybox", os.path.join(rootfs, "bin", "sleep"))
    sleeper = os.path.join(directory, "sleeper")
    os.mkdir(sleeper)
    with open(os.path.join(sleeper, "config.json"), "w") as config:
        json.dump({**CONFIG, "root": {"path": rootfs, "readonly": True},
                   "process": {**CONFIG["process"], "args": ["/bin/sleep", "30"]}}, config)
    return directory


def _own_cgroup(controller: str) -> str:
    for line in open("/proc/self/cgroup"):
        number, controllers, path = line.rstrip("\n").split(":", 2)
        if controller in controllers.split(","):
            return path
    return "/"


def commands(bundle: str | None, lab_netns: str | None = None) -> tuple[dict, dict]:
    """name -> argv for every runtime found, and name -> reason for every one missing. ``lab_netns``: a
    network namespace of the benchmark's own (``/proc/PID/ns/net``) for the --network bridge rows."""
    python = sys.executable
    found, missing = {}, {}
    found["python -c pass (interpreter floor)"] = [python, "-c", "pass"]
    script = os.path.join(os.path.dirname(python), "moby-dick")  # the console script, as users start it
    found["moby-dick CLI"] = ([script] if os.path.exists(script) else [python, "-m", "moby_dick"]) + [
        "--no-mytmp", "/bin/true"]
    if bundle:  # the same rootfs runc and crun use, read-only as their config.json says
        found["moby-dick CLI --rootfs --read-only"] = found["moby-dick CLI"][:-2] + [
            "--rootfs", os.path.join(bundle, "rootfs"), "--read-only", "/bin/true"]
        # the same without the security phase (capabilities, no_new_privs, seccomp, masks, device rules):
        # the difference of the two rows is what the protections cost a start
        found["moby-dick CLI --rootfs --read-only --privileged"] = found["moby-dick CLI"][:-2] + [
            "--rootfs", os.path.join(bundle, "rootfs"), "--read-only", "--privileged", "/bin/true"]
        found["moby-dick CLI --rootfs --read-only (limits)"] = found["moby-dick CLI"][:-2] + [
            "--rootfs", os.path.join(bundle, "rootfs"), "--read-only", "--memory", str(LIMITS["memory"]["limit"]),
            "--pids-limit", str(LIMITS["pids"]["limit"]), "/bin/true"]
    # --network bridge, inside a network namespace of the benchmark's own (the bridge never exists on the host):
    # the difference of the two rows is what the bridge costs a start (the bridge exists after the warm-up,
    # as moby-dick0 stays like docker0: the steady state)
    nsenter = shutil.which("nsenter")
    if lab_netns and nsenter:
        enter = [nsenter, f"--net={lab_netns}"]
        found["moby-dick CLI (in a netns)"] = enter + found["moby-dick CLI"]
        found["moby-dick CLI --network bridge (in a netns)"] = enter + found["moby-dick CLI"][:-1] + [
            "--network", "bridge", "/bin/true"]
    oci = os.path.join(os.path.dirname(python), "moby-dick-oci")
    if bundle and os.path.exists(oci):  # create + start + wait + delete, as `runc run` does, on the same bundle
        state = os.path.join(bundle, "oci-state")
        found["moby-dick-oci run"] = [oci, "--root", state, "run", "--bundle", bundle, f"moby-bench-oci-{os.getpid()}-{{n}}"]
    wanted = {
        # the same namespaces as moby-dick's default, PID 1 included, with a fresh /proc as moby-dick mounts
        "unshare -uinmpf --mount-proc": ("unshare", ["-uinmpf", "--mount-proc", "/bin/true"]),
        "bwrap": ("bwrap", ["--unshare-uts", "--unshare-ipc", "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/",
                            "--proc", "/proc", "/bin/true"]),
    }
    for name, (tool, args) in wanted.items():
        path = shutil.which(tool)
        if path:
            found[name] = [path, *args]
        else:
            missing[name] = f"{tool} not installed"
    for tool in ("runc", "crun"):
        path = shutil.which(tool)
        if not path or not bundle:
            missing[f"{tool} run"] = f"{tool} not installed" if not path else "no busybox for the bundle's rootfs"
            continue
        if tool == "runc":  # places its cgroups at <own cgroup>/<id> and removes them at exit
            found["runc run"] = [path, "run", "--bundle", bundle, f"moby-bench-runc-{os.getpid()}-{{n}}"]
            found["runc run (limits)"] = [path, "run", "--bundle", os.path.join(bundle, "limited"),
                                          f"moby-bench-runcl-{os.getpid()}-{{n}}"]
        else:  # crun 1.8 refuses a hybrid cgroup layout: hide the v2 mount in a private mount namespace
            found["crun run"] = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 f"umount /sys/fs/cgroup/unified 2>/dev/null; exec {path} --cgroup-manager=disabled "
                                 f"run --bundle {bundle} moby-bench-crun-{os.getpid()}-{{n}}"]
            found["crun run (limits)"] = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                          f"umount /sys/fs/cgroup/unified 2>/dev/null; exec {path} --cgroup-manager=cgroupfs "
                                          f"run --bundle {bundle}/limited moby-bench-crunl-{os.getpid()}-{{n}}"]
    return found, missing


_STARTS = iter(range(1 << 62))  # {n} in a command: a fresh container name per start


def time_command(argv: list[str]) -> float:
    argv = [arg.replace("{n}", str(next(_STARTS))) for arg in argv]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0]), argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter() - started) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed


API_SPEC = ContainerSpec(("/bin/true",), seed_tmpfs=False)


def time_api(spec: ContainerSpec = API_SPEC, fork_server: bool | None = None) -> float:
    started = time.perf_counter()
    result = start(spec, fork_server=fork_server).wait()
    elapsed = (time.perf_counter() - started) * 1000
    assert result.exit_code == 0
    return elapsed


def summarize(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "min": ordered[0], "n": len(ordered)}


# The targets (issue "start faster than runc"), as data: (ours, the reference, at most this times it)
RATIO_BUDGETS = (
    ("moby-dick CLI", "runc run", 0.9),
    ("moby-dick CLI --rootfs --read-only", "runc run", 0.9),
    ("moby-dick CLI --rootfs --read-only (limits)", "runc run (limits)", 1.0),
    ("moby-dick-oci run", "runc run", 1.0),
    ("moby_dick API (in-process)", "unshare -uinmpf --mount-proc", 1.5),
    ("moby_dick API --rootfs --read-only", "crun run", 2.0),
    ("moby_dick API --rootfs --read-only (limits)", "crun run (limits)", 2.0),
)
# (ours, the same without one thing, at most this many ms more, what the difference is)
EXTRA_BUDGETS = (
    ("moby-dick CLI", "python -c pass (interpreter floor)", 10, "over the interpreter floor"),
    ("moby_dick API --rootfs --read-only", "moby_dick API --rootfs --read-only --privileged", 2,
     "the security phase (capabilities, no_new_privs, seccomp, masks, and on v1 the devices hierarchy's cgroup)"),
    ("moby-dick CLI --network bridge (in a netns)", "moby-dick CLI (in a netns)", 5, "--network bridge"),
)


def budgets(stats: dict, paired: dict | None = None) -> list[str]:
    """One line per budget whose rows were measured: held or missed, and by how much. ``paired``: for an
    extra-cost budget, {(ours, without): the median of the per-round differences}, the two rows having run
    back to back in each round (what the machine's drift does to one, it does to the other). Pure:
    tested in tests/unit/test_benchmark_report.py."""
    lines = []
    for ours, theirs, factor in RATIO_BUDGETS:
        if ours in stats and theirs in stats:
            value, limit = stats[ours]["median"], factor * stats[theirs]["median"]
            lines.append(f"{ours} <= {factor}x {theirs} ({limit:.2f} ms): {'held' if value <= limit else 'MISSED'} "
                         f"({value:.2f} ms, {value / stats[theirs]['median']:.2f}x)")
    for ours, without, most, what in EXTRA_BUDGETS:
        if (ours, without) in (paired or {}):
            extra = paired[(ours, without)]
            how = f"{extra:+.1f} ms, median of the rounds' paired differences; difference of the medians " \
                  f"{stats[ours]['median'] - stats[without]['median']:+.1f} ms"
        elif ours in stats and without in stats:
            extra = stats[ours]["median"] - stats[without]["median"]
            how = f"{extra:+.1f} ms"
        else:
            continue
        lines.append(f"{what}: <= {most} ms: {'held' if extra <= most else 'MISSED'} ({how})")
    return lines


def paired_differences(samples: dict) -> dict:
    """{(ours, without): median of ours[i] - without[i]} for each extra-cost budget measured in pairs. Pure."""
    return {(ours, without): statistics.median(a - b for a, b in zip(samples[ours], samples[without]))
            for ours, without, _, _ in EXTRA_BUDGETS if samples.get(ours) and samples.get(without)}


def rounds_of(names: list[str]) -> list[list[str]]:
    """The order of one round: each extra-cost budget's two rows back to back (in a random order), the
    other rows alone, the units shuffled."""
    paired = [[ours, without] for ours, without, _, _ in EXTRA_BUDGETS if ours in names and without in names]
    in_pairs = {name for pair in paired for name in pair}
    units = paired + [[name] for name in names if name not in in_pairs]
    random.shuffle(units)
    for unit in units:
        random.shuffle(unit)
    return units


def sweep_budgets(sweep: list[dict], throughput: dict, memory: dict) -> list[str]:
    """The caller-size, concurrency and memory targets. Pure."""
    lines = []
    for point in sweep:
        api, unshare = point["median"]["API (fork server)"], point["median"]["unshare -uinmpf --mount-proc"]
        lines.append(f"API from a {point['size_mb']} MB caller <= 1.5x unshare ({1.5 * unshare:.2f} ms): "
                     f"{'held' if api <= 1.5 * unshare else 'MISSED'} ({api:.2f} ms, {api / unshare:.2f}x; "
                     f"forking the caller itself: {point['median']['API (fork of the caller)']:.2f} ms)")
    ours, runc = throughput.get("moby_dick API"), throughput.get("runc run")
    if ours and runc:
        for parallel in (1, 2, 4):
            if str(parallel) in ours and str(parallel) in runc:
                a, b = ours[str(parallel)], runc[str(parallel)]
                lines.append(f"throughput at {parallel} in flight >= runc's ({b:.0f}/s): "
                             f"{'held' if a >= b else 'MISSED'} ({a:.0f}/s)")
    if "runc run" in memory:
        for name, kb in memory.items():
            if name != "runc run" and name.startswith("moby"):
                lines.append(f"host memory per running container, {name} <= runc's ({memory['runc run']} KB): "
                             f"{'held' if kb <= memory['runc run'] else 'MISSED'} ({kb} KB)")
    return lines


def ratios(stats: dict) -> list[dict]:
    rows = []
    for name in ("moby_dick API (in-process)", "moby_dick API --rootfs --read-only",
                 "moby_dick API --rootfs --read-only (limits)", "moby-dick CLI", "moby-dick CLI --rootfs --read-only"):
        if name not in stats:
            continue
        row = {"": name}
        references = ("crun run (limits)", "runc run (limits)") if "limits" in name else ("unshare -uinmpf --mount-proc", "crun run", "runc run")
        for reference in references:
            if reference in stats:
                row[f"/ {reference}"] = f"{stats[name]['median'] / stats[reference]['median']:.2f}x"
        rows.append(row)
    ours, theirs = PODMAN_ROWS["moby-dick-oci"], PODMAN_ROWS["runc"]
    if ours in stats and theirs in stats:
        rows.append({"": ours, f"/ {theirs}": f"{stats[ours]['median'] / stats[theirs]['median']:.2f}x"})
    return rows


PODMAN_ROWS = {"runc": "podman run --rm (runc)", "crun": "podman run --rm (crun)",
               "moby-dick-oci": "podman run --rm (moby-dick-oci)"}


def podman_samples(rounds: int) -> dict:
    """The OCI path under an engine: `podman run --rm` of `true` with each runtime, interleaved, podman
    isolated as the peer scenario isolates it (benchmarks/podman_run.sh). {} without podman."""
    runtimes = [path for path in (shutil.which("runc"), shutil.which("crun"), os.path.join(os.path.dirname(sys.executable), "moby-dick-oci"))
                if path and os.path.exists(path)]
    if not shutil.which("podman") or not (shutil.which("conmon") or os.path.exists("/usr/libexec/podman/conmon")):
        return {}
    done = subprocess.run(["bash", os.path.join(HERE, "podman_run.sh"), str(rounds), *runtimes],
                          capture_output=True, text=True, timeout=60 + 30 * rounds * len(runtimes))
    if done.returncode != 0:
        print(f"podman rows left out: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return {}
    found = {}
    for line in done.stdout.splitlines():
        path, *values = line.split()
        found[PODMAN_ROWS[os.path.basename(path)]] = [float(value) for value in values]
    return found


def throughput_api(total: int, parallel: int) -> float:
    """Containers per second through the API with ``parallel`` running at once."""
    running, done, started = [], 0, time.perf_counter()
    while done < total:
        while len(running) < parallel and done + len(running) < total:
            running.append(start(API_SPEC))
        running.pop(0).wait()
        done += 1
    return total / (time.perf_counter() - started)


def throughput_command(argv: list[str], total: int, parallel: int) -> float:
    """Containers per second of a command line, ``parallel`` in flight (each waited by its pidfd)."""
    import select

    path = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
    quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    running: dict = {}  # pidfd -> pid
    launched, started = 0, time.perf_counter()
    while launched < total or running:
        while len(running) < parallel and launched < total:
            # each its own container name, where the runtime wants one (runc, crun, moby-dick-oci)
            args = [arg.replace("{n}", str(next(_STARTS))) for arg in argv]
            pid = os.posix_spawn(path, args, os.environ, file_actions=quiet)
            running[os.pidfd_open(pid)] = pid
            launched += 1
        ready, _, _ = select.select(list(running), [], [])
        for pidfd in ready:
            os.waitpid(running.pop(pidfd), 0)
            os.close(pidfd)
    return total / (time.perf_counter() - started)


def concurrency(found: dict, total: int, levels=(1, 2, 4, 8)) -> dict:
    """name -> {in flight: containers/s}, for the API and the real runtimes, in the same run."""
    commands = {name: argv for name, argv in found.items() if name in ("runc run", "crun run", "moby-dick CLI")}
    result = {"moby_dick API": {}}
    for parallel in levels:
        result["moby_dick API"][str(parallel)] = round(throughput_api(total, parallel), 1)
        for name, argv in commands.items():
            result.setdefault(name, {})[str(parallel)] = round(throughput_command(argv, total, parallel), 1)
    return result


def caller_sweep(rounds: int, sizes=(16, 200, 1024)) -> list[dict]:
    """The API's start from callers of each size (benchmarks/caller.py, one process per size)."""
    points = []
    for size in sizes:
        done = subprocess.run([sys.executable, os.path.join(HERE, "caller.py"), str(size), str(rounds)],
                              capture_output=True, text=True, check=True)
        points.append(json.loads(done.stdout))
    return points


def _descendants(root: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def memory_per_container(launchers: dict, count: int = 8) -> dict:
    """name -> KB of host memory (PSS: shared pages split among their sharers) that the runtime's own
    processes hold per running container, ``count`` containers of ``sleep`` running at once; the
    container's own process is not counted. ``launchers``: name -> a function that starts one and
    returns the pid of the process tree to count (None: the fork server's, shared by all)."""
    result = {}
    for name, launch in launchers.items():
        roots = [launch() for _ in range(count)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until every container's sleep runs
            trees = [pid for root in set(roots) for pid in _descendants(root)]
            if sum(_comm(pid) == "sleep" for pid in trees) >= count:
                break
            time.sleep(0.05)
        runtime = [pid for pid in trees if _comm(pid) != "sleep"]
        result[name] = sum(_pss_kb(pid) for pid in runtime) // count
        for pid in trees:
            if _comm(pid) == "sleep":
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        for root in set(roots):
            if root != os.getpid() and root != _fork_server_pid():
                try:
                    os.waitpid(root, 0)
                except ChildProcessError:
                    pass
        _finish_api_sleepers()
    return result


_SLEEPERS: list = []


def _fork_server_pid() -> int | None:
    from moby_dick import forkserver

    return forkserver.running()


def _launch_api_sleeper() -> int:
    _SLEEPERS.append(start(ContainerSpec(("sleep", "30"), seed_tmpfs=False)))
    return _fork_server_pid()


def _finish_api_sleepers() -> None:
    while _SLEEPERS:
        _SLEEPERS.pop().close()


def _spawner(argv: list[str]):
    def launch() -> int:
        args = [arg.replace("{n}", str(next(_STARTS))) for arg in argv]
        path = args[0] if os.path.isabs(args[0]) else shutil.which(args[0])
        return os.posix_spawn(path, args, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    return launch


def peak_memory_kb(argv: list[str]) -> int:
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_maxrss


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    from moby_dick.probe import cgroup_layout

    return {"kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "cgroups": cgroup_layout(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "versions": {tool: _version(tool) for tool in ("runc", "crun", "bwrap", "unshare")}}


def _version(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        return "missing"
    done = subprocess.run([path, "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else "?"


def markdown(result: dict) -> str:
    lines = ["# moby_dick start-to-exit benchmark", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, kernel "
             f"{result['machine']['kernel']}, cgroups {result['machine']['cgroups']}, Python "
             f"{result['machine']['python']}; {result['machine']['date']}.", "",
             f"Workload: `/bin/true` in new UTS, IPC, network, mount and PID namespaces; {result['rounds']} interleaved "
             "rounds after a warm-up. Times in ms (start to exit, as the caller sees it).", "",
             "| runtime | median | p90 | min |", "|---|---:|---:|---:|"]
    for name, s in sorted(result["stats"].items(), key=lambda item: item[1]["median"]):
        lines.append(f"| {name} | {s['median']:.2f} | {s['p90']:.2f} | {s['min']:.2f} |")
    for name, reason in result["missing"].items():
        lines.append(f"| {name} | missing: {reason} | | |")
    lines += ["", "Ratios of medians, from this run:", ""]
    for row in result["ratios"]:
        lines.append(f"- {row['']}: " + ", ".join(f"{key[2:]} {value}" for key, value in row.items() if key))
    lines += ["", f"Budgets ({BUDGETS}):", ""] + [f"- {line}" for line in result["budgets"]]
    lines += ["", "API start-to-exit by the caller's size (resident memory), medians in ms "
              "(benchmarks/caller.py: one process per size):", "",
              "| caller | API (fork server) | API (fork of the caller) | unshare -uinmpf --mount-proc |", "|---:|---:|---:|---:|"]
    for point in result["sweep"]:
        m = point["median"]
        lines.append(f"| {point['resident_mb']:.0f} MB | {m['API (fork server)']:.2f} | {m['API (fork of the caller)']:.2f} | "
                     f"{m['unshare -uinmpf --mount-proc']:.2f} |")
    flight = result["throughput"]
    levels = sorted({level for rates in flight.values() for level in rates}, key=int)
    lines += ["", f"Throughput, containers/s of `/bin/true`, by how many are in flight ({result.get('throughput_total', 0)} each):", "",
              "| runtime | " + " | ".join(levels) + " |", "|---|" + "---:|" * len(levels)]
    for name, rates in flight.items():
        lines.append(f"| {name} | " + " | ".join(f"{rates.get(level, 0):.0f}" for level in levels) + " |")
    lines += ["", "Host memory per running container (PSS of the runtime's own processes, the container's "
              "`sleep` not counted; 8 running at once), KB: "
              + ", ".join(f"{name} {kb}" for name, kb in result["memory_kb"].items()) + "."]
    lines += [
              "", f"Peak memory (max RSS) of the moby-dick CLI process: {result['cli_peak_rss_kb']} KB; "
              f"of `python -c pass`: {result['floor_peak_rss_kb']} KB.",
              "", "The `--rootfs` variants use the busybox rootfs of the runc/crun bundle; moby-dick also mounts "
              "/dev, /sys and /tmp there, runc and crun only /proc. The `(limits)` variants add a 64 MiB memory "
              "and a 64-process limit, in cgroups below the benchmark's own.", ""]
    return "\n".join(lines)


def plot(samples: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(samples, key=lambda name: statistics.median(samples[name]))
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(names) + 1.5))
    ax.boxplot([samples[name] for name in names], orientation="horizontal", showfliers=False)
    ax.set_yticks(range(1, len(names) + 1), names)
    for row, name in enumerate(names, 1):
        ax.scatter(samples[name], [row + random.uniform(-0.15, 0.15) for _ in samples[name]], s=4, alpha=0.4)
    ax.set_xscale("log")
    ax.set_xlabel("start to exit of /bin/true, ms (log scale)")
    ax.set_title("container start latency, one interleaved run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 60
    total = int(argv[argv.index("--throughput") + 1]) if "--throughput" in argv else 200
    out = argv[argv.index("--out") + 1] if "--out" in argv else os.path.join(HERE, "out")
    if os.geteuid() != 0:
        print("benchmarks need root (namespaces); run: sudo make bench", file=sys.stderr)
        return 77
    os.makedirs(out, exist_ok=True)
    # PYTHONDONTWRITEBYTECODE may be set: make sure the start path loads .pyc files, as an install does
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-o", "0", "-o", "2", os.path.join(ROOT, "moby_dick")],
                   check=True)  # (the launchers run -OO: moby_dick/launcher.py)
    lab = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])  # the bridge rows' network namespace
    time.sleep(0.2)
    try:
        return _measure(rounds, total, out, f"/proc/{lab.pid}/ns/net")
    finally:
        lab.kill()
        lab.wait()


def _measure(rounds: int, total: int, out: str, lab_netns: str) -> int:
    with tempfile.TemporaryDirectory(prefix="moby-dick-bench-") as directory:
        bundle = make_bundle(directory)
        found, missing = commands(bundle, lab_netns)
        timers = {name: (lambda argv=argv: time_command(argv)) for name, argv in found.items()}
        timers["moby_dick API (in-process)"] = time_api  # through the fork server, the API's default
        timers["moby_dick API (fork of the caller)"] = lambda: time_api(API_SPEC, fork_server=False)
        if bundle:
            jailed = ContainerSpec(("/bin/true",), rootfs=os.path.join(bundle, "rootfs"), read_only=True)
            overlay = ContainerSpec(("/bin/true",), rootfs=os.path.join(bundle, "rootfs"))
            timers["moby_dick API --rootfs --read-only"] = lambda: time_api(jailed)
            privileged = jailed.replace(privileged=True)  # the same start without the security phase
            timers["moby_dick API --rootfs --read-only --privileged"] = lambda: time_api(privileged)
            timers["moby_dick API --rootfs (overlay)"] = lambda: time_api(overlay)
            from moby_dick.cgroups import Limits

            limited = jailed.replace(limits=Limits(memory=LIMITS["memory"]["limit"], pids=LIMITS["pids"]["limit"]))
            timers["moby_dick API --rootfs --read-only (limits)"] = lambda: time_api(limited)
        samples = {name: [] for name in timers}
        for _ in range(3):  # warm-up: page cache, pyc files, dentries
            for timer in timers.values():
                timer()
        names = list(timers)
        for _ in range(rounds):
            for unit in rounds_of(names):
                for name in unit:
                    samples[name].append(timers[name]())
        samples.update(podman_samples(max(5, rounds // 3)))
        stats = {name: summarize(values) for name, values in samples.items()}
        flight = concurrency(found, total)
        sweep = caller_sweep(max(10, rounds // 2))
        launchers = {"moby_dick API (fork server)": _launch_api_sleeper,
                     "moby-dick CLI": _spawner(found["moby-dick CLI"][:-1] + ["sleep", "30"])}
        runc = shutil.which("runc")
        if runc and bundle:
            launchers["runc run"] = _spawner([runc, "run", "--bundle", os.path.join(bundle, "sleeper"),
                                              f"moby-bench-mem-{os.getpid()}-{{n}}"])
        memory = memory_per_container(launchers)
        result = {"machine": machine(), "rounds": rounds, "stats": stats, "missing": missing,
                  "ratios": ratios(stats), "budgets": budgets(stats, paired_differences(samples)) + sweep_budgets(sweep, flight, memory),
                  "throughput": flight, "sweep": sweep, "memory_kb": memory,
                  "cli_peak_rss_kb": peak_memory_kb(found["moby-dick CLI"]),
                  "floor_peak_rss_kb": peak_memory_kb(found["python -c pass (interpreter floor)"]),
                  "throughput_total": total, "samples": samples}
    with open(os.path.join(out, "results.json"), "w") as file:
        json.dump(result, file, indent=1)
    report = markdown(result)
    with open(os.path.join(out, "results.md"), "w") as file:
        file.write(report)
    plot(samples, os.path.join(out, "latency.png"))
    print(report)
    print(f"written: {out}/results.json, results.md, latency.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
