"""Errors carry syscall, errno and path, survive the fork pipe, and map to docker's exit codes."""

import errno
import pickle

from moby_dick.errors import ExecError, SyscallError, UsageError
from moby_dick.namespaces import NamespaceId
from moby_dick.process import decode_error, decode_ready, decode_records, decode_value, encode_error, encode_ready, encode_value


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


def test_ready_record_round_trips():
    ids = {"uts": NamespaceId("uts", 4, 4026532179), "net": NamespaceId("net", 4, 4026531833)}
    assert decode_ready(encode_ready(ids).rstrip(b"\n")) == ids
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


def test_records_in_order_with_a_value():
    ids = {"pid": NamespaceId("pid", 4, 4026532200)}
    message = b"P 4242\n" + encode_ready(ids) + encode_value({"answer": 42})
    pid_one, got, payload = decode_records(message)
    assert (pid_one, got, decode_value(payload)) == (4242, ids, {"answer": 42})
    assert decode_records(b"") == (None, {}, b"")
