"""Image volumes: CreateContainer fills each new volume dir with what the
image has at the volume's path (containerd's WithVolumes), from a read-only
view of the container's rootfs, resolving the path inside it.

The test image is busybox plus two layers under /vol (owners, modes, a
set-uid file, a symlink, hard links, an xattr, a fifo, a whiteout), and
symlinks that aim the volumes /escape and /abs-escape at a host dir holding
`host-secret` files.  What a container gets is checked from inside
(ExecSync) and on the host (the volume dirs in berthd's state dir).
"""

import json
import os
import shutil
import tempfile

import grpc
import pytest

import images
from conftest import Client
from test_containers import create, ctr_config, exec_sync, out, pod_config, run_pod, start

VOLUMES = ["/vol", "/escape", "/abs-escape", "/newvol", "/data"]


@pytest.fixture(scope="module")
def host_dir(session_tmp):
    """A host dir the image's symlinks point at; nothing of it may be copied."""
    d = tempfile.mkdtemp(prefix="host-", dir=session_tmp)
    for sub in ("a", "b"):
        os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, sub, "host-secret"), "w") as f:
            f.write("HOST\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def vol_image(pb, pod_berthd, registry, session_tmp, host_dir):
    lower = images.Tar()
    lower.dir("vol", mode=0o750, uid=1000, gid=1000)
    lower.file("vol/file", b"image content\n", mode=0o640, uid=1001, gid=1002)
    lower.file("vol/suid", b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1000)
    lower.dir("vol/sub", mode=0o700, uid=1003, gid=1003)
    lower.file("vol/sub/deep", b"deep\n")
    lower.symlink("vol/link", "file")
    lower.symlink("vol/hostlink", f"{host_dir}/a/host-secret")
    lower.file("vol/hard1", b"linked\n")
    lower.hardlink("vol/sub/hard2", "vol/hard1")
    lower.file("vol/xattr", b"x", xattrs={"user.berth": "kept"})
    lower.fifo("vol/fifo", mode=0o620)
    lower.file("vol/gone", b"whited out above\n")
    # The volume paths themselves lead out of the rootfs, if followed on the host.
    lower.symlink("escape", "../../../../../../../.." + host_dir + "/a")
    lower.symlink("abs-escape", host_dir + "/b")
    upper = images.Tar()
    upper.dir("vol", mode=0o750, uid=1000, gid=1000)
    upper.file("vol/.wh.gone", b"")
    upper.file("vol/added", b"upper layer\n")
    lay = images.Layout(os.path.join(session_tmp, "layouts", "volumes"))
    cfg = dict(images.CONFIG, Volumes={v: {} for v in VOLUMES})
    lay.image(images.busybox_layers() + [(lower.bytes(), "gzip"), (upper.bytes(), "none")], config=cfg, ref="1")
    ref = registry.push(lay.path, "1", "test/volumes:1")
    c = Client(pb, pod_berthd.address)
    c.image.PullImage(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=ref)), timeout=60)
    c.close()
    return ref


def volume_dirs(pod_berthd, cid):
    """destination -> host dir of the container's image volumes (its config.json)."""
    with open(os.path.join(pod_berthd.state, "containers", cid, "config.json")) as f:
        spec = json.load(f)
    prefix = os.path.join(pod_berthd.state, "containers", cid, "volumes") + "/"
    return {m["destination"]: m["source"] for m in spec["mounts"] if m.get("source", "").startswith(prefix)}


def run_container(ctrs, image, tmp, name):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp, name=name, uid=f"uid-{name}")
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image))
    start(ctrs, cid)
    return pod, cid


def sh(ctrs, cid, script):
    return out(ctrs, cid, "/bin/sh", "-c", script)


def test_image_volume_filled_from_image(ctrs, vol_image, tmp, pod_berthd):
    pb = ctrs.pb
    pod, cid = run_container(ctrs, vol_image, tmp, "vols")
    assert sorted(volume_dirs(pod_berthd, cid)) == sorted(VOLUMES)
    assert " /vol " in sh(ctrs, cid, "grep ' /vol ' /proc/self/mounts")
    # Content, owners and modes, as in the image (the merged view: the
    # upper layer's file is there, its whiteout hides "gone").
    assert sh(ctrs, cid, "cat /vol/file /vol/added /vol/sub/deep") == "image content\nupper layer\ndeep\n"
    stat = sh(ctrs, cid, "/bin/busybox stat -c '%n %a %u %g' /vol /vol/file /vol/suid /vol/sub /vol/fifo")
    assert stat.splitlines() == ["/vol 750 1000 1000", "/vol/file 640 1001 1002", "/vol/suid 4755 1000 1000",
                                 "/vol/sub 700 1003 1003", "/vol/fifo 620 0 0"]
    assert sh(ctrs, cid, "/bin/busybox stat -c %F /vol/fifo").strip() == "fifo"
    assert sorted(sh(ctrs, cid, "ls -A /vol").split()) == sorted(
        ["added", "fifo", "file", "hard1", "hostlink", "link", "sub", "suid", "xattr"])
    # Symlinks copied as links, hard links still one inode.
    assert sh(ctrs, cid, "/bin/busybox readlink /vol/link; cat /vol/link") == "file\nimage content\n"
    inodes = sh(ctrs, cid, "/bin/busybox stat -c '%i %h' /vol/hard1 /vol/sub/hard2").splitlines()
    assert inodes[0] == inodes[1] and inodes[0].endswith(" 2")
    # busybox's own volume: both of its layers; a path the image lacks: empty.
    assert sorted(sh(ctrs, cid, "ls -A /data").split()) == ["fifo", "keep", "new"]
    assert sh(ctrs, cid, "ls -A /newvol") == ""
    # On the host: the xattr came along.
    vols = volume_dirs(pod_berthd, cid)
    assert os.getxattr(os.path.join(vols["/vol"], "xattr"), "user.berth") == b"kept"
    # The volume is the container's own copy: a write there changes neither
    # the image nor the next container's volume.
    sh(ctrs, cid, "echo changed > /vol/file")
    with open(os.path.join(vols["/vol"], "file")) as f:
        assert f.read() == "changed\n"
    other = create(ctrs, pod, pod_config(pb, tmp, name="vols", uid="uid-vols"),
                   ctr_config(pb, vol_image, name="other"))
    start(ctrs, other)
    assert sh(ctrs, other, "cat /vol/file") == "image content\n"
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_image_volume_symlink_escape(ctrs, vol_image, tmp, pod_berthd, host_dir):
    """The image's /escape (relative) and /abs-escape (absolute) are
    symlinks to a host dir, and /vol/hostlink to a host file: the copy
    resolves them inside the rootfs, where there is nothing, so no host file
    reaches a volume, and a link inside a volume is copied as a link."""
    pb = ctrs.pb
    pod, cid = run_container(ctrs, vol_image, tmp, "escape")
    vols = volume_dirs(pod_berthd, cid)
    for dest in ("/escape", "/abs-escape"):
        assert os.listdir(vols[dest]) == [], dest
        assert sh(ctrs, cid, f"ls -A {dest}/") == ""
    for top in vols.values():
        for _, _, files in os.walk(top):
            assert "host-secret" not in files
    hostlink = os.path.join(vols["/vol"], "hostlink")
    assert os.path.islink(hostlink) and os.readlink(hostlink) == f"{host_dir}/a/host-secret"
    code, o, _ = exec_sync(ctrs, cid, "/bin/cat", "/vol/hostlink")
    assert code != 0 and "HOST" not in o
    # The host's files are as they were.
    for sub in ("a", "b"):
        assert sorted(os.listdir(os.path.join(host_dir, sub))) == ["host-secret"]
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_image_volume_on_a_file_fails_create_and_leaves_nothing(ctrs, pb, pod_berthd, registry, session_tmp, tmp):
    t = images.Tar()
    t.file("notadir", b"a file where the image declares a volume\n")
    lay = images.Layout(os.path.join(session_tmp, "layouts", "volume-on-file"))
    lay.image(images.busybox_layers() + [(t.bytes(), "gzip")], config=dict(images.CONFIG, Volumes={"/notadir": {}}),
              ref="1")
    ref = registry.push(lay.path, "1", "test/volume-on-file:1")
    ctrs.image.PullImage(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=ref)), timeout=60)
    pcfg = pod_config(ctrs.pb, tmp, name="onfile", uid="uid-onfile")
    pod = run_pod(ctrs, pcfg)
    with pytest.raises(grpc.RpcError) as e:
        create(ctrs, pod, pcfg, ctr_config(ctrs.pb, ref))
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    assert e.value.details() == 'image volume `/notadir`: open "/notadir" in rootfs: not a directory'
    assert os.listdir(os.path.join(pod_berthd.state, "containers")) == []
    ctrs.runtime.RemovePodSandbox(ctrs.pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
