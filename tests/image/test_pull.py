"""Pull from a local docker-registry, anonymous; what lands in the store."""

import hashlib
import json
import os
import stat

import pytest

import images


def test_pull_oci_image(registry, store, tmp):
    ref = f"{registry.host}/test/busybox:1"
    r = store.ctl("pull", ref)
    assert r.out.startswith(f"{ref}: sha256:")
    assert r.err == ""  # quiet when stderr is not a terminal
    [img] = store.images()
    assert img["name"] == ref
    assert img["layers"] == 3
    info = store.inspect(ref)
    assert info["MediaType"] == images.MT_MANIFEST
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"
    assert info["Config"] == images.CONFIG
    # Every blob is named by its content.
    for name in store.blobs():
        with open(store.path("blobs", "sha256", name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name
    # One snapshot per layer, nothing temporary.
    assert store.snapshots() == sorted(l["digest"][7:] for l in info["Layers"])
    assert os.listdir(store.path("ingest")) == []


def test_pulled_layers_as_overlay(registry, store, tmp):
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", ref)
    target = os.path.join(tmp, "rootfs")
    os.mkdir(target)
    store.ctl("image", "mount", ref, target)
    try:
        root = target
        names = sorted(os.listdir(root))
        assert "gone" not in names  # whiteout in layer 2
        assert sorted(os.listdir(f"{root}/opq")) == ["c"]  # opaque dir in layer 2
        assert sorted(os.listdir(f"{root}/data")) == ["fifo", "keep", "new"]
        bb = os.stat(f"{root}/bin/busybox")
        assert os.stat(f"{root}/bin/sh").st_ino == bb.st_ino  # hard links kept
        assert bb.st_nlink == 4
        assert os.readlink(f"{root}/usr/bin/env") == "/bin/busybox"
        st = os.stat(f"{root}/bin/suid")
        assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (1000, 1000)
        assert os.getxattr(f"{root}/bin/suid", "user.berth") == b"hello"
        assert stat.S_ISFIFO(os.lstat(f"{root}/data/fifo").st_mode)
        assert stat.S_IMODE(os.stat(f"{root}/tmp").st_mode) == 0o1777
        assert int(os.stat(f"{root}/data/new").st_mtime) == 1600000000
        assert int(os.stat(f"{root}/hello.txt").st_mtime) == images.MTIME
        with open(f"{root}/etc/motd") as f:
            assert f.read() == "welcome to a berth test image\n"
        # The lower layers hold overlayfs whiteouts, not .wh. files.
        snap = store.path("snapshots", store.inspect(ref)["Layers"][1]["digest"][7:])
        wh = os.lstat(f"{snap}/gone")
        assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
        assert os.getxattr(f"{snap}/opq", "trusted.overlay.opaque") == b"y"
        assert not any(n.startswith(".wh.") for n in os.listdir(snap))
        # Writes go to this container's upper dir only.
        with open(f"{root}/written", "w") as f:
            f.write("x")
        [cid] = os.listdir(store.path("containers"))
        assert os.path.exists(store.path("containers", cid, "upper", "written"))
    finally:
        store.ctl("image", "unmount", target)
    assert os.listdir(target) == []
    assert os.listdir(store.path("containers")) == []


def test_pull_docker_schema2(registry, store):
    ref = f"{registry.host}/test/docker:1"
    store.ctl("pull", ref)
    info = store.inspect(ref)
    assert info["MediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert info["Config"] == images.CONFIG
    assert len(info["Layers"]) == 2


def test_pull_index_picks_platform(registry, store, tmp):
    ref = f"{registry.host}/test/multi:1"
    store.ctl("pull", ref)
    assert store.inspect(ref)["Architecture"] == "amd64"
    store.ctl("pull", "--platform", "linux/arm64", ref)
    assert store.inspect(ref)["Architecture"] == "arm64"
    r = store.ctl("pull", "--platform", "linux/s390x", ref, check=False)
    assert r.rc == 1
    assert "no manifest for platform linux/s390x" in r.err


def test_pull_by_digest(registry, store):
    ref = f"{registry.host}/test/busybox:1"
    digest = store.ctl("pull", ref).out.split()[-1]
    other = store.__class__(store.root + "2", store.tmp)
    byd = f"{registry.host}/test/busybox@{digest}"
    other.ctl("pull", byd)
    assert other.inspect(byd)["Digest"] == digest
    # By id prefix and by name without :latest-less tag.
    assert store.inspect(digest[7:19])["Digest"] == digest


def test_pull_again_fetches_nothing(registry, store):
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", ref)
    before = {n: os.stat(store.path("blobs", "sha256", n)).st_ino for n in store.blobs()}
    store.ctl("pull", ref)
    after = {n: os.stat(store.path("blobs", "sha256", n)).st_ino for n in store.blobs()}
    assert before == after


def test_unknown_image(registry, store):
    r = store.ctl("pull", f"{registry.host}/test/nothing:1", check=False)
    assert r.rc == 1
    assert f"image not found: {registry.host}/test/nothing:1" in r.err
    r = store.ctl("inspect", "nothing", check=False)
    assert r.rc == 1 and "no such image: nothing" in r.err


def test_registry_unreachable(store):
    from conftest import free_port
    port = free_port()
    r = store.ctl("pull", f"127.0.0.1:{port}/test/busybox:1", check=False)
    assert r.rc == 1
    assert f"registry 127.0.0.1:{port} unreachable at http://127.0.0.1:{port}/v2/" in r.err


def test_reference_without_registry_refused(store):
    r = store.ctl("pull", "busybox", check=False)
    assert r.rc == 1 and "names no registry" in r.err


def test_corrupted_blob_refused_and_leaves_nothing(registry_factory, layouts, store):
    reg = registry_factory()
    ref = reg.push(layouts["busybox"], "1", "test/corrupt:1")
    with open(os.path.join(layouts["busybox"], "index.json")) as f:
        mdesc = json.load(f)["manifests"][0]
    with open(os.path.join(layouts["busybox"], "blobs", "sha256", mdesc["digest"][7:])) as f:
        manifest = json.load(f)
    # Flip one byte of the zstd layer (skopeo keeps its digest) in the
    # registry's storage: same size, different content.
    layer = manifest["layers"][2]["digest"]
    path = reg.blob_path(layer)
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    r = store.ctl("pull", ref, check=False)
    assert r.rc == 1
    assert f"digest mismatch: expected {layer}, got {got}" in r.err
    assert store.images() == []
    assert layer[7:] not in store.blobs()
    assert os.listdir(store.path("ingest")) == []
    assert not [s for s in store.snapshots() if s.startswith("tmp-")]
    # What did arrive is only reusable content; prune takes it.
    store.ctl("prune")
    assert store.blobs() == [] and store.snapshots() == []


def test_rmi_keeps_shared_layers(registry, store):
    a = f"{registry.host}/test/busybox:1"
    b = f"{registry.host}/test/share:1"
    store.ctl("pull", a)
    store.ctl("pull", b)
    shared = store.inspect(a)["Layers"][0]["digest"]
    assert store.inspect(b)["Layers"][0]["digest"] == shared
    store.ctl("rmi", a)
    assert [i["name"] for i in store.images()] == [b]
    assert shared[7:] in store.blobs() and shared[7:] in store.snapshots()
    assert len(store.snapshots()) == 2
    store.ctl("rmi", b)
    assert store.images() == [] and store.blobs() == [] and store.snapshots() == []


def test_mount_unpacks_a_no_unpack_pull(registry, store, tmp):
    """`image mount` unpacks what `pull --no-unpack` left as blobs (the
    library's mount only mounts: berthd unpacks through its helper)."""
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", "--no-unpack", ref)
    assert store.snapshots() == []
    target = os.path.join(tmp, "rootfs")
    os.mkdir(target)
    store.ctl("image", "mount", ref, target)
    try:
        assert len(store.snapshots()) == 3
        with open(os.path.join(target, "hello.txt")) as f:
            assert f.read() == "hello\n"
    finally:
        store.ctl("image", "unmount", target)


def test_prune_keeps_mounted_layers(registry, store, tmp):
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", ref)
    target = os.path.join(tmp, "rootfs")
    os.mkdir(target)
    store.ctl("image", "mount", ref, target)
    try:
        store.ctl("rmi", ref)
        # The name is gone, the mounted container keeps its layers.
        assert len(store.snapshots()) == 3
        with open(os.path.join(target, "hello.txt")) as f:
            assert f.read() == "hello\n"
    finally:
        store.ctl("image", "unmount", target)
    store.ctl("prune")
    assert store.snapshots() == []


def test_images_table(registry, store):
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", ref)
    lines = store.ctl("images").out.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "ID", "DIGEST", "CREATED", "SIZE"]
    assert lines[1].startswith(ref)
