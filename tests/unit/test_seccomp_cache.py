"""The seccomp program cache: compiled once per profile, on disk for the next process, in memory for this one."""


def test_a_seccomp_program_is_compiled_once_cached_on_disk_and_kept_in_memory(tmp_path):
    from moby_dick import seccomp

    profile = seccomp.default_profile(("CAP_CHOWN",))
    first = seccomp.cached_program(profile, ("CAP_CHOWN",), str(tmp_path))
    written = list(tmp_path.iterdir())
    assert len(written) == 1 and len(first) % 8 == 0  # sock_filter: 8 bytes
    key, _, stored = written[0].read_bytes().partition(b"\0")
    assert stored == first and b"CAP_CHOWN" in key  # the entry holds its whole key, then the program
    written[0].write_bytes(key + b"\0" + b"\1" * 8)  # the memory of this process answers now, not the file
    assert seccomp.cached_program(seccomp.default_profile(("CAP_CHOWN",)), ("CAP_CHOWN",), str(tmp_path)) == first
    other = seccomp.cached_program(seccomp.default_profile(("CAP_SYS_ADMIN",)), ("CAP_SYS_ADMIN",), str(tmp_path))
    assert other != first and len(list(tmp_path.iterdir())) == 2  # another profile, another entry
    seccomp._COMPILED.clear()  # a new process: the file is read
    assert seccomp.cached_program(profile, ("CAP_CHOWN",), str(tmp_path)) == b"\1" * 8


def test_a_cache_entry_of_another_key_under_the_same_name_is_not_used(tmp_path):
    """File names are a cheap digest that two keys may share: the entry's own key decides."""
    from moby_dick import seccomp

    caps = ("CAP_CHOWN",)
    real = seccomp.cached_program(seccomp.default_profile(caps), caps, str(tmp_path))
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"another profile's key\0" + b"\1" * 8)  # as if it had collided
    seccomp._COMPILED.clear()
    assert seccomp.cached_program(seccomp.default_profile(caps), caps, str(tmp_path)) == real  # compiled again
    assert entry.read_bytes().partition(b"\0")[2] == real  # and the entry is this key's now


def test_the_x32_tree_is_left_out_only_where_the_kernel_runs_no_x32(monkeypatch):
    import os

    from moby_dick import seccomp

    caps = ("CAP_CHOWN",)
    profile = seccomp.default_profile(caps)
    with_x32, without_x32 = [], []
    for has_x32, into in ((True, with_x32), (False, without_x32)):
        monkeypatch.setattr(seccomp, "_X32", has_x32)
        into.append(seccomp.compile_profile(profile, caps))
        into.append(seccomp.compile_profile(profile, caps, readable=True).decode())
    assert "filter for arch x32" in with_x32[1] and "filter for arch x32" not in without_x32[1]
    assert len(without_x32[0]) < len(with_x32[0])  # ~30 % fewer instructions for the kernel to attach
    # and the probe agrees with the kernel's own configuration where it says
    monkeypatch.setattr(seccomp, "_X32", None)
    if os.uname().machine == "x86_64" and os.path.exists("/proc/config.gz"):
        import gzip

        config = gzip.open("/proc/config.gz").read().decode()
        assert seccomp.kernel_has_x32() == ("CONFIG_X86_X32_ABI=y" in config)


def test_the_filters_c_struct_is_made_by_the_door_of_the_process_that_forks():
    from moby_dick.plan import plan
    from moby_dick.runner import prepare_steps
    from moby_dick.spec import ContainerSpec
    from moby_dick.syscalls import Kernel
    from moby_dick.syscalls.fake import RecordingKernel

    the_plan = plan(ContainerSpec(("sh",), rootfs="/srv/rootfs"))
    before = dict(Kernel._filters)
    prepare_steps(the_plan)  # the API's caller: it compiles (or reads) the program for the fork server, no more
    step = next(step for step in the_plan.final if type(step).__name__ == "InstallSeccomp")
    assert step.program and Kernel._filters == before
    kernel = RecordingKernel()
    prepare_steps(the_plan, kernel)  # the process that forks: its own door gets the program
    assert ("prepare_seccomp", len(step.program)) in kernel.calls and Kernel._filters == before
