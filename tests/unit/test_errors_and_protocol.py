"""Errors carry syscall, errno and path, survive the channel, and map to docker's exit codes; the channel."""

import errno
import os
import pickle

import pytest

from moby_dick.channel import Channel, MemoryChannel, ProtocolError
from moby_dick.errors import ExecError, SyscallError, UsageError
from moby_dick.namespaces import NamespaceId, decode_ids, encode_ids
from moby_dick.process import decode_error, encode_error


def test_syscall_error_is_one_line_with_the_object():
    error = SyscallError("pivot_root", errno.EINVAL, ".", hint="is / shared?")
    assert str(error) == 'pivot_root ".": Invalid argument (is / shared?)'
    assert isinstance(error, OSError) and error.errno == errno.EINVAL and error.exit_code == 125
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.syscall, copy.errno, copy.path, str(copy)) == ("pivot_root", errno.EINVAL, ".", str(error))


def test_exec_errors_use_docker_exit_codes():
    assert ExecError("nosuch", errno.ENOENT).exit_code == 127
    assert str(ExecError("nosuch", errno.ENOENT)) == 'exec "nosuch": command not found'
    assert ExecError("/etc/passwd", errno.EACCES).exit_code == 126
    assert UsageError("x").exit_code == 125


def test_ready_payload_round_trips():
    ids = {"uts": NamespaceId("uts", 4, 4026532179), "net": NamespaceId("net", 4, 4026531833)}
    assert decode_ids(encode_ids(ids)) == ids
    assert str(ids["uts"]) == "uts:[4026532179]"


def test_error_record_round_trips_and_wraps_foreign_errors():
    error = decode_error(encode_error(SyscallError("mount", errno.EPERM, "/mytmp", "a hint")))
    assert isinstance(error, SyscallError) and (error.path, error.errno, error.hint) == ("/mytmp", errno.EPERM, "a hint")
    exec_error = decode_error(encode_error(ExecError("nosuch", errno.ENOENT)))
    assert isinstance(exec_error, ExecError) and exec_error.exit_code == 127
    usage = decode_error(encode_error(UsageError("bad\0input")))
    assert str(usage) == "bad input" and usage.exit_code == 125
    wrapped = decode_error(encode_error(ValueError("boom")))
    assert "ValueError: boom" in str(wrapped) and wrapped.exit_code == 125


@pytest.mark.parametrize("make_pair", [Channel.pair, MemoryChannel.pair])
def test_messages_keep_their_order_and_boundaries_then_eof(make_pair):
    runtime, child = make_pair()
    child.send("pid1", b"4242")
    child.send("ready", encode_ids({"pid": NamespaceId("pid", 4, 4026532200)}))
    child.send("value", pickle.dumps({"answer": 42}))
    child.close()
    assert runtime.expect("pid1") == b"4242"
    assert decode_ids(runtime.expect("ready"))["pid"].ino == 4026532200
    kind, payload, fds = runtime.receive()
    assert (kind, pickle.loads(payload), fds) == ("value", {"answer": 42}, [])
    assert runtime.receive() == (None, b"", [])  # every other holder closed: EOF
    with pytest.raises(ProtocolError, match="expected 'go'.*EOF"):
        runtime.expect("go")


def test_a_payload_larger_than_a_datagram_arrives_whole_and_descriptors_travel():
    import threading

    a, b = Channel.pair()
    big = os.urandom(1_000_000)  # more than the socket buffer: the sender blocks until the reader reads
    read_end, write_end = os.pipe()
    sender = threading.Thread(target=a.send, args=("value", big, (read_end,)))
    try:
        sender.start()
        kind, payload, fds = b.receive()
        sender.join(10)
        assert kind == "value" and payload == big and len(fds) == 1
        os.write(write_end, b"x")
        assert os.read(fds[0], 1) == b"x"  # the same pipe, through SCM_RIGHTS
        os.close(fds[0])
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        a.close()
        b.close()


def test_both_ends_are_close_on_exec():
    a, b = Channel.pair()
    try:
        assert not os.get_inheritable(a.fileno()) and not os.get_inheritable(b.fileno())
    finally:
        a.close()
        b.close()
