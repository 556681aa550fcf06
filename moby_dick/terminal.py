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


# ---- the host's side: moby-dick as the terminal of a `run -t` or `exec -t` -------------------------

TIOCGWINSZ = 0x5413
EOT = b"\x04"  # what a terminal sends for ^D: end of input to a canonical-mode reader


class ConsoleSocket:
    """A listening unix socket in a private directory, for ``--console-socket``: the runtime connects
    and sends the pty master (as conmon and containerd's shim receive it). ``receive()`` returns it."""

    def __init__(self, parent: str = "/run"):
        import socket
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="moby-dick-console-", dir=parent)
        self.path = os.path.join(self.directory, "socket")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._socket.bind(self.path)
        self._socket.listen(1)

    def receive(self, timeout: float = 30.0) -> int:
        import socket

        self._socket.settimeout(timeout)
        connection, _ = self._socket.accept()
        with connection:
            _, fds, _, _ = socket.recv_fds(connection, 1024, 1)
        if not fds:
            raise OSError("the runtime sent no pty master on the console socket")
        return fds[0]

    def close(self) -> None:
        import shutil

        self._socket.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def copy_window_size(source: int, master: int) -> None:
    """ioctl(TIOCGWINSZ) on the user's terminal, ioctl(TIOCSWINSZ) on the container's: the kernel then
    sends SIGWINCH to the container's foreground process group."""
    import fcntl

    try:
        size = fcntl.ioctl(source, TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return  # not a terminal: the container keeps the size it was given
    fcntl.ioctl(master, TIOCSWINSZ, size)


def window_size(fd: int = 0):
    """(rows, columns) of the terminal on ``fd``, or None when it is not one."""
    try:
        columns, rows = os.get_terminal_size(fd)
    except OSError:
        return None
    return rows, columns


def relay(master: int, poll, forward, signals, interactive: bool = True) -> int:
    """Be the container's terminal until it exits: stdin -> master, master -> stdout (raw mode when
    stdin is a terminal, restored after), the window size followed on SIGWINCH, any other signal of
    ``signals`` handed to ``forward(number)``; stdin is left alone unless ``interactive`` (docker's -i;
    at its end the pty gets ^D, end of input). ``poll()`` returns the wait status once the container's
    process exited, else None. Returns that status, after the last output was copied.

    Signals reach the loop through ``signal.set_wakeup_fd``: the C handler writes each signal's number to a
    pipe that ``select`` watches, so no SIGCHLD falls between ``poll`` and ``select``. read(2) of a master
    whose slave is closed everywhere fails with EIO: that is the end of the output."""
    import select

    import _signal as signal

    handled = set(signals) | {signal.SIGCHLD, signal.SIGWINCH}
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    saved_terminal = _enter_raw_mode(0) if interactive else None
    previous_wakeup = signal.set_wakeup_fd(wake_write)
    previous_handlers = {number: signal.signal(number, _note) for number in handled}
    saved_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)
    copy_window_size(0, master)
    inputs = [master, wake_read] + ([0] if interactive else [])
    try:
        while True:
            status = poll()
            if status is not None:
                inputs = [fd for fd in inputs if fd == master]  # only the output that is left
            if not inputs:
                return status
            ready = select.select(inputs, [], [], None if status is None else 0)[0]
            if status is not None and not ready:
                return status
            for fd in ready:
                if fd == wake_read:
                    for number in os.read(wake_read, 256):
                        if number == signal.SIGWINCH:
                            copy_window_size(0, master)
                        elif number != signal.SIGCHLD:
                            forward(number)
                elif fd == master:
                    if not _copy(master, 1):
                        inputs.remove(master)
                elif not _copy(0, master):
                    inputs.remove(0)
                    _write_all(master, EOT)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(wake_read)
        os.close(wake_write)
        if saved_terminal is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved_terminal)


def copy_until_end(master: int, target: int) -> None:
    """A detached container's terminal: everything it prints goes to ``target`` (the log), until EIO."""
    while _copy(master, target):
        pass
    os.close(master)


def _note(number, frame) -> None:
    """The Python-level handler does nothing: the number already went down the wakeup pipe."""


def _enter_raw_mode(fd: int):
    """The user's terminal in raw mode (keys, ^C included, go to the container's pty as bytes); returns
    the settings to restore, or None when ``fd`` is not a terminal."""
    if not os.isatty(fd):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSADRAIN)
    return saved


def _copy(source: int, target: int) -> bool:
    """One read from ``source`` written whole to ``target``; False at the end (EOF, or EIO of a master)."""
    try:
        data = os.read(source, 65536)
    except OSError:
        return False
    if data:
        _write_all(target, data)
    return bool(data)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the reader went away (a closed pipe, a pty that exited): the rest is dropped
