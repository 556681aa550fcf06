"""Paths inside the container's root stay inside it (the CVE-2021-30465 class); the fake kernel keeps
in step with the real door. No root needed: the walk works on any directory."""

import errno
import inspect
import os

import pytest

from moby_dick.syscalls import Kernel, walk_in_root
from moby_dick.syscalls.fake import RecordingKernel


def make_root(tmp_path):
    """A rootfs whose links point out of it, and a 'host' directory beside it that must stay untouched."""
    host = tmp_path / "host"
    (host / "secret").mkdir(parents=True)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "evil").symlink_to(str(host))  # absolute: on the host it would lead to the host's directory
    (root / "climb").symlink_to("../host")  # relative, climbing above the root
    (root / "loop").symlink_to("loop")
    (root / "file").write_text("x")
    return root, host


def resolve(opener, root, path, make=None):
    fd = opener(root, path, make)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def walk(root, path, make=None):
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        return walk_in_root(root_fd, path, make)
    finally:
        os.close(root_fd)


OPENERS = {"walk": walk, "kernel": lambda root, path, make=None: Kernel().open_in_root(str(root), path, make)}


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
@pytest.mark.parametrize("link", ["evil", "climb"])
def test_a_symlink_out_of_the_root_stays_inside_and_creates_nothing_on_the_host(tmp_path, opener, link):
    root, host = make_root(tmp_path)
    before = sorted(os.listdir(host))
    made = resolve(opener, str(root), f"/{link}/sub/deeper", make="dir")
    assert made.startswith(str(root) + "/"), made
    assert sorted(os.listdir(host)) == before  # the host directory got nothing
    # the control: the same path joined the naive way lands on the host
    assert os.path.realpath(os.path.join(root, link, "sub")).startswith(str(host))


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_dot_dot_at_the_root_stays_at_the_root_and_plain_paths_resolve(tmp_path, opener):
    root, _ = make_root(tmp_path)
    assert resolve(opener, str(root), "/../../etc") == str(root / "etc")
    assert resolve(opener, str(root), "/") == str(root)
    made = resolve(opener, str(root), "/etc/new.conf", make="file")
    assert made == str(root / "etc" / "new.conf") and (root / "etc" / "new.conf").is_file()


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_loops_missing_paths_and_files_as_directories_fail_with_the_errno(tmp_path, opener):
    root, _ = make_root(tmp_path)
    for path, wanted in (("/loop", errno.ELOOP), ("/missing", errno.ENOENT), ("/file/below", errno.ENOTDIR)):
        with pytest.raises(OSError) as caught:
            os.close(opener(str(root), path))
        assert caught.value.errno == wanted, path


def test_the_fake_kernel_models_exactly_the_real_doors_calls():
    def public(cls):
        return {name for name, member in inspect.getmembers(cls, callable) if not name.startswith("_")}

    real, fake = public(Kernel), public(RecordingKernel) - set(RecordingKernel.RECORDS)
    assert fake == real, f"only real: {sorted(real - fake)}; only fake: {sorted(fake - real)}"
    with pytest.raises(NotImplementedError, match="does not model"):
        RecordingKernel().reboot()


@pytest.mark.parametrize("kernel_has_close_range", [True, False])
def test_close_all_but_leaves_exactly_the_kept_descriptors(kernel_has_close_range, monkeypatch):
    opened = [os.open("/dev/null", os.O_RDONLY) for _ in range(6)]
    report_read, report_write = os.pipe()
    keep = {0, 1, 2, opened[1], opened[4], report_write}
    pid = os.fork()
    if pid == 0:
        try:
            kernel = Kernel()
            if not kernel_has_close_range:  # as on Linux < 5.9: the /proc/self/fd listing does it
                class NoCloseRange:
                    def __getattr__(self, name):
                        return (lambda *args: -1) if name == "close_range" else getattr(Kernel._lib(), name)
                monkeypatch.setattr(Kernel, "_lib", classmethod(lambda cls: NoCloseRange()))
            kernel.close_all_but(keep)
            still_open = []
            for fd in range(256):
                try:
                    os.fstat(fd)
                    still_open.append(fd)
                except OSError:
                    pass
            os.write(report_write, " ".join(map(str, still_open)).encode())
        finally:
            os._exit(0)
    os.close(report_write)
    found = set(map(int, os.read(report_read, 1000).split()))
    os.close(report_read)
    os.waitpid(pid, 0)
    for fd in opened:
        os.close(fd)
    assert found == keep



def test_a_missing_last_component_whose_name_is_a_link_out_of_the_root_is_made_inside(tmp_path):
    root, host = make_root(tmp_path)
    (root / "out").symlink_to(str(host / "made-here?"))  # absolute, dangling: the parent-and-name shortcut
    before = sorted(os.listdir(host))                     # must not follow it onto the host
    made = resolve(OPENERS["kernel"], str(root), "/out", make="dir")
    assert made == str(root) + str(host / "made-here?") and sorted(os.listdir(host)) == before


def test_lookup_resolves_inside_the_root_and_says_none_for_what_is_missing(tmp_path):
    root, host = make_root(tmp_path)
    kernel = Kernel()
    root_fd = kernel.open_root(str(root))
    try:
        fd = kernel.lookup(root_fd, "/../etc")
        assert os.readlink(f"/proc/self/fd/{fd}") == str(root / "etc")
        os.close(fd)
        assert kernel.lookup(root_fd, "/missing") is None
        assert kernel.lookup(root_fd, "/evil/secret") is None  # inside the root, not the host's secret
        assert os.path.isdir(os.path.join(root, "evil", "secret"))  # (the control: joined naively, it is there)
        with pytest.raises(OSError) as caught:
            kernel.lookup(root_fd, "/loop")
        assert caught.value.errno == errno.ELOOP
    finally:
        os.close(root_fd)


def test_make_at_creates_once_and_refuses_a_symlink(tmp_path):
    kernel = Kernel()
    directory = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        for name, make in (("node", "file"), ("pts", "dir"), ("pts", "dir")):  # a directory made twice: fine
            os.close(kernel.make_at(directory, name, make))
        assert (tmp_path / "node").is_file() and (tmp_path / "pts").is_dir()
        (tmp_path / "link").symlink_to("/etc")
        with pytest.raises(OSError) as caught:
            kernel.make_at(directory, "link", "dir")
        assert caught.value.errno == errno.ELOOP and os.path.islink(tmp_path / "link")
    finally:
        os.close(directory)


def test_read_only_paths_are_looked_up_one_at_a_time_so_a_nested_one_lands_in_its_parents_bind():
    from moby_dick.masks import ReadOnlyPaths

    kernel = RecordingKernel()
    ReadOnlyPaths(("/ro", "/ro/sub")).apply(kernel)
    from moby_dick.syscalls import MS_REMOUNT

    steps = [call[2] if call[0] == "lookup" else ("remount" if call[4] & MS_REMOUNT else "bind")
             for call in kernel.calls if call[0] in ("lookup", "mount")]
    assert steps == ["/ro", "bind", "/ro", "remount", "/ro/sub", "bind", "/ro/sub", "remount"]
