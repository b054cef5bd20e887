"""Pulls from a registry that is not on a loopback address: HTTPS with a CA
given by --ca-file, a certificate nobody vouches for, and plain HTTP only
for a registry marked insecure in the registries config.

berthctl talks plain HTTP to loopback registries (as docker does), so these
registries listen on 10.254.77.1 (added to lo) inside a network
namespace made for the test module; the registry, skopeo and berthctl all
run in it through `ip netns exec`, and nothing on the host's network
changes."""

import json
import os
import subprocess
import time

import pytest

from conftest import BERTHCTL, REGISTRY_BIN, TIMEOUT, Result

ADDR = "10.254.77.1"
TLS_PORT, HTTP_PORT = 5443, 5080


def in_ns(ns, *cmd, check=True):
    p = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=TIMEOUT)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr}")
    return Result(p)


def make_certs(d):
    """A CA, and a server certificate it signs for ADDR."""
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=berth test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={ADDR}")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{ADDR}\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
        "-extfile", ext)
    return ca, crt, key


class NsRegistry:
    def __init__(self, ns, tmp, port, tls=None):
        self.host = f"{ADDR}:{port}"
        http = {"addr": self.host}
        if tls:
            http["tls"] = {"certificate": tls[0], "key": tls[1]}
        cfg = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
               "storage": {"filesystem": {"rootdirectory": os.path.join(tmp, f"data-{port}")}}, "http": http}
        conf = os.path.join(tmp, f"registry-{port}.yml")
        with open(conf, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        self.log = open(os.path.join(tmp, f"registry-{port}.log"), "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, REGISTRY_BIN, "serve", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        scheme = "https" if tls else "http"
        deadline = time.time() + 20
        while in_ns(ns, "curl", "-sk", "-o", "/dev/null", f"{scheme}://{self.host}/v2/", check=False).rc != 0:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"registry did not start: {open(self.log.name).read()}")
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def netns(session_tmp, layouts):
    ns = f"berth-tls-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    regs = []
    try:
        # Not a loopback *address*, though it sits on the namespace's lo.
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{ADDR}/32", "dev", "lo"]):
            in_ns(ns, *cmd)
        d = os.path.join(session_tmp, "tls")
        os.makedirs(d)
        ca, crt, key = make_certs(d)
        regs.append(NsRegistry(ns, d, TLS_PORT, tls=(crt, key)))
        regs.append(NsRegistry(ns, d, HTTP_PORT))
        for reg in regs:
            in_ns(ns, "skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layouts['busybox']}:1",
                  f"docker://{reg.host}/test/busybox:1")
        yield {"ns": ns, "ca": ca, "tls": regs[0].host, "http": regs[1].host}
    finally:
        for reg in regs:
            reg.stop()
        subprocess.run(["ip", "netns", "del", ns])


def pull(netns, store, ref, *opts, check=False):
    return in_ns(netns["ns"], BERTHCTL, "--root", store.root, "--auth-file", store.auth_file,
                 "--registries-config", store.registries_conf, *opts, "pull", ref, check=check)


def test_pull_over_https_with_ca_file(netns, store):
    ref = f"{netns['tls']}/test/busybox:1"
    r = pull(netns, store, ref, "--ca-file", netns["ca"])
    assert r.rc == 0, r
    assert [i["name"] for i in store.images()] == [ref]


def test_https_certificate_not_trusted_is_refused(netns, store):
    ref = f"{netns['tls']}/test/busybox:1"
    r = pull(netns, store, ref)
    assert r.rc != 0, r
    assert netns["tls"] in r.err and "certificate not trusted" in r.err and "--ca-file" in r.err, r
    assert store.images() == []
    assert os.listdir(store.path("ingest")) == []


def test_plain_http_only_for_registries_marked_insecure(netns, store):
    ref = f"{netns['http']}/test/busybox:1"
    r = pull(netns, store, ref)
    assert r.rc != 0, r  # spoken to over HTTPS, which a plain HTTP server cannot answer
    assert netns["http"] in r.err and "insecure-registries" in r.err, r
    with open(store.registries_conf, "w") as f:
        json.dump({"insecure-registries": [netns["http"]]}, f)
    r = pull(netns, store, ref)
    assert r.rc == 0, r
    assert [i["name"] for i in store.images()] == [ref]
