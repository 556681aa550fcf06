"""``moby-dick``: the command line. The one place that turns errors into a line and an exit status.

    moby-dick COMMAND [ARG...]                   as the seed: moby-dick /bin/bash
    moby-dick run [OPTIONS] [--] COMMAND [ARG...]
    moby-dick mkrootfs DIR [--from busybox|host] build a small root file system, offline
    moby-dick cleanup                            remove what a SIGKILLed run left, and the tarball cache

Exit status: the command's own; 128+N when a signal N killed it; 125 when moby-dick failed (bad
input, a syscall refused); 126 when the command cannot be executed; 127 when it is not found.

The parser is a small table, not argparse: options stop at the first non-option word (that is the
command, whose own options must not be eaten), and a plain run imports nothing it does not need.
"""

from __future__ import annotations

import os
import sys

from .errors import MobyError, UsageError

USAGE = """\
usage: moby-dick [run] [OPTIONS] [--] COMMAND [ARG...]
       moby-dick run -d [--name NAME] --rootfs DIR [OPTIONS] COMMAND [ARG...]
       moby-dick ps [-a] | logs [-f] C | exec [-i] [-t] [-u U] [-e K=V] [-w DIR] C CMD...
       moby-dick stop [-t S] C... | kill [-s SIG] C...
       moby-dick rm [-f] C... | wait C... | inspect C...  (C: a name, an id or a unique id prefix)
       moby-dick mkrootfs DIR [--from busybox|host]
       moby-dick cleanup
       moby-dick doctor [--json]

The first word decides: a subcommand above is the subcommand; anything else is the seed's form
(moby-dick /bin/bash, moby-dick ip a); `moby-dick run CMD` or `moby-dick -- CMD` always runs CMD.

Run COMMAND in new UTS, IPC, network, mount and PID namespaces.

options:
  -h, --hostname NAME    hostname inside the container (default: containerhostname)
  --tmpfs PATH[:OPTS]    also mount a tmpfs on PATH (absolute; repeatable); OPTS as docker's:
                         size=64m,mode=1777,uid=N,gid=N,ro,noexec ... (default nosuid,nodev,mode=1777)
  --no-mytmp             do not mount the seed's tmpfs on /mytmp
  --uts private|host     share the host's hostname namespace (a negative control)
  --ipc private|host     share the host's System V IPC namespace
  --network MODE         none: own network namespace with only lo (default); host: share it;
                         bridge: eth0 on the bridge moby-dick0, an address of 10.213.0.0/24 (--subnet
                         CIDR), lo up, a default route; container:NAME|ID|PID or ns:PATH: join that one
  -p, --publish [IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]
                         with --network bridge: forward HOST_PORT (on 127.0.0.1 unless IP is given)
                         to the container's port (repeatable)
  --pid private|host     share the host's PID namespace (default: COMMAND is PID 1)
  --init                 run moby-dick's init as PID 1: it forwards signals and reaps zombies
  --rootfs DIR|TARBALL   pivot_root into DIR (copy-on-write: DIR stays untouched); build one
                         with `moby-dick mkrootfs DIR`; a .tar/.tar.gz is unpacked safely first
  --read-only            with --rootfs: no copy-on-write layer, a read-only root
  -v, --volume HOST:CONTAINER[:ro]   bind a host path into the rootfs (repeatable)
  -w, --workdir DIR      the command's working directory
  -e, --env KEY=VALUE    set an environment variable (repeatable); -e KEY: moby-dick's own value
  --env-file FILE        KEY=VALUE lines (# comments, blank lines skipped), before the -e ones
  --entrypoint CMD       run CMD with COMMAND's words as its arguments (COMMAND may then be empty)
  -u, --user USER[:GROUP]  run the command as this user: names or ids; names are looked up in the
                         rootfs's /etc/passwd and /etc/group (the host's without --rootfs)
  -t, --tty              a terminal of the container's own (a pty); moby-dick relays it
  -i, --interactive      with -t: your keys go to the container (-it); stdin is always
                         the container's in the foreground, never with -d
  --jail pivot|chroot    chroot: a plain chroot, escapable (the jail demo's negative control)
  --memory SIZE          memory limit (64m, 1g ...); the kernel's OOM killer stops the container
  --memory-swap SIZE     memory plus swap limit (-1: unlimited swap)
  --pids-limit N         at most N processes (a fork bomb stops there)
  --cpus N               at most N CPUs' worth of time (0.5: half of one)
  --cpu-shares N         relative CPU weight (v1 shares; converted to cpu.weight on v2)
  --cgroup-parent PATH   create the container's cgroup beneath PATH: relative to moby-dick's own
                         cgroup, or absolute from the hierarchy's root (default: moby-dick's own)
  --cgroupns private|host  private: the container sees its cgroup as the root (default with --rootfs)
  --stats                at exit, print peak memory, CPU time and refused forks, from the cgroup
  --cap-add CAP, --cap-drop CAP   with --rootfs: adjust docker's default capabilities (names, or ALL)
  --privileged           with --rootfs: every capability, no seccomp, no masked paths, all devices
  --device HOST[:CONTAINER[:rwm]]  with --rootfs: a device node of the host, allowed by the device cgroup
  --userns host|private  private: root inside is an unprivileged id outside (moby-dick's subordinate range)
  --sysctl KEY=VALUE     with --rootfs: a namespaced kernel setting (kernel.msg*, kernel.sem, kernel.shm*,
                         fs.mqueue.*, net.* with a network namespace of its own)
  --security-opt OPT     no-new-privileges=false | seccomp=unconfined | seccomp=PROFILE.json
                         (with --rootfs the container is not the host's root: docker's capabilities,
                         no_new_privs, seccomp, masked /proc paths, a device cgroup; without --rootfs it
                         shares the host's files and is NO security boundary: see the README)
  --propagation private|slave|unchanged
                         what / becomes in the new mount namespace before anything is mounted
                         (unchanged reproduces the seed's propagation bug)
  --dry-run              print the whole plan (host, child, runtime, init, final phases), and exit
  --help                 show this help (-h alone too)
  --version              show the version

exit status: the command's; 128+N if signal N killed it; 125 moby-dick failed;
126 command not executable; 127 command not found."""

# option -> (field, takes a value, allowed values or None)
_OPTIONS = {
    "--hostname": ("hostname", True, None),
    "--tmpfs": ("tmpfs", True, None),
    "--no-mytmp": ("no_mytmp", False, None),
    "--uts": ("uts", True, ("private", "host")),
    "--ipc": ("ipc", True, ("private", "host")),
    "--network": ("net", True, None), "--net": ("net", True, None),
    "-p": ("publish", True, None), "--publish": ("publish", True, None),
    "--subnet": ("subnet", True, None),
    "--propagation": ("propagation", True, ("private", "slave", "unchanged")),
    "--pid": ("pid", True, ("private", "host")),
    "--init": ("init", False, None),
    "--rootfs": ("rootfs", True, None),
    "--read-only": ("read_only", False, None),
    "--volume": ("volumes", True, None), "-v": ("volumes", True, None),
    "--workdir": ("workdir", True, None), "-w": ("workdir", True, None),
    "--env": ("env", True, None), "-e": ("env", True, None),
    "--user": ("user", True, None), "-u": ("user", True, None),
    "--jail": ("jail", True, ("pivot", "chroot")),
    "--memory": ("memory", True, None), "-m": ("memory", True, None),
    "--memory-swap": ("memory_swap", True, None),
    "--pids-limit": ("pids_limit", True, None),
    "--cpus": ("cpus", True, None),
    "--cpu-shares": ("cpu_shares", True, None),
    "--cgroup-parent": ("cgroup_parent", True, None),
    "--cgroupns": ("cgroupns", True, ("private", "host")),
    "--stats": ("stats", False, None),
    "--cap-add": ("cap_add", True, None),
    "--cap-drop": ("cap_drop", True, None),
    "--privileged": ("privileged", False, None),
    "--security-opt": ("security_opt", True, None),
    "--device": ("devices", True, None),
    "--userns": ("userns", True, ("host", "private")),
    "-d": ("detach", False, None), "--detach": ("detach", False, None),
    "--name": ("name", True, None),
    "--rm": ("remove", False, None),
    "--sysctl": ("sysctls", True, None),
    "--dry-run": ("dry_run", False, None),
    "-i": ("interactive", False, None), "--interactive": ("interactive", False, None),
    "-t": ("tty", False, None), "--tty": ("tty", False, None),
    "--env-file": ("env_files", True, None),
    "--entrypoint": ("entrypoint", True, None),
    "-h": ("hostname", True, None),
}
REPEATABLE = ("tmpfs", "volumes", "env", "cap_add", "cap_drop", "security_opt", "devices", "sysctls", "env_files",
              "publish")
COMBINABLE = "dit"  # single-letter flags docker lets one write together: -it, -dit


def split_combined(word: str, letters: str) -> list[str] | None:
    """``-it`` -> ``["-i", "-t"]`` when every letter is one of ``letters``; None for anything else. Pure."""
    if len(word) > 2 and word[0] == "-" and word[1] != "-" and all(c in letters for c in word[1:]):
        return [f"-{letter}" for letter in word[1:]]
    return None


class Invocation:
    """What the command line asked for: an action ("run", "help", "version", "cleanup") and options."""

    def __init__(self, action: str):
        self.action = action
        self.argv: list = []
        self.hostname: str | None = None
        self.tmpfs: list = []
        self.no_mytmp = False
        self.uts = self.ipc = "private"
        self.net = "none"
        self.propagation = "private"
        self.dry_run = False
        self.pid = "private"
        self.init = self.read_only = False
        self.rootfs = self.workdir = self.user = None
        self.volumes: list = []
        self.env: list = []
        self.jail = "pivot"
        self.source = "auto"  # mkrootfs --from
        self.memory = self.memory_swap = self.pids_limit = self.cpus = self.cpu_shares = None
        self.cgroup_parent = self.cgroupns = None
        self.stats = False
        self.json = False  # doctor --json
        self.cap_add: list = []
        self.cap_drop: list = []
        self.security_opt: list = []
        self.privileged = False
        self.devices: list = []
        self.userns = "host"
        self.detach = False
        self.name = None
        self.remove = False  # --rm: an attached run is always removed; a detached one when it exits
        self.sysctls: list = []
        self.interactive = self.tty = False
        self.env_files: list = []
        self.entrypoint: str | None = None
        self.publish: list = []
        self.subnet: str | None = None

    def spec(self):
        from .spec import ContainerSpec

        share = {kind for kind, mode in (("uts", self.uts), ("ipc", self.ipc), ("net", self.net),
                                         ("pid", self.pid)) if mode == "host"}
        console_size = None
        if self.tty:
            from .terminal import window_size

            console_size = window_size(0)
        argv = ([self.entrypoint] if self.entrypoint else []) + list(self.argv)
        env = [item for path in self.env_files for item in read_env_file(path)] + self.env
        return ContainerSpec(argv=tuple(argv), hostname=self.hostname, tmpfs=tuple(self.tmpfs),
                             seed_tmpfs=not self.no_mytmp, share=frozenset(share),
                             propagation=self.propagation, init=self.init, rootfs=self.rootfs,
                             read_only=self.read_only, volumes=tuple(self.volumes), workdir=self.workdir,
                             env=tuple(env), user=self.user, jail=self.jail, limits=self.limits(),
                             cgroup_parent=self.cgroup_parent, accounting=self.stats, cgroupns=self.cgroupns,
                             cap_add=tuple(self.cap_add), cap_drop=tuple(self.cap_drop), privileged=self.privileged,
                             security_opt=tuple(self.security_opt), devices=tuple(self.devices),
                             sysctls=tuple(self.sysctls), userns=self.userns, tty=self.tty,
                             console_size=console_size, network="none" if self.net == "private" else self.net,
                             publish=tuple(self.publish), subnet=self.subnet)

    def limits(self):
        texts = (self.memory, self.memory_swap, self.pids_limit, self.cpus, self.cpu_shares)
        if all(text is None for text in texts):
            return None
        from .cgroups import parse_limits

        return parse_limits(*texts)


ENGINE_VERBS = ("ps", "exec", "logs", "stop", "kill", "rm", "wait", "inspect")
NO_REGISTRY = ("pull", "push", "images", "build", "login")


def parse_args(args: list[str]) -> Invocation:
    """argv (without the program name) -> Invocation. Pure; raises UsageError. The first word decides: a
    moby-dick subcommand is one; anything else is the seed's form (`moby-dick ip a`)."""
    args = list(args)
    if args and args[0] in NO_REGISTRY:
        raise UsageError(f"{args[0]}: moby-dick has no registry client and never goes to the network; make a root "
                         "file system with `moby-dick mkrootfs DIR`, or give a directory or a tarball to --rootfs")
    if args and args[0] in ENGINE_VERBS:
        invocation = Invocation(args[0])
        invocation.argv = args[1:]
        return invocation
    if args and args[0] == "doctor":
        if args[1:] not in ([], ["--json"]):
            raise UsageError("usage: moby-dick doctor [--json]")
        invocation = Invocation("doctor")
        invocation.json = args[1:] == ["--json"]
        return invocation
    if args and args[0] == "cleanup":
        if len(args) > 1:
            raise UsageError("cleanup takes no arguments")
        return Invocation("cleanup")
    if args and args[0] == "mkrootfs":
        invocation = Invocation("mkrootfs")
        rest = args[1:]
        if len(rest) >= 2 and rest[-2] == "--from" or any(a.startswith("--from=") for a in rest):
            source = rest.pop() if rest[-2:-1] == ["--from"] else None
            if source is None:
                source = next(a for a in rest if a.startswith("--from="))[len("--from="):]
                rest = [a for a in rest if not a.startswith("--from=")]
            else:
                rest.pop()
            if source not in ("busybox", "host", "auto"):
                raise UsageError(f"mkrootfs --from {source!r}: choose busybox, host or auto")
            invocation.source = source
        if len(rest) != 1 or rest[0].startswith("-"):
            raise UsageError("usage: moby-dick mkrootfs DIR [--from busybox|host]")
        invocation.argv = rest
        return invocation
    if args and args[0] == "run":
        args.pop(0)
    invocation = Invocation("run")
    while args:
        word = args[0]
        if word == "--":
            args.pop(0)
            break
        if word == "--help" or (word == "-h" and len(args) == 1):  # docker's -h NAME is the hostname
            return Invocation("help")
        if word == "--version":
            return Invocation("version")
        if not word.startswith("-") or word == "-":
            break
        args.pop(0)
        letters = None if word in _OPTIONS else split_combined(word, COMBINABLE)
        if letters:
            args[:0] = letters  # -it: -i -t
            continue
        name, has_value, value = word.partition("=")
        if name not in _OPTIONS:
            raise UsageError(f"unknown option {name!r}; see moby-dick --help")
        attribute, takes_value, allowed = _OPTIONS[name]
        if not takes_value:
            if has_value:
                raise UsageError(f"option {name} takes no value")
            setattr(invocation, attribute, True)
            continue
        if not has_value:
            if not args:
                raise UsageError(f"option {name} needs a value")
            value = args.pop(0)
        if allowed and value not in allowed:
            raise UsageError(f"{name} {value!r}: choose one of {', '.join(allowed)}")
        if attribute in REPEATABLE:
            getattr(invocation, attribute).append(value)
        else:
            setattr(invocation, attribute, value)
    if not args and not invocation.entrypoint:
        raise UsageError("no command given; try: moby-dick /bin/sh")
    invocation.argv = args
    return invocation


def read_env_file(path: str) -> list[str]:
    """docker's --env-file: one KEY=VALUE (or KEY, for moby-dick's own value) per line; blank lines and
    lines starting with # are skipped; leading blanks are dropped; the value is taken as written."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise UsageError(f'--env-file "{path}": {error.strerror}') from None
    items = []
    for number, line in enumerate(lines, 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key = line.partition("=")[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f'--env-file "{path}", line {number}: "{key}" is not a variable name (KEY=VALUE)')
        items.append(line)
    return items


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    try:
        invocation = parse_args(args)
        if invocation.action == "help":
            print(USAGE)
            return 0
        if invocation.action == "version":
            from . import __version__

            print(f"moby-dick {__version__}")
            return 0
        if invocation.action == "cleanup":
            return _cleanup()
        if invocation.action in ENGINE_VERBS:
            return _engine(invocation.action, invocation.argv)
        if invocation.action == "doctor":
            from .doctor import report

            return report(as_json=invocation.json)
        if invocation.action == "mkrootfs":
            from .mkrootfs import mkrootfs

            try:
                made = mkrootfs(invocation.argv[0], invocation.source)
            except OSError as error:
                raise MobyError(f'mkrootfs "{invocation.argv[0]}": {error.strerror}'
                                + (f" ({error.filename})" if error.filename else "")) from None
            print(f"moby-dick: built a {made} root file system in {invocation.argv[0]}")
            return 0
        return _run(invocation)
    except MobyError as error:
        print(f"moby-dick: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _engine(verb: str, words: list) -> int:
    """ps, exec, logs, stop, kill, rm, wait, inspect (moby_dick/engine.py), with docker's flags."""
    from . import engine

    flags = {"-a": "all", "--all": "all", "-f": "force", "--force": "force", "--follow": "follow"}
    values = {"-t": "time", "--time": "time", "-s": "signal", "--signal": "signal", "-e": "env", "--env": "env",
              "-w": "workdir", "--workdir": "workdir", "-u": "user", "--user": "user"}
    if verb == "exec":  # docker exec's -t is the terminal, stop's -t its timeout
        flags.update({"-i": "interactive", "--interactive": "interactive", "-t": "tty", "--tty": "tty"})
        del values["-t"], values["--time"]
    options: dict = {"env": []}
    words = list(words)
    while words and words[0].startswith("-") and words[0] != "-":
        word = words.pop(0)
        if word == "--":
            break
        if verb == "exec" and (letters := split_combined(word, "it")):
            words[:0] = letters  # -it
        elif verb == "logs" and word == "-f":
            options["follow"] = True
        elif word in flags:
            options[flags[word]] = True
        elif word in values and words:
            value = words.pop(0)
            if values[word] == "env":
                options["env"].append(value)
            else:
                options[values[word]] = value
        else:
            raise UsageError(f"{verb}: unknown option {word}")
    if verb == "ps":
        rows = engine.ps(options.get("all", False))
        print(f"{'CONTAINER ID':14}{'NAME':20}{'STATUS':14}COMMAND")
        for row in rows:
            print(f"{row['id']:14}{row['name'][:19]:20}{row['status']:14}{row['command']}")
        return 0
    if not words:
        raise UsageError(f"{verb}: name the container (its name, id or a unique id prefix)")
    reference, rest = words[0], words[1:]
    if verb == "exec":
        if not rest:
            raise UsageError("exec: give the command to run in the container")
        tty, interactive = options.get("tty", False), options.get("interactive", False)
        if tty and interactive and not os.isatty(0):
            raise UsageError("the input device is not a TTY: drop -t to pipe input, or run from a terminal")
        return engine.execute(reference, rest, options["env"], options.get("workdir"), user=options.get("user"),
                              tty=tty, interactive=interactive)
    if rest and verb in ("logs",):
        raise UsageError(f"{verb}: one container at a time")
    references = [reference, *rest]  # docker's rm, stop, kill, wait, inspect take several
    if verb == "logs":
        engine.logs(reference, options.get("follow", False))
    elif verb == "stop":
        text = options.get("time", "10")
        if not text.isdigit():
            raise UsageError(f'stop -t "{text}": give whole seconds')
        for each in references:
            engine.stop(each, float(text))
            print(each)
    elif verb == "kill":
        from .lifecycle import parse_signal

        number = parse_signal(options.get("signal", "KILL"))
        for each in references:
            engine.kill(each, number)
            print(each)
    elif verb == "rm":
        for each in references:
            engine.rm(each, options.get("force", False))
            print(each)
    elif verb == "wait":
        for each in references:
            print(engine.wait(each))
    elif verb == "inspect":
        import json

        print(json.dumps([engine.inspect(each) for each in references] if rest else engine.inspect(reference), indent=2))
    return 0


def _run(invocation: Invocation) -> int:
    from . import validate
    from .runner import block_forwarded_signals, start

    from .spec import for_caller

    spec = for_caller(invocation.spec())
    if invocation.detach:
        from .engine import run_detached

        print(run_detached(spec, invocation.name, remove=invocation.remove))
        return 0
    if invocation.dry_run:
        from .plan import describe, plan

        from .config import from_spec

        problems = validate.spec_problems(spec)
        if problems:
            raise UsageError(problems[0])
        print(describe(plan(from_spec(spec, os.environ))))
        return 0
    import _signal as signal  # the C module: the wrapper's enums cost ~9 ms per start

    # Blocked from before the fork, so that no signal meant for the container is lost; start()
    # validates the spec first thing, and the mask is restored whatever happens.
    if spec.tty and invocation.interactive and not os.isatty(0):
        raise UsageError("the input device is not a TTY: drop -t to pipe input, or run from a terminal")
    saved_mask = block_forwarded_signals()
    try:
        container = start(spec, fork_server=False)  # the CLI is small: it forks the container itself
        if container.terminal is not None:
            result = container.wait_relaying_terminal(invocation.interactive)
        else:
            result = container.wait_forwarding_signals()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
    if result.oom_killed:
        print(f"moby-dick: the container ran out of memory: the kernel's OOM killer stopped it at its "
              f"--memory limit of {_mib(spec.limits.memory)}", file=sys.stderr)
    if invocation.stats:
        print(f"moby-dick: {format_stats(result.stats)}", file=sys.stderr)
    return result.exit_code


def _mib(size) -> str:
    return f"{size / (1 << 20):.0f} MiB" if size is not None else "?"


def format_stats(stats: dict | None) -> str:
    """One line: peak memory, CPU time, refused forks. Pure."""
    if not stats:
        return "no statistics (the container had no cgroup)"
    parts = [f"peak memory {_mib(stats.get('peak_memory_bytes'))}"]
    if stats.get("cpu_seconds") is not None:
        parts.append(f"CPU time {stats['cpu_seconds']:.2f} s")
    if stats.get("pids_refused") is not None:
        parts.append(f"forks refused by --pids-limit {stats['pids_refused']}")
    if stats.get("cpu_throttled"):
        parts.append(f"throttled {stats['cpu_throttled']} times by --cpus")
    if stats.get("oom_kills"):
        parts.append(f"OOM kills {stats['oom_kills']}")
    return ", ".join(parts)


def _cleanup() -> int:
    from .mountpoints import MountpointRegistry

    if os.geteuid() != 0:
        raise UsageError("cleanup needs root; run it with sudo")
    for path in MountpointRegistry().sweep():
        print(f"removed mount point {path}")
    from .cgroups import sweep

    for path in sweep():
        print(f"removed cgroup {path}")
    from .network import sweep as sweep_network

    for name in sweep_network(everything=True):
        print(f"removed bridge {name}")
    from .images import clear_cache
    from .spec import ContainerSpec

    for name in clear_cache(ContainerSpec.DEFAULTS["cache_dir"]):
        print(f"removed unpacked tarball {name}")
    return 0


def one_line(text: str) -> str:
    """User input quoted in a message may hold newlines or control characters: escape them."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `moby-dick doctor | head`: the reader left; that is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    fast_exit(code)


def fast_exit(code: int) -> None:
    """Exit without the interpreter's teardown of every module (~4 ms of a start): a run has undone
    everything before main() returns; the atexit handlers still run, the streams are flushed."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
