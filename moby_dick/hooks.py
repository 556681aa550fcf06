"""OCI hooks: programs the engine asks the runtime to run at points of the lifecycle.

Read the runtime-spec's config.md, "POSIX-platform Hooks", and runtime.md, "Lifecycle". Each hook gets
the container's state (JSON) on its stdin; ``timeout`` seconds, then it is killed and counts as failed.

  prestart, createRuntime   the runtime, in its own namespaces, after the container's namespaces exist and
                            before pivot_root (the init waits: "hooks" / "go <state>" on the channel)
  createContainer           in the container's namespaces, before pivot_root (run by the init)
  startContainer            in the container, after `start`, right before the user's program
  poststart                 the runtime, after `start` opened the gate
  poststop                  the runtime, in `delete`
A failing prestart, createRuntime, createContainer or startContainer hook stops the container (and
`create` or `start` fails); a failing poststart or poststop hook only warns.
"""

from __future__ import annotations


from .errors import MobyError
from .records import Record


class HookFailed(MobyError):
    pass


def run_hook(hook, state_json: bytes) -> None:
    """Run one hook with the state on stdin. Raises HookFailed naming it."""
    import subprocess

    args = list(hook.args) or [hook.path]
    env = dict(item.partition("=")[::2] for item in hook.env)
    try:
        done = subprocess.run(args, executable=hook.path, input=state_json, env=env, timeout=hook.timeout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True)
    except subprocess.TimeoutExpired:
        raise HookFailed(f"{hook.when} hook {hook.path}: timed out after {hook.timeout} s") from None
    except OSError as error:
        raise HookFailed(f"{hook.when} hook {hook.path}: {error.strerror}") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise HookFailed(f"{hook.when} hook {hook.path} exited with status {done.returncode} {detail[0]}".rstrip())


def run_hooks(hooks, when: str, state_json: bytes, warn=None) -> None:
    """Every hook of kind ``when``, in order. With ``warn`` (poststart, poststop) failures are reported
    to it and the rest still run; without, the first failure raises."""
    for hook in hooks:
        if hook.when != when:
            continue
        try:
            run_hook(hook, state_json)
        except HookFailed as error:
            if warn is None:
                raise
            warn(str(error))


class RuntimeHooks(Record):
    """Step (init, before pivot_root): ask the runtime to run the prestart and createRuntime hooks;
    it answers "go <state JSON>", which the container-side hooks get on their stdin."""

    __slots__ = ()
    talks = True

    def exchange(self, kernel, channel) -> None:
        RuntimeHooks.state = channel.expect_after_send("hooks", "go")

    def __str__(self) -> str:
        return 'send "hooks"; await "go <state>" (the runtime ran prestart and createRuntime hooks)'


class ContainerHooks(Record):
    """Step: run the hooks of kind ``when`` from inside the container (createContainer before pivot_root,
    startContainer right before the program), each in a forked child, the state on its stdin."""

    __slots__ = ("hooks", "when")
    needs = ("subprocess",)

    def apply(self, kernel) -> None:
        run_hooks(self.hooks, self.when, getattr(RuntimeHooks, "state", b"{}"))

    def __str__(self) -> str:
        return f"run the {self.when} hooks: " + ", ".join(h.path for h in self.hooks if h.when == self.when)
