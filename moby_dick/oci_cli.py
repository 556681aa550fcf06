"""``moby-dick-oci``: runc's command line, so that podman, docker and containerd drive moby_dick.

    moby-dick-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] VERB ...
    verbs: create start state kill delete exec ps pause resume update features spec run list

Errors are one line on stderr and exit 1, as runc's; with ``--log-format json`` also a
``{"level": "error", "msg": ..., "time": ...}`` line in ``--log``, which containerd's shim and conmon
read. Exec failures use runc's words (``exec: "x": executable file not found in $PATH``), which the
docker CLI turns into 127 and 126. Read the runtime-spec's runtime.md and runc(8).
"""

from __future__ import annotations

from . import jsontext  # json through its C module: ~8 ms less per call an engine makes
import os
import sys
import time

from . import __version__
from .errors import ExecError, MobyError
from .oci import SPEC_VERSION

_LOG = {"path": None, "format": "text"}


def log(level: str, message: str) -> None:
    path = _LOG["path"]
    if not path:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if _LOG["format"] == "json":
        line = jsontext.dumps({"level": level, "msg": message, "time": stamp})
    else:
        line = f'time="{stamp}" level={level} msg="{message}"'
    try:
        with open(path, "a") as file:
            file.write(line + "\n")
    except OSError:
        pass


def log_warning(message: str) -> None:
    log("warning", message)
    print(f"moby-dick-oci: warning: {message}", file=sys.stderr)


def runc_words(error: MobyError) -> str:
    """The message as runc words it (the engines parse these words)."""
    if isinstance(error, ExecError):
        if error.errno in (2, 20):
            if "/" in error.command:
                return f'exec: "{error.command}": stat {error.command}: no such file or directory'
            return f'exec: "{error.command}": executable file not found in $PATH'
        return f'exec: "{error.command}": permission denied'
    return str(error)


# The command line as a table, not argparse: argparse (with re and enum) and building fourteen
# sub-parsers cost ~30 ms, on every call an engine makes. Options precede the positionals (urfave/cli,
# as runc); for exec and ps the words after the id are the command.
GLOBAL_VALUES = {"--root": "root", "--log": "log", "--log-format": "log_format", "--rootless": "rootless",
                 "--criu": "criu"}
GLOBAL_FLAGS = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup", "-v": "version", "--version": "version",
                "-h": "help", "--help": "help"}
GLOBAL_DEFAULTS = {"root": "/run/moby-dick-oci", "log": None, "log_format": "text", "rootless": None, "criu": None,
                   "debug": False, "systemd_cgroup": False, "version": False, "help": False}
_CREATE = {"-b": "bundle", "--bundle": "bundle", "--pid-file": "pid_file", "--console-socket": "console_socket",
           "--preserve-fds": "preserve_fds"}
VERBS = {  # verb: (options taking a value, flags, positionals, the rest is a command)
    "create": (_CREATE, {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}, ("id",), False),
    "run": (_CREATE, {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring", "-d": "detach",
                      "--detach": "detach"}, ("id",), False),
    "start": ({}, {}, ("id",), False),
    "state": ({}, {}, ("id",), False),
    "kill": ({}, {"-a": "all", "--all": "all"}, ("id", "signal?"), False),
    "delete": ({}, {"-f": "force", "--force": "force"}, ("id",), False),
    "pause": ({}, {}, ("id",), False),
    "resume": ({}, {}, ("id",), False),
    "ps": ({"-f": "format", "--format": "format"}, {}, ("id",), True),
    "update": ({"-r": "resources", "--resources": "resources", "--memory": "memory", "--pids-limit": "pids_limit"},
               {}, ("id",), False),
    "exec": ({"-p": "process", "--process": "process", "--pid-file": "pid_file", "--console-socket": "console_socket",
              "--cwd": "cwd", "-e": "env+", "--env": "env+", "-u": "user", "--user": "user", "-c": "cap+",
              "--cap": "cap+", "--preserve-fds": "preserve_fds", "--process-label": "process_label",
              "--apparmor": "apparmor"},
             {"-d": "detach", "--detach": "detach", "-t": "tty", "--tty": "tty", "--no-new-privs": "no_new_privs"},
             ("id",), True),
    "features": ({}, {}, (), False),
    "spec": ({"-b": "bundle", "--bundle": "bundle"}, {"--rootless": "rootless"}, (), False),
    "list": ({"-f": "format", "--format": "format"}, {"-q": "quiet", "--quiet": "quiet"}, (), False),
}
VERB_DEFAULTS = {"bundle": ".", "pid_file": None, "console_socket": None, "preserve_fds": "0", "signal": "TERM",
                 "format": "table", "resources": None, "memory": None, "pids_limit": None, "process": None,
                 "cwd": None, "env": [], "user": None, "cap": [], "command": []}


class Arguments:
    def __init__(self, values: dict):
        self.__dict__.update(values)


def parse_args(argv: list[str]) -> Arguments:
    """runc's command line -> Arguments. Pure; raises UsageError."""
    from .errors import UsageError

    values = dict(GLOBAL_DEFAULTS, verb=None)
    words = list(argv)
    while words and words[0].startswith("-"):
        word = words.pop(0)
        name, has_value, value = word.partition("=")
        if name in GLOBAL_FLAGS:
            values[GLOBAL_FLAGS[name]] = True
        elif name in GLOBAL_VALUES:
            if not has_value:
                if not words:
                    raise UsageError(f"option {name} needs a value")
                value = words.pop(0)
            values[GLOBAL_VALUES[name]] = value
        else:
            raise UsageError(f"unknown global option {name}")
    if not words:
        return Arguments(values)
    verb = words.pop(0)
    if verb not in VERBS:
        raise UsageError(f'unknown command "{verb}"; the commands are {", ".join(VERBS)}')
    options, flags, positionals, takes_command = VERBS[verb]
    values.update({key: (list(v) if isinstance(v, list) else v) for key, v in VERB_DEFAULTS.items()})
    values.update({flag: False for flag in flags.values()})
    values["verb"] = verb
    while words and words[0].startswith("-") and words[0] != "-":
        word = words.pop(0)
        if word == "--":
            break
        name, has_value, value = word.partition("=")
        if name in flags:
            values[flags[name]] = True
            continue
        if name not in options:
            raise UsageError(f"{verb}: unknown option {name}")
        if not has_value:
            if not words:
                raise UsageError(f"{verb}: option {name} needs a value")
            value = words.pop(0)
        key = options[name]
        if key.endswith("+"):
            values[key[:-1]].append(value)
        else:
            values[key] = value
    for positional in positionals:
        optional = positional.endswith("?")
        if not words:
            if optional:
                break
            raise UsageError(f"{verb}: give the container {positional}")
        values[positional.rstrip("?")] = words.pop(0)
    if takes_command:
        values["command" if verb == "exec" else "ps_args"] = words
    elif words:
        raise UsageError(f"{verb}: unexpected arguments {' '.join(words)}")
    if not str(values.get("preserve_fds", "0")).isdigit():
        raise UsageError(f"--preserve-fds {values['preserve_fds']!r}: give a whole number")
    values["preserve_fds"] = int(values.get("preserve_fds") or 0)
    if values.get("pids_limit") is not None:
        values["pids_limit"] = int(values["pids_limit"])
    return Arguments(values)


USAGE = ("usage: moby-dick-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] "
         "COMMAND ...\ncommands: " + " ".join(VERBS))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except MobyError as error:
        print(f"moby-dick-oci: {error}", file=sys.stderr)
        return 1
    _LOG["path"], _LOG["format"] = args.log, args.log_format
    if args.version:
        print(f"moby-dick-oci version {__version__}\nspec: {SPEC_VERSION}")
        return 0
    if args.help:
        print(USAGE)
        return 0
    if args.verb is None:
        print(USAGE, file=sys.stderr)
        return 1
    try:
        if args.systemd_cgroup:
            if not os.path.isdir("/run/systemd/system"):
                raise MobyError("--systemd-cgroup: systemd is not running on this machine; use the cgroupfs driver")
            raise MobyError("--systemd-cgroup is not supported: moby-dick-oci manages cgroups itself (cgroupfs)")
        return _dispatch(args)
    except MobyError as error:
        from .cli import one_line

        message = one_line(runc_words(error))
        log("error", message)
        print(f"moby-dick-oci: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args) -> int:
    from . import lifecycle

    root = args.root
    if args.verb == "create":
        lifecycle.create(root, args.id, args.bundle, pid_file=args.pid_file, console_socket=args.console_socket,
                         preserve_fds=args.preserve_fds)
    elif args.verb == "start":
        lifecycle.start(root, args.id)
    elif args.verb == "state":
        print(jsontext.dumps(lifecycle.load(root, args.id).public(), indent=2))
    elif args.verb == "kill":
        lifecycle.kill(root, args.id, lifecycle.parse_signal(args.signal), args.all)
    elif args.verb == "delete":
        lifecycle.delete(root, args.id, args.force)
    elif args.verb in ("pause", "resume"):
        lifecycle.pause(root, args.id, args.verb == "pause")
    elif args.verb == "ps":
        state = lifecycle.load(root, args.id)
        pids = lifecycle.cgroup_pids(state)
        if args.format == "json":
            print(jsontext.dumps(pids))
        else:
            print("PID")
            for pid in pids:
                print(pid)
    elif args.verb == "update":
        text = sys.stdin.read() if args.resources in ("-", None) and args.memory is None and args.pids_limit is None \
            else (open(args.resources).read() if args.resources else "{}")
        resources = jsontext.loads(text or "{}")
        if args.memory is not None:
            from .cgroups import parse_size

            resources.setdefault("memory", {})["limit"] = parse_size(args.memory)
        if args.pids_limit is not None:
            resources.setdefault("pids", {})["limit"] = args.pids_limit
        lifecycle.update(root, args.id, resources)
    elif args.verb == "exec":
        return _exec(args, lifecycle)
    elif args.verb == "run":
        if args.detach:
            lifecycle.create(root, args.id, args.bundle, pid_file=args.pid_file, console_socket=args.console_socket,
                             preserve_fds=args.preserve_fds)
            lifecycle.start(root, args.id)
            return 0
        return lifecycle.run(root, args.id, args.bundle, pid_file=args.pid_file, console_socket=args.console_socket,
                             preserve_fds=args.preserve_fds)
    elif args.verb == "list":
        states = lifecycle.list_states(root)
        if args.quiet:
            for state in states:
                print(state["id"])
        elif args.format == "json":
            print(jsontext.dumps(states))
        else:
            print(f"{'ID':20} {'PID':8} {'STATUS':10} {'BUNDLE':40} CREATED")
            for s in states:
                print(f"{s['id']:20} {s['pid']:<8} {s['status']:10} {s['bundle']:40} {s.get('created', '')}")
    elif args.verb == "features":
        print(jsontext.dumps(features(), indent=2))
    elif args.verb == "spec":
        path = os.path.join(args.bundle, "config.json")
        if os.path.exists(path):
            raise MobyError(f"{path} exists already; remove it first")
        with open(path, "w") as file:
            jsontext.dump(default_spec(args.rootless), file, indent=2)
    return 0


def _exec(args, lifecycle) -> int:
    if args.process:
        with open(args.process) as file:
            process = jsontext.load(file)
    else:
        if not args.command:
            raise MobyError("exec: give a command or --process FILE")
        state = lifecycle.load(args.root, args.id)
        config, _ = lifecycle.load_config(state.data["bundle"])
        base = config.process
        env = [f"{k}={v}" for k, v in base.env or ()] + list(args.env)
        uid, _, gid = (args.user or "").partition(":")
        process = {"args": list(args.command), "env": env, "cwd": args.cwd or base.cwd or "/",
                   "terminal": args.tty,
                   "user": {"uid": int(uid) if uid else base.user.uid if base.user else 0,
                            "gid": int(gid) if gid else base.user.gid if base.user else 0}}
    if args.tty:
        process["terminal"] = True
    return lifecycle.exec_process(args.root, args.id, process, detach=args.detach, pid_file=args.pid_file,
                                  console_socket=args.console_socket)


def features() -> dict:
    """runtime-spec features.md: what this runtime understands."""
    from .mounts import MOUNT_FLAGS, PROPAGATION_FLAGS
    from .oci import HOOK_KINDS, NAMESPACE_TYPES

    return {"ociVersionMin": "1.0.0", "ociVersionMax": SPEC_VERSION, "hooks": list(HOOK_KINDS),
            "mountOptions": sorted(MOUNT_FLAGS) + sorted(PROPAGATION_FLAGS),
            "linux": {"namespaces": [t for t in NAMESPACE_TYPES if t not in ("user", "time")],
                      "capabilities": [], "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
                      "apparmor": {"enabled": False}, "selinux": {"enabled": False},
                      "intelRdt": {"enabled": False}, "seccomp": {"enabled": False}},
            "annotations": {"org.opencontainers.runtime-spec.features.runtime": "moby-dick-oci",
                            "io.github.moby-dick.version": __version__}}


def default_spec(rootless: bool = False) -> dict:
    """What ``moby-dick-oci spec`` writes: runc's default, through the typed spec."""
    from .config import Config, Mount, Namespace, Process, Root, User
    from .oci import to_oci

    mounts = (Mount("/proc", "proc", "proc"),
              Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
              Mount("/dev/pts", "devpts", "devpts", ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
                    + (() if rootless else ("gid=5",))),
              Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
              Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
              Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")) if not rootless else
              Mount("/sys", "none", "/sys", ("rbind", "nosuid", "noexec", "nodev", "ro")),
              Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")))
    kinds = ["pid", "net", "ipc", "uts", "mnt"] + (["user"] if rootless else [])
    if rootless:
        kinds.remove("net")
    config = Config(
        process=Process(args=("sh",), env=(("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                                          ("TERM", "xterm")), cwd="/", user=User(0, 0), terminal=True,
                        no_new_privs=True),
        root=Root("rootfs", True, "pivot", False), hostname="moby-dick", mounts=mounts,
        namespaces=tuple(Namespace(kind) for kind in kinds),
        masked_paths=("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                      "/proc/scsi", "/sys/devices/virtual/powercap"),
        readonly_paths=("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"))
    if rootless:
        from .config import IdMap

        config = config.replace(uid_mappings=(IdMap(0, os.getuid(), 1),), gid_mappings=(IdMap(0, os.getgid(), 1),))
    return to_oci(config)


def entry() -> None:
    from .cli import fast_exit

    fast_exit(main())
