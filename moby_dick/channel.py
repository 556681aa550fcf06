"""The one channel between moby-dick and the processes it forks: small typed messages, and descriptors.

Syscalls: ``socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)``, ``sendmsg(2)``/``recvmsg(2)`` with
``SCM_RIGHTS`` for descriptors. Read unix(7) (SOCK_SEQPACKET, SCM_RIGHTS) and socketpair(2).

Why SOCK_SEQPACKET: it keeps message boundaries (one ``send`` is one ``recv``, no framing code), it is
reliable and ordered, and when every process holding the other end has closed it (or exec'd: the end
is close-on-exec), ``recv`` returns EOF. So "the command runs" needs no message of its own: it is the
EOF that follows the last message.

A message is ``KIND`` or ``KIND payload``: ASCII kind, one space, then bytes. Text needs no import to
build or read, which matters after ``pivot_root``, when the standard library may be out of reach.
Payloads above one datagram are split into frames whose first byte says whether more follow.

The messages, and who sends them (every round trip is also a step of the plan, see :mod:`moby_dick.plan`):

  runtime (parent)                      child / waiter                     PID 1 (and its command)
    <-------------------- pid1 N ----------|  (the host pid of PID 1)
    place N in its cgroup
    --------------------- go ------------------------------------------------->|
    <-------------------- ready uts=DEV:INO ... -------------------------------|  its namespace ids
    <-------------------- value <pickle> --------------------------------------|  (function mode)
    <-------------------- error <fields> --------------------------------------|  a step or exec failed
    <-------------------- EOF ------------------------------------------------ |  exec'd: it is the container
  forkcall:  child -> parent  "value <pickle>" | "raise <pickle>"
  guard:     parent -> guard  "actions <data>", "pid1 N", "dismiss" (done: exit); EOF (the runtime
             died: undo). One per line on a pipe: the guard is a shell (see :mod:`moby_dick.guard`)

:class:`MemoryChannel` is an in-process pair with the same methods, so unit tests drive both sides of
an exchange without forking.
"""

from __future__ import annotations

import os

import _socket  # the C module: ``socket`` builds IntEnums at import (~5 ms), which the start path avoids

from .errors import MobyError

_FRAME = 32768  # well below the default socket buffer, so one frame always fits
_MORE, _LAST = b"+", b"."


class ProtocolError(MobyError):
    """The other side sent something this side did not expect (or died before answering)."""


class Channel:
    """One end of the socket pair. ``fd`` is close-on-exec; ``close`` is idempotent."""

    def __init__(self, sock):
        self._sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return cls(a), cls(b)

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        return cls(_socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, fd))

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, kind: str, payload: bytes = b"", fds: tuple = ()) -> None:
        data = kind.encode() + (b" " + payload if payload else b"")
        while True:
            frame, data = data[:_FRAME], data[_FRAME:]
            ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _pack_fds(fds))] if fds else []
            self._sock.sendmsg([(_MORE if data else _LAST) + frame], ancillary)
            fds = ()  # descriptors travel with the first frame
            if not data:
                return

    def receive(self) -> tuple[str | None, bytes, list]:
        """``(kind, payload, fds)``; ``(None, b"", [])`` at EOF (every other holder closed or exec'd)."""
        chunks, fds = [], []
        while True:
            data, ancillary, _, _ = self._sock.recvmsg(_FRAME + 1, _socket.CMSG_SPACE(4 * 16))
            for level, kind, raw in ancillary:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds += [int.from_bytes(raw[i:i + 4], "little" if _LITTLE else "big", signed=True)
                            for i in range(0, len(raw) - len(raw) % 4, 4)]
            if not data:
                if chunks:
                    raise ProtocolError("the channel closed in the middle of a message")
                return None, b"", fds
            chunks.append(data[1:])
            if data[:1] == _LAST:
                break
        whole = b"".join(chunks)
        kind, _, payload = whole.partition(b" ")
        return kind.decode(), payload, fds

    def expect(self, wanted: str) -> bytes:
        """Receive one message of kind ``wanted`` and return its payload, or raise ProtocolError."""
        kind, payload, _ = self.receive()
        if kind != wanted:
            raise ProtocolError(f"expected {wanted!r} on the channel, got {kind or 'EOF'!r}")
        return payload

    def expect_after_send(self, kind: str, wanted: str, payload: bytes = b"") -> bytes:
        """One round trip: send ``kind``, then expect ``wanted`` and return its payload."""
        self.send(kind, payload)
        return self.expect(wanted)

    def readable(self, timeout: float = 0) -> bool:
        """A message (or EOF) is waiting, within ``timeout`` seconds (``select(2)``)."""
        import select

        return bool(select.select([self.fileno()], [], [], timeout)[0])

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


_LITTLE = __import__("sys").byteorder == "little"


def _pack_fds(fds) -> bytes:
    return b"".join(int(fd).to_bytes(4, "little" if _LITTLE else "big", signed=True) for fd in fds)


class MemoryChannel:
    """An in-memory end with Channel's methods (descriptors are passed as the same numbers)."""

    def __init__(self):
        self.inbox: list = []
        self.peer: MemoryChannel | None = None
        self.closed = False

    @classmethod
    def pair(cls) -> tuple[MemoryChannel, MemoryChannel]:
        a, b = cls(), cls()
        a.peer, b.peer = b, a
        return a, b

    def send(self, kind: str, payload: bytes = b"", fds: tuple = ()) -> None:
        if self.closed or self.peer.closed:
            raise BrokenPipeError("the channel is closed")
        self.peer.inbox.append((kind, payload, list(fds)))

    def receive(self):
        if self.inbox:
            return self.inbox.pop(0)
        if self.peer.closed:
            return None, b"", []
        raise ProtocolError("nothing to receive: the other side has not sent anything (it would block)")

    expect = Channel.expect
    expect_after_send = Channel.expect_after_send

    def close(self) -> None:
        self.closed = True

    def fileno(self) -> int:
        return -1


def close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
