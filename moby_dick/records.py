"""Plain data records for the container start path, without importing ``dataclasses``.

Why not dataclasses: importing them (with ``inspect``, ``re`` and ``enum``) costs about 35 ms on a
small VM, ten times what ``unshare(1)`` needs to start a whole container. The classes on the start
path (the spec, the steps, the results) derive from :class:`Record` instead: a subclass lists its
fields in ``__slots__`` and their defaults in ``DEFAULTS``, and gets keyword construction, equality,
hashing and a readable ``repr``. Records are immutable by convention; use :meth:`replace`.
"""

from __future__ import annotations


class Record:
    __slots__ = ()
    DEFAULTS: dict = {}

    def __init__(self, *args, **kwargs):
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {name!r}")
            values[name] = value
        for name in names:
            if name not in values:
                if name not in self.DEFAULTS:
                    raise TypeError(f"{type(self).__name__} needs {name!r}")
                values[name] = self.DEFAULTS[name]
            object.__setattr__(self, name, values[name])

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self):  # pickles across the fork pipe like any value
        return (type(self), self._values())

    def replace(self, **changes):
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return type(self)(**values)
