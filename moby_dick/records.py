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
        given = len(args)
        if given > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        assign = object.__setattr__
        for name, value in zip(names, args):
            assign(self, name, value)
        used = 0  # keyword arguments taken: the rest were unknown or repeated
        for name in names[given:]:
            if name in kwargs:
                assign(self, name, kwargs[name])
                used += 1
            elif name in self.DEFAULTS:
                assign(self, name, self.DEFAULTS[name])
            else:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
        if used != len(kwargs):
            bad = next(name for name in kwargs if name not in names[given:])
            raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {bad!r}")

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
