"""Fixtures for the image tests (run as root).

- `registry_factory` starts Debian's docker-registry on 127.0.0.1 on a free
  port with a config written into a private temp dir (anonymous, htpasswd
  or token auth); every registry is stopped by pid at the end.
- `registry` is one anonymous registry for the session, with the test
  images (tests/image/images.py) pushed by skopeo.
- `store` is a fresh berthctl --root per test, in its own temp dir.

After each test the leak check fails it if it left a mount under its temp
dirs, a process it started, or a temporary file in its store that prune
did not remove.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

import images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", "build")
BERTHCTL = os.environ.get("BERTHCTL_BIN", os.path.join(REPO, BUILD, "src", "berthctl", "berthctl"))
BERTH = os.environ.get("BERTH_BIN", os.path.join(REPO, BUILD, "src", "cli", "berth"))
REGISTRY_BIN = "/usr/bin/docker-registry"
TIMEOUT = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mounts_under(paths):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == p or mp.startswith(p.rstrip("/") + "/") for p in paths):
                out.append(mp)
    return out


def unmount_all(paths):
    for mp in sorted(mounts_under(paths), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def rmtree(path):
    unmount_all([path])
    shutil.rmtree(path, ignore_errors=True)


class Result:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout: {self.out}\nstderr: {self.err}"


class Store:
    """A berthctl --root, with helpers to run berthctl on it."""

    def __init__(self, root, tmp):
        self.root, self.tmp = root, tmp
        self.auth_file = os.path.join(tmp, "auth.json")
        self.registries_conf = os.path.join(tmp, "registries.json")

    def ctl(self, *args, check=True, timeout=TIMEOUT, **kw):
        cmd = [BERTHCTL, "--root", self.root, "--auth-file", self.auth_file,
               "--registries-config", self.registries_conf, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
        r = Result(p)
        if check and r.rc != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {r}")
        return r

    def popen(self, *args, **kw):
        cmd = [BERTHCTL, "--root", self.root, "--auth-file", self.auth_file,
               "--registries-config", self.registries_conf, *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def login(self, host, user, password):
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        with open(self.auth_file, "w") as f:
            json.dump({"auths": {host: {"auth": auth}}}, f)

    def images(self):
        return json.loads(self.ctl("images", "--format", "json").out)

    def inspect(self, name):
        return json.loads(self.ctl("inspect", name).out)[0]

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def blobs(self):
        return sorted(os.listdir(self.path("blobs", "sha256")))

    def snapshots(self):
        return sorted(os.listdir(self.path("snapshots")))


class Registry:
    def __init__(self, tmp, auth=None):
        self.tmp = tmp
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.data = os.path.join(tmp, "data")
        cfg = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": self.data}, "delete": {"enabled": True}},
            "http": {"addr": self.host},
        }
        if auth:
            cfg["auth"] = auth
        # JSON is YAML: no YAML writer needed.
        self.config = os.path.join(tmp, "config.yml")
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(tmp, "registry.log"), "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and wants auth
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"docker-registry did not start: {open(self.log.name).read()}")
                time.sleep(0.05)

    def push(self, layout, ref, repo, *extra, creds=None):
        cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false", *extra]
        if creds:
            cmd += ["--dest-creds", creds]
        cmd += [f"oci:{layout}:{ref}", f"docker://{self.host}/{repo}"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {p.stderr}")
        return f"{self.host}/{repo}"

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.data, "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def session_tmp():
    d = tempfile.mkdtemp(prefix="berth-img-")
    os.chmod(d, 0o755)
    yield d
    rmtree(d)


@pytest.fixture(scope="session")
def registry_factory(session_tmp):
    started = []

    def make(auth=None):
        tmp = tempfile.mkdtemp(prefix="reg-", dir=session_tmp)
        r = Registry(tmp, auth)
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture(scope="session")
def layouts(session_tmp):
    """OCI layouts of the test images, built once."""
    base = os.path.join(session_tmp, "layouts")
    out = {"busybox": os.path.join(base, "busybox")}
    images.busybox_layout(out["busybox"], ref="1")
    # Two platforms in one index; each image carries a file naming its arch.
    multi = images.Layout(os.path.join(base, "multi"))
    for arch in ("amd64", "arm64"):
        t = images.Tar()
        t.file("arch.txt", arch.encode() + b"\n")
        multi.image([(t.bytes(), "gzip")], arch=arch)
    # index.json names one image index (a blob) that lists both.
    nested = json.dumps({"schemaVersion": 2, "mediaType": images.MT_INDEX,
                         "manifests": multi.manifests}).encode()
    multi.manifests = [{"mediaType": images.MT_INDEX, "digest": multi.blob(nested), "size": len(nested),
                        "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
    multi.write_index()
    out["multi"] = multi.path
    # A second image sharing layer 1 with busybox (for rmi/GC).
    share = images.Layout(os.path.join(base, "share"))
    layers = images.busybox_layers()
    t = images.Tar()
    t.file("other.txt", b"other\n")
    share.image([layers[0], (t.bytes(), "gzip")], ref="1")
    out["share"] = share.path
    return out


@pytest.fixture(scope="session")
def registry(registry_factory, layouts):
    r = registry_factory()
    r.push(layouts["busybox"], "1", "test/busybox:1")
    # Docker schema 2 has no zstd: the gzip-only image goes that way.
    r.push(layouts["share"], "1", "test/docker:1", "--format", "v2s2")
    r.push(layouts["multi"], "multi", "test/multi:1", "--all")
    r.push(layouts["share"], "1", "test/share:1")
    return r


@pytest.fixture
def tmp(session_tmp):
    d = tempfile.mkdtemp(prefix="t-", dir=session_tmp)
    os.chmod(d, 0o755)
    yield d
    leaked = mounts_under([d])
    rmtree(d)
    assert not leaked, f"test left mounts: {leaked}"


@pytest.fixture
def store(tmp):
    return Store(os.path.join(tmp, "store"), tmp)
