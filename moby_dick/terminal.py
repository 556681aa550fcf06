"""The container's terminal: a pty of its own, and its master sent to whoever asked for it.

Syscalls: ``open("/dev/ptmx")`` (``openpty(3)``: the container's own devpts, mounted ``newinstance``),
``setsid(2)``, ``ioctl(TIOCSCTTY)`` (the slave becomes the controlling terminal), ``ioctl(TIOCSWINSZ)``,
``dup2(2)`` onto 0, 1 and 2, and ``sendmsg(2)`` with ``SCM_RIGHTS``. Read pty(7), tty_ioctl(4), unix(7).

Made inside the container after ``pivot_root``, so the pty belongs to the container's devpts; the master
goes to the runtime over the channel, and the runtime passes it to the engine's ``--console-socket``
(runc sends the name "/dev/ptmx" with it, which conmon and containerd accept).
"""

from __future__ import annotations

import os

from .records import Record

TIOCSCTTY = 0x540E  # asm-generic/ioctls.h (x86, arm, riscv: the same numbers)
TIOCSWINSZ = 0x5414


class OpenTerminal(Record):
    """Step: a new pty; the slave becomes stdio and the controlling terminal; the master is sent as "pty"."""

    __slots__ = ("console_size",)
    DEFAULTS = {"console_size": None}
    talks = True
    needs = ("fcntl", "struct")

    def exchange(self, kernel, channel) -> None:
        import fcntl
        import struct

        master, slave = os.openpty()
        if self.console_size:
            rows, columns = self.console_size
            fcntl.ioctl(slave, TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        os.setsid()
        fcntl.ioctl(slave, TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        channel.send("pty", b"/dev/ptmx", fds=(master,))
        os.close(master)

    def __str__(self) -> str:
        return 'openpty(); setsid(); ioctl(slave, TIOCSCTTY); dup2 slave onto 0, 1, 2; send "pty" + the master'


def send_to_console_socket(path: str, master: int) -> None:
    """Connect to the engine's console socket and hand it the pty master (SCM_RIGHTS), as runc does."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
