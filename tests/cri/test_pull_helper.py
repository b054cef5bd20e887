"""The pull helper (berthd-pull): berthd runs it for every PullImage, with
the credentials on its stdin.  Start-up refuses a missing helper; a helper
that cannot start or dies is INTERNAL naming its path; credentials never
show in its argv or environment; a helper killed half-way leaves only what
GC removes; a berthd killed during a pull takes its helper with it."""

import base64
import contextlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import grpc
import pytest

import images  # tests/image/images.py
from conftest import BERTHD, Berthd, Client, free_port
from test_server import SlowRegistry

USER, PASSWORD = "helper-user", "pw-only-on-stdin-7Qx"
HELPER = os.path.join(os.path.dirname(BERTHD), "berthd-pull")


def pull(c, image, auth=None, timeout=60):
    return c.image.PullImage(c.pb.PullImageRequest(image=c.pb.ImageSpec(image=image), auth=auth), timeout=timeout)


def rpc_error(fn, *a, **kw):
    with pytest.raises(grpc.RpcError) as e:
        fn(*a, **kw)
    return e.value


def script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)
    return path


def helpers_of(pid):
    """Live berthd-pull children of `pid`."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if comm == "berthd-pull" and int(ppid) == pid and state != "Z":
            out.append(int(p))
    return out


def wait_for(pred, timeout=10):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_missing_helper_refuses_start(tmp):
    missing = os.path.join(tmp, "nowhere", "berthd-pull")
    d = Berthd(tmp, {"pull_helper": missing})
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert f"pull helper `{missing}` (config key pull_helper): no such file or directory" in p.stderr


def test_default_helper_is_next_to_berthd(tmp):
    """A berthd copied alone elsewhere names the helper it looked for."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    shutil.copy2(BERTHD, bindir)
    d = Berthd(tmp)
    argv = d.argv()
    argv[0] = os.path.join(bindir, "berthd")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert f"pull helper `{bindir}/berthd-pull`" in p.stderr and "set pull_helper in the config" in p.stderr


def test_relative_helper_path_refused(tmp):
    d = Berthd(tmp, {"pull_helper": "berthd-pull"})
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "pull_helper: expected an absolute path" in p.stderr


def test_status_shows_helper(cri, berthd):
    r = cri.runtime.Status(cri.pb.StatusRequest(verbose=True), timeout=10)
    assert json.loads(r.info["config"])["pull_helper"] == os.path.realpath(HELPER)


def test_helper_killed_is_internal_naming_it(tmp, spawn, pb, registry):
    helper = script(os.path.join(tmp, "dying-pull"), "echo 'about to die' >&2\nkill -9 $$\n")
    d = spawn(tmp, config={"pull_helper": helper})
    c = Client(pb, d.address)
    e = rpc_error(pull, c, f"{registry.host}/test/busybox:1")
    assert e.code() == grpc.StatusCode.INTERNAL
    assert e.details() == (f"pull {registry.host}/test/busybox:1: pull helper `{helper}` killed by signal 9 "
                           "(Killed): about to die")
    c.close()


def test_helper_exit_status_and_garbage(tmp, spawn, pb, registry):
    helper = script(os.path.join(tmp, "bad-pull"), "cat >/dev/null\necho 'not json'\nexit 1\n")
    d = spawn(tmp, config={"pull_helper": helper})
    c = Client(pb, d.address)
    e = rpc_error(pull, c, f"{registry.host}/test/busybox:1")
    assert e.code() == grpc.StatusCode.INTERNAL
    assert f"pull helper `{helper}` exited with status 1 without a valid answer" in e.details()
    script(helper, "echo 'cannot do it' >&2\nexit 5\n")
    e = rpc_error(pull, c, f"{registry.host}/test/busybox:1")
    assert e.code() == grpc.StatusCode.INTERNAL
    assert e.details().endswith(f"pull helper `{helper}` exited with status 5: cannot do it")
    c.close()


def test_helper_removed_after_start(tmp, spawn, pb, registry):
    helper = os.path.join(tmp, "berthd-pull")
    shutil.copy2(HELPER, helper)
    d = spawn(tmp, config={"pull_helper": helper})
    c = Client(pb, d.address)
    assert pull(c, f"{registry.host}/test/busybox:1").image_ref.startswith("sha256:")
    os.remove(helper)
    e = rpc_error(pull, c, f"{registry.host}/test/named:1")
    assert e.code() == grpc.StatusCode.INTERNAL
    assert f"pull helper `{helper}`: exec: no such file or directory" in e.details()
    c.close()


def test_credentials_only_on_stdin(tmp, spawn, pb, basic_registry):
    """The helper's argv and environment never hold the password; the pull
    through it authenticates (the registry wants basic auth)."""
    seen = os.path.join(tmp, "seen")
    helper = script(os.path.join(tmp, "spy-pull"),
                    f"tr '\\0' ' ' </proc/$$/cmdline >'{seen}'\necho >>'{seen}'\n"
                    f"tr '\\0' '\\n' </proc/$$/environ >>'{seen}'\n"
                    f"exec '{HELPER}' \"$@\"\n")
    d = spawn(tmp, config={"pull_helper": helper})
    c = Client(pb, d.address)
    ref = f"{basic_registry.host}/test/private:1"
    assert pull(c, ref, pb[0].AuthConfig(username=USER, password=PASSWORD)).image_ref.startswith("sha256:")
    with open(seen) as f:
        text = f.read()
    assert "--root" in text and ref in text
    assert PASSWORD not in text and USER not in text
    e = rpc_error(pull, c, ref, pb[0].AuthConfig(username=USER, password="wrong"))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    c.close()


def test_credentials_must_be_utf8(cri, registry):
    """They cross to the helper as JSON strings: a base64 `auth` that
    decodes to other bytes is refused, naming the field."""
    auth = base64.b64encode(b"user:\xff\xfe").decode()
    e = rpc_error(pull, cri, f"{registry.host}/test/busybox:1", cri.pb.AuthConfig(auth=auth))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details() == "auth.auth: not valid UTF-8"


@pytest.fixture(scope="module")
def basic_registry(registry_factory, layouts, session_tmp):
    reg = registry_factory(images.htpasswd_auth(os.path.join(session_tmp, "htpasswd-helper"), USER, PASSWORD))
    reg.push(layouts["busybox"], "1", "test/private:1", creds=f"{USER}:{PASSWORD}")
    return reg


class StallingRegistry:
    """Serves one image from an OCI layout; a layer blob stops half-way
    (the headers promise all of it) until `release` is set."""

    def __init__(self, layout, desc, repo):
        self.stalled = threading.Event()
        self.release = threading.Event()
        outer = self
        with open(os.path.join(layout, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
            manifest = f.read()
        layers = {d["digest"] for d in json.loads(manifest)["layers"]}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, code, body, ctype="application/json", extra=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                return body

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == f"/v2/{repo}/manifests/1" or path == f"/v2/{repo}/manifests/{desc['digest']}":
                    self.wfile.write(self.send(200, manifest, images.MT_MANIFEST,
                                               [("Docker-Content-Digest", desc["digest"])]))
                    return
                prefix = f"/v2/{repo}/blobs/"
                if path.startswith(prefix):
                    digest = path[len(prefix):]
                    with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
                        data = f.read()
                    body = self.send(200, data, "application/octet-stream")
                    if digest not in layers:
                        self.wfile.write(body)
                        return
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    outer.stalled.set()
                    outer.release.wait(60)
                    self.close_connection = True
                    return
                self.wfile.write(self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}'))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def store_files(root):
    out = []
    for sub in ("ingest", "blobs/sha256", "snapshots"):
        d = os.path.join(root, sub)
        out += [os.path.join(sub, n) for n in os.listdir(d)] if os.path.isdir(d) else []
    return sorted(out)


def test_helper_killed_mid_blob_leaves_only_what_gc_removes(tmp, spawn, pb, registry):
    lay = images.Layout(os.path.join(tmp, "layout"))
    desc = lay.image([(images.random_layer(2 << 20, 7), "gzip")], ref="1")
    reg = StallingRegistry(lay.path, desc, "test/stall")
    d = spawn(tmp)
    c = Client(pb, d.address)
    try:
        fut = c.image.PullImage.future(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=f"{reg.host}/test/stall:1")),
                                       timeout=60)
        assert reg.stalled.wait(20), "the pull never reached the layer"
        # Half the layer is in an ingest temporary when the helper dies.
        assert wait_for(lambda: any(f.startswith("ingest/tmp") for f in store_files(d.root)))
        helpers = helpers_of(d.proc.pid)
        assert len(helpers) == 1
        os.kill(helpers[0], signal.SIGKILL)
        e = rpc_error(fut.result, timeout=30)
        assert e.code() == grpc.StatusCode.INTERNAL and "killed by signal 9" in e.details()
        # Nothing is named; GC (after any RemoveImage) takes what is left.
        assert len(c.image.ListImages(pb[0].ListImagesRequest(), timeout=10).images) == 0
        c.image.RemoveImage(pb[0].RemoveImageRequest(image=pb[0].ImageSpec(image=f"{reg.host}/test/stall:1")),
                            timeout=10)
        assert wait_for(lambda: store_files(d.root) == []), store_files(d.root)
    finally:
        reg.stop()
    # The same berthd pulls normally afterwards.
    assert pull(c, f"{registry.host}/test/busybox:1").image_ref.startswith("sha256:")
    c.close()


@contextlib.contextmanager
def hanging_pull(tmp, spawn, pb):
    """A berthd whose one pull hangs on a registry that does not answer
    yet: yields (berthd, the pull's future, the helper's pid, registry)."""
    slow = SlowRegistry()
    d = spawn(tmp)
    c = Client(pb, d.address)
    try:
        # Kept: a future nobody holds is cancelled at once.
        fut = c.image.PullImage.future(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=f"{slow.host}/slow/img:1")),
                                       timeout=60)
        assert wait_for(lambda: slow.requests >= 1)
        helpers = helpers_of(d.proc.pid)
        assert len(helpers) == 1
        yield d, fut, helpers[0], slow
    finally:
        c.close()
        slow.stop()


def test_berthd_killed_takes_its_helper(tmp, spawn, pb):
    with hanging_pull(tmp, spawn, pb) as (d, fut, helper, _slow):
        d.proc.kill()
        d.proc.wait()
        assert wait_for(lambda: not alive(helper), timeout=5), "the helper outlived berthd"
        fut.cancel()


def test_helper_runs_confined(tmp, spawn, pb):
    """While it talks to a registry, the helper holds only the capabilities
    unpacking needs (bounding set too), no_new_privs and a seccomp filter:
    a bug that an evil registry reaches in HTTP, TLS, gzip or tar code gets
    far less than root."""
    kept = {0, 1, 2, 3, 4, 21, 27, 31}  # CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID SYS_ADMIN MKNOD SETFCAP
    mask = sum(1 << c for c in kept)
    with hanging_pull(tmp, spawn, pb) as (_d, fut, helper, slow):
        with open(f"/proc/{helper}/status") as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        assert status["NoNewPrivs"].strip() == "1", status
        assert status["Seccomp"].strip() == "2", status
        for field in ("CapBnd", "CapEff", "CapPrm"):
            assert int(status[field], 16) == mask, (field, status[field])
        assert int(status["CapAmb"], 16) == 0
        slow.release.set()
        rpc_error(fut.result, timeout=30)  # the registry answers 404 once released
