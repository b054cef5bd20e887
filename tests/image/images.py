"""Test images built in Python (tarfile, json, hashlib) as OCI layouts.

The main image, `busybox_layout`, has three layers that exercise unpack:

  layer 1 (gzip):  bin/busybox (Debian's busybox-static) with hard links
                   bin/sh, bin/ls, bin/cat; usr/bin/env -> /bin/busybox;
                   etc/passwd, etc/group; opq/{a,b}; gone; data/keep;
                   a fifo; tmp (1777)
  layer 2 (plain): .wh.gone (whiteout), opq/.wh..wh..opq + opq/c (opaque
                   dir), bin/suid (4755, owned 1000:1000, user.berth xattr),
                   data/new; fixed mtimes
  layer 3 (zstd):  etc/motd, hello.txt

and a config with every field berth exposes (CONFIG below).
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import warnings

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"

BUSYBOX = "/bin/busybox"
MTIME = 1700000000

CONFIG = {
    "Env": ["PATH=/bin:/usr/bin", "GREETING=hello from berth"],
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["echo $GREETING"],
    "WorkingDir": "/data",
    "User": "0:0",
    "Volumes": {"/data": {}},
    "StopSignal": "SIGTERM",
    "Labels": {"org.example.test": "yes", "maintainer": "berth"},
    "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
}


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Tar:
    """A layer being written: helpers add entries with fixed metadata."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, type_, mode, uid=0, gid=0, mtime=MTIME):
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = mtime
        return ti

    def dir(self, name, mode=0o755, **kw):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, **kw))

    def file(self, name, data, mode=0o644, xattrs=None, **kw):
        ti = self._info(name, tarfile.REGTYPE, mode, **kw)
        ti.size = len(data)
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target, **kw):
        ti = self._info(name, tarfile.SYMTYPE, 0o777, **kw)
        ti.linkname = target
        self.tar.addfile(ti)

    def hardlink(self, name, target, **kw):
        ti = self._info(name, tarfile.LNKTYPE, 0o755, **kw)
        ti.linkname = target
        self.tar.addfile(ti)

    def fifo(self, name, mode=0o600, **kw):
        self.tar.addfile(self._info(name, tarfile.FIFOTYPE, mode, **kw))

    def chardev(self, name, major, minor, mode=0o666):
        ti = self._info(name, tarfile.CHRTYPE, mode)
        ti.devmajor, ti.devminor = major, minor
        self.tar.addfile(ti)

    def raw(self, ti, data=None):
        self.tar.addfile(ti, io.BytesIO(data) if data is not None else None)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0), MT_LAYER + "+gzip"
    if how == "zstd":
        out = subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True).stdout
        return out, MT_LAYER + "+zstd"
    return data, MT_LAYER


class Layout:
    """An OCI image layout directory (image-spec image-layout.md)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.manifests = []

    def blob(self, data):
        d = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d

    def image(self, layers, config=None, arch="amd64", ref=None):
        """layers: list of (tar bytes, compression).  Returns the manifest
        descriptor."""
        descs, diff_ids = [], []
        for data, how in layers:
            comp, mt = compress(data, how)
            descs.append({"mediaType": mt, "digest": self.blob(comp), "size": len(comp)})
            diff_ids.append(sha256(data))
        cfg = {
            "created": "2023-11-14T22:13:20Z",
            "architecture": arch,
            "os": "linux",
            "config": config if config is not None else CONFIG,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "tests/image/images.py"}],
        }
        cfgb = json.dumps(cfg).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": self.blob(cfgb), "size": len(cfgb)},
            "layers": descs,
        }
        mb = json.dumps(manifest).encode()
        desc = {"mediaType": MT_MANIFEST, "digest": self.blob(mb), "size": len(mb),
                "platform": {"os": "linux", "architecture": arch}}
        if ref:
            desc["annotations"] = {"org.opencontainers.image.ref.name": ref}
        self.manifests.append(desc)
        self.write_index()
        return desc

    def write_index(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": self.manifests}, f)


def busybox_layers():
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    l1 = Tar()
    for d in ["bin", "etc", "usr", "usr/bin", "opq", "data", "dev"]:
        l1.dir(d)
    l1.dir("tmp", mode=0o1777)
    l1.file("bin/busybox", bb, mode=0o755)
    for applet in ["sh", "ls", "cat"]:
        l1.hardlink(f"bin/{applet}", "bin/busybox")
    l1.symlink("usr/bin/env", "/bin/busybox")
    l1.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    l1.file("etc/group", b"root:x:0:\nuser:x:1000:\n")
    l1.file("opq/a", b"a\n")
    l1.file("opq/b", b"b\n")
    l1.file("gone", b"to be whited out\n")
    l1.file("data/keep", b"keep\n")
    l1.fifo("data/fifo")

    l2 = Tar()
    l2.file(".wh.gone", b"")
    l2.dir("opq")
    l2.file("opq/.wh..wh..opq", b"")
    l2.file("opq/c", b"c\n")
    l2.file("bin/suid", b"#!/bin/sh\necho suid\n", mode=0o4755, uid=1000, gid=1000,
            xattrs={"user.berth": "hello"})
    l2.file("data/new", b"new\n", mtime=1600000000)

    l3 = Tar()
    l3.dir("etc")
    l3.file("etc/motd", b"welcome to a berth test image\n")
    l3.file("hello.txt", b"hello\n")
    return [(l1.bytes(), "gzip"), (l2.bytes(), "none"), (l3.bytes(), "zstd")]


def busybox_layout(path, ref="1"):
    lay = Layout(path)
    lay.image(busybox_layers(), ref=ref)
    return lay


def random_layer(size, seed, files=64):
    """An uncompressible layer of about `size` bytes in `files` files."""
    t = Tar()
    t.dir(f"blob{seed}")
    per = max(1, size // files)
    for i in range(files):
        data = hashlib.shake_256(f"{seed}-{i}".encode()).digest(per)
        t.file(f"blob{seed}/f{i}", data)
    return t.bytes()


def htpasswd_auth(path, user, password):
    """Writes an htpasswd file at `path` with one bcrypt entry (what
    `htpasswd -B` writes; made through libcrypt) and returns docker-registry's
    auth config that uses it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        line = f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"
    with open(path, "w") as f:
        f.write(line)
    return {"htpasswd": {"realm": "berth-test", "path": path}}

