"""JSON for the OCI verbs (config.json, the state files, ``state``'s output) through ``_json``, the C
module under ``json``.

Every call an engine makes (podman and containerd call ``create``, ``start``, ``state``, ``delete`` for
each container) starts a fresh interpreter. ``import json`` costs ~8 ms of that here: its decoder
compiles regular expressions, so it imports ``re``, ``enum`` and ``functools``. The C module costs
~0.3 ms and does the real work anyway: ``json`` hands it a *context* (which types to build numbers
with, how strict to be) and gets a scanner back (``json/scanner.py``, ``json/decoder.py``), and for
compact output it builds the C encoder (``json/encoder.py``). This module does the same, without the
regular expressions; the indented form (``state``'s, as runc prints it) is a small loop over the
compact encoder. An invalid document raises ``ValueError`` (``json.JSONDecodeError`` is one), with
the position where it went wrong.
"""

from __future__ import annotations

import _json

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _DecodeContext:
    """What ``json.JSONDecoder`` gives ``_json.make_scanner``: the defaults of ``json.loads``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _refuse(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_scan = _json.make_scanner(_DecodeContext())


def _encoder():
    """What json.JSONEncoder builds for json.dumps' defaults: a fresh dict of the containers being
    written (circular references), no indent, ": " and ", ", unsorted keys, NaN allowed."""
    return _json.make_encoder({}, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def loads(text: str | bytes):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    index = _skip(text, 0)
    try:
        value, end = _scan(text, index)
    except StopIteration as stop:
        raise ValueError(f"not JSON: expecting a value at character {stop.value}") from None
    end = _skip(text, end)
    if end != len(text):
        raise ValueError(f"not JSON: extra data at character {end}")
    return value


def load(file):
    return loads(file.read())


def dumps(value, indent: int | None = None) -> str:
    if indent is None:
        return "".join(_encoder()(value, 0))
    return _indented(value, indent, 0)


def dump(value, file, indent: int | None = None) -> None:
    file.write(dumps(value, indent))


def _skip(text: str, index: int) -> int:
    return len(text) - len(text[index:].lstrip(_WHITESPACE))


def _key(key) -> str:
    """A key as json writes it: True -> "true", None -> "null", 1 -> "1"."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return dumps(key)
    if isinstance(key, (int, float)):
        return dumps(key) if isinstance(key, float) else str(int(key))
    return _refuse(key)


def _indented(value, indent: int, level: int) -> str:
    """json.dumps(value, indent=indent): one item per line, ", " becoming ","."""
    if isinstance(value, dict) and value:
        inner = "\n" + " " * (indent * (level + 1))
        items = [inner + dumps(_key(key)) + ": " + _indented(item, indent, level + 1) for key, item in value.items()]
        return "{" + ",".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, (list, tuple)) and value:
        inner = "\n" + " " * (indent * (level + 1))
        items = [inner + _indented(item, indent, level + 1) for item in value]
        return "[" + ",".join(items) + "\n" + " " * (indent * level) + "]"
    return dumps(value)
