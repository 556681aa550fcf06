"""moby_dick: a Linux container runtime that proves every isolation it claims.

The Python API, shared by the CLI, the demos, the tests and the notebooks::

    from moby_dick import run, start, ContainerSpec
    result = run(["hostname"], capture=True, hostname="josh")

``run``, ``start`` and the rest come from their modules on first use (PEP 562): an OCI verb such as
``moby-dick-oci state``, which never starts a container, does not pay ~6 ms to import the runner.
"""

from .errors import ExecError, MobyError, SyscallError, UsageError

__version__ = "0.1.0"
__all__ = ["Container", "ContainerSpec", "ExecError", "MobyError", "Result", "SyscallError",
           "UsageError", "run", "start", "__version__"]
_FROM = {"Container": "runner", "Result": "runner", "run": "runner", "start": "runner", "ContainerSpec": "spec"}


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module 'moby_dick' has no attribute {name!r}")
    module = __import__(f"moby_dick.{_FROM[name]}", fromlist=[name])
    value = globals()[name] = getattr(module, name)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM})
