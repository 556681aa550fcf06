"""moby_dick: a Linux container runtime that proves every isolation it claims.

The Python API, shared by the CLI, the demos, the tests and the notebooks::

    from moby_dick import run, start, ContainerSpec
    result = run(["hostname"], capture=True, hostname="josh")
"""

from .errors import ExecError, MobyError, SyscallError, UsageError
from .runner import Container, Result, run, start
from .spec import ContainerSpec

__version__ = "0.1.0"
__all__ = ["Container", "ContainerSpec", "ExecError", "MobyError", "Result", "SyscallError",
           "UsageError", "run", "start", "__version__"]
