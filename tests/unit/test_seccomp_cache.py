"""The seccomp program cache: compiled once per profile, on disk for the next process, in memory for this one."""


def test_a_seccomp_program_is_compiled_once_cached_on_disk_and_kept_in_memory(tmp_path):
    from moby_dick import seccomp

    profile = seccomp.default_profile(("CAP_CHOWN",))
    first = seccomp.cached_program(profile, ("CAP_CHOWN",), str(tmp_path))
    written = list(tmp_path.iterdir())
    assert len(written) == 1 and written[0].read_bytes() == first and len(first) % 8 == 0  # sock_filter: 8 bytes
    written[0].write_bytes(b"\0" * 8)  # the memory of this process answers now, not the file
    assert seccomp.cached_program(seccomp.default_profile(("CAP_CHOWN",)), ("CAP_CHOWN",), str(tmp_path)) == first
    other = seccomp.cached_program(seccomp.default_profile(("CAP_SYS_ADMIN",)), ("CAP_SYS_ADMIN",), str(tmp_path))
    assert other != first and len(list(tmp_path.iterdir())) == 2  # another profile, another entry
    seccomp._COMPILED.clear()  # a new process: the file is read
    assert seccomp.cached_program(profile, ("CAP_CHOWN",), str(tmp_path)) == b"\0" * 8
