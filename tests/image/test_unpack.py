"""Layer unpack (`berthctl layer unpack`, the code pulls use): formats,
metadata, and hostile tars that try to write outside the layer dir."""

import hashlib
import os
import stat
import tarfile

import pytest

import images


@pytest.fixture
def env(tmp, store):
    """A layer dir and, beside it, an `outside` dir no entry may touch."""
    layer = os.path.join(tmp, "layer")
    outside = os.path.join(tmp, "outside")
    os.mkdir(layer)
    os.mkdir(outside)
    with open(os.path.join(outside, "file"), "w") as f:
        f.write("original\n")

    def unpack(data, digest=None, how="none"):
        comp, _ = images.compress(data, how)
        path = os.path.join(tmp, "layer.tar")
        with open(path, "wb") as f:
            f.write(comp)
        args = ["layer", "unpack", path, layer]
        if digest:
            args[2:2] = ["--digest", digest]
        return store.ctl(*args, check=False)

    def untouched():
        assert os.listdir(outside) == ["file"]
        with open(os.path.join(outside, "file")) as f:
            assert f.read() == "original\n"

    class Env:
        pass

    e = Env()
    e.layer, e.outside, e.unpack, e.untouched = layer, outside, unpack, untouched
    return e


@pytest.mark.parametrize("how", ["none", "gzip", "zstd"])
def test_formats(env, how):
    t = images.Tar()
    t.dir("d", mode=0o750, uid=5, gid=6)
    t.file("d/f", b"data\n", mode=0o640, uid=7, gid=8)
    t.chardev("null", 1, 3)
    r = env.unpack(t.bytes(), how=how)
    assert r.rc == 0, r
    st = os.stat(f"{env.layer}/d")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 5, 6)
    assert int(st.st_mtime) == images.MTIME  # set after its entries were made
    st = os.stat(f"{env.layer}/d/f")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 7, 8)
    st = os.lstat(f"{env.layer}/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


def test_digest_checked(env):
    data = images.Tar().bytes()
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    assert env.unpack(data, digest=good).rc == 0
    bad = "sha256:" + "0" * 64
    r = env.unpack(data, digest=bad)
    assert r.rc == 1 and f"digest mismatch: expected {bad}, got {good}" in r.err


def hostile(name, build):
    t = images.Tar()
    build(t)
    return pytest.param(t.bytes(), id=name)


def _ti(name, type_, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.linkname = linkname
    ti.mode = 0o644
    return ti


@pytest.mark.parametrize("data,entry,why", [
    (lambda t: t.file("../outside/file", b"pwned\n"), "../outside/file", 'contains ".."'),
    (lambda t: t.file("a/../../outside/file", b"pwned\n"), "a/../../outside/file", 'contains ".."'),
    (lambda t: t.raw(_ti("/abs", tarfile.REGTYPE), b""), "/abs", "absolute path"),
    (lambda t: (t.symlink("link", "{outside}"), t.file("link/file", b"pwned\n")), "link/file",
     "goes through a symbolic link"),
    (lambda t: (t.symlink("rel", "../outside"), t.file("rel/new", b"pwned\n")), "rel/new",
     "goes through a symbolic link"),
    (lambda t: (t.dir("d"), t.symlink("d/up", "../../outside"), t.file("d/up/x/y", b"pwned\n")), "d/up/x/y",
     "goes through a symbolic link"),
    (lambda t: t.hardlink("h", "../outside/file"), "h", 'contains ".."'),
    (lambda t: (t.symlink("link", "{outside}"), t.hardlink("h", "link/file")), "h",
     "goes through a symbolic link"),
    (lambda t: t.file(".wh..wh../../outside/file", b""), ".wh..wh../../outside/file", 'contains ".."'),
], ids=["dotdot", "dotdot-inner", "absolute", "symlink-abs-then-write", "symlink-rel-then-write",
        "symlink-then-mkdir", "hardlink-dotdot", "hardlink-through-symlink", "whiteout-dotdot"])
def test_hostile_entries_refused(env, data, entry, why):
    t = images.Tar()
    orig_symlink = t.symlink
    t.symlink = lambda name, target, **kw: orig_symlink(name, target.format(outside=env.outside), **kw)
    data(t)
    r = env.unpack(t.bytes())
    assert r.rc == 1, r
    assert f'entry "{entry}"' in r.err and why in r.err, r.err
    env.untouched()


def test_file_over_symlink_replaces_the_link(env):
    t = images.Tar()
    t.symlink("s", os.path.join(env.outside, "file"))
    t.file("s", b"inside\n")
    t.symlink("s2", os.path.join(env.outside, "file"))
    t.hardlink("h", "s2")  # a hard link to the symlink itself
    t.file("h", b"inside too\n")
    r = env.unpack(t.bytes())
    assert r.rc == 0, r
    env.untouched()
    assert not os.path.islink(f"{env.layer}/s")
    with open(f"{env.layer}/s") as f:
        assert f.read() == "inside\n"
    assert os.path.islink(f"{env.layer}/s2")


def test_later_entries_win(env):
    t = images.Tar()
    t.dir("x")
    t.file("x/in", b"1")
    t.file("x", b"now a file\n")  # a dir replaced by a file
    t.file("y", b"file")
    t.dir("y")  # a file replaced by a dir
    t.file("y/z", b"z")
    r = env.unpack(t.bytes())
    assert r.rc == 0, r
    with open(f"{env.layer}/x") as f:
        assert f.read() == "now a file\n"
    assert os.listdir(f"{env.layer}/y") == ["z"]


def test_missing_parents_made(env):
    t = images.Tar()
    t.file("a/b/c/file", b"deep\n")
    assert env.unpack(t.bytes()).rc == 0
    assert stat.S_IMODE(os.stat(f"{env.layer}/a/b").st_mode) == 0o755
