"""The engines' test image, built offline from Debian's busybox-static.

One uncompressed layer holding /bin/busybox with every applet linked to it,
an /etc/passwd with a non-root user, and files in /tmp and /run so that
podman's `tmpcopyup` has something to copy.  Written as an OCI image archive
(oci-layout, index.json, blobs/sha256/...), which both `podman load` and
`ctr images import` read.
"""

import hashlib
import io
import json
import os
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"


def _applets():
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout
    return [a for a in out.split() if a != "busybox"]


def _add(tar, name, data=None, mode=0o644, kind=tarfile.REGTYPE, link="", uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname, info.uid, info.gid = mode, kind, link, uid, gid
    info.mtime = 1700000000
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def layer_tar():
    """The one layer, as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "proc", "sys", "dev", "var", "root", "home", "home/user"):
            _add(tar, d, kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        _add(tar, "run", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "run/lock", kind=tarfile.DIRTYPE, mode=0o755)
        # What tmpcopyup must carry into a tmpfs: a file, a link, a subdir.
        _add(tar, "tmp/image-file", b"from the image\n")
        _add(tar, "run/lock/image-lock", b"lock\n", mode=0o600, uid=1000, gid=1000)
        _add(tar, "run/link", kind=tarfile.SYMTYPE, link="/etc/passwd")
        with open(BUSYBOX, "rb") as f:
            _add(tar, "bin/busybox", f.read(), mode=0o755)
        for a in _applets():
            _add(tar, f"bin/{a}", kind=tarfile.SYMTYPE, link="busybox")
        _add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
        _add(tar, "etc/group", b"root:x:0:\nuser:x:1000:\n")
        _add(tar, "home/user/.profile", b"", uid=1000, gid=1000)
    return buf.getvalue()


def _blob(tar, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    _add(tar, f"blobs/sha256/{digest}", data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def write_archive(path, ref_name):
    """Write an OCI image archive of the test image tagged `ref_name`."""
    layer = layer_tar()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "IMAGE_VAR=from-image"],
            "Cmd": ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        layer_desc = _blob(tar, layer, "application/vnd.oci.image.layer.v1.tar")
        config_desc = _blob(tar, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}
        manifest_desc = _blob(tar, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
        index = {"schemaVersion": 2, "manifests": [manifest_desc]}
        _add(tar, "index.json", json.dumps(index).encode())
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    return os.path.getsize(path)
