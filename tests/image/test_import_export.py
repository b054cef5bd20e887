"""Import and export: OCI layout dirs and tars, docker-archive tars."""

import json
import os
import subprocess
import tarfile

import images


def tar_dir(src, dst):
    with tarfile.open(dst, "w") as t:
        for n in sorted(os.listdir(src)):
            t.add(os.path.join(src, n), arcname=n)


def test_import_oci_dir_needs_a_name(layouts, store):
    # The layout names its image "1" (a tag only): berth wants a full name.
    r = store.ctl("import", layouts["busybox"], check=False)
    assert r.rc == 1 and "has no full name" in r.err and "--name" in r.err
    r = store.ctl("import", "--name", "example.test/busybox:1", layouts["busybox"])
    assert r.out == "Imported: example.test/busybox:1\n"
    info = store.inspect("example.test/busybox:1")
    assert info["Config"] == images.CONFIG
    # Layers are unpacked at import, as after a pull.
    assert sorted(store.snapshots()) == sorted(l["digest"][7:] for l in info["Layers"])


def test_export_import_roundtrip(layouts, store, tmp):
    store.ctl("import", "--name", "example.test/busybox:1", layouts["busybox"])
    digest = store.inspect("example.test/busybox:1")["Digest"]
    for fmt, path in [("oci-dir", "out-dir"), ("oci-archive", "out.tar"), ("docker-archive", "docker.tar")]:
        dest = os.path.join(tmp, path)
        store.ctl("export", "--format", fmt, "example.test/busybox:1", dest)
        other = store.__class__(os.path.join(tmp, f"store-{fmt}"), tmp)
        other.ctl("import", dest)
        info = other.inspect("example.test/busybox:1")
        if fmt == "docker-archive":
            # A docker archive carries no manifest: berth writes a new one
            # over the same config and layers.
            assert info["Id"] == store.inspect("example.test/busybox:1")["Id"]
        else:
            assert info["Digest"] == digest
    # skopeo reads what berth wrote.
    r = subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{os.path.join(tmp, 'out.tar')}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["layers"]


def test_import_oci_archive(layouts, store, tmp):
    path = os.path.join(tmp, "layout.tar")
    tar_dir(layouts["busybox"], path)
    store.ctl("import", "--name", "example.test/a:1", path)
    assert [i["name"] for i in store.images()] == ["example.test/a:1"]
    assert os.listdir(store.path("ingest")) == []


def test_import_docker_archive_from_skopeo(layouts, store, tmp):
    path = os.path.join(tmp, "docker.tar")
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layouts['share']}:1",
                    f"docker-archive:{path}:example.test/share:2"], check=True, capture_output=True)
    r = store.ctl("import", path)
    assert r.out == "Imported: example.test/share:2\n"
    target = os.path.join(tmp, "root")
    os.mkdir(target)
    store.ctl("image", "mount", "example.test/share:2", target)
    try:
        with open(os.path.join(target, "other.txt")) as f:
            assert f.read() == "other\n"
        assert os.path.exists(os.path.join(target, "bin", "busybox"))
    finally:
        store.ctl("image", "unmount", target)


def test_import_refuses_corrupt_layout(layouts, store, tmp):
    import shutil
    bad = os.path.join(tmp, "bad")
    shutil.copytree(layouts["busybox"], bad)
    blobs = os.path.join(bad, "blobs", "sha256")
    victim = max(os.listdir(blobs), key=lambda n: os.path.getsize(os.path.join(blobs, n)))
    with open(os.path.join(blobs, victim), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    r = store.ctl("import", "--name", "example.test/bad:1", bad, check=False)
    assert r.rc == 1 and f"digest mismatch: expected sha256:{victim}" in r.err
    assert store.images() == [] and os.listdir(store.path("ingest")) == []
