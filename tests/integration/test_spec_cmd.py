"""`spec`: the default config.json, --bundle, --rootless."""

import json
import os
import re


def load(path):
    with open(path) as f:
        return json.load(f)


def ns_types(spec):
    return [n["type"] for n in spec["linux"]["namespaces"]]


def test_spec_writes_default_config_in_cwd(ctx):
    d = os.path.join(ctx.tmp, "b")
    os.mkdir(d)
    r = ctx.ok("spec", root=False, cwd=d)
    assert r.out == "", r
    spec = load(os.path.join(d, "config.json"))
    assert re.match(r"^\d+\.\d+\.\d+", spec["ociVersion"])
    p = spec["process"]
    assert p["terminal"] is True
    assert p["args"] == ["sh"]
    assert p["cwd"] == "/"
    assert p["user"] == {"uid": 0, "gid": 0}
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in p["env"]
    assert p["noNewPrivileges"] is True
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    for s in ("bounding", "effective", "permitted", "ambient"):
        assert sorted(p["capabilities"][s]) == caps
    assert {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024} in p["rlimits"]
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                     "/sys/fs/cgroup"]
    assert ns_types(spec) == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_spec_bundle_flag(ctx):
    d = os.path.join(ctx.tmp, "b")
    os.mkdir(d)
    ctx.ok("spec", "--bundle", d, root=False)
    assert os.path.isfile(os.path.join(d, "config.json"))
    d2 = os.path.join(ctx.tmp, "b2")
    os.mkdir(d2)
    ctx.ok("spec", "-b", d2, root=False)
    assert load(os.path.join(d2, "config.json")) == load(os.path.join(d, "config.json"))


def test_spec_refuses_to_overwrite(ctx):
    d = os.path.join(ctx.tmp, "b")
    os.mkdir(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("keep me")
    r = ctx.fail("spec", "--bundle", d, root=False)
    assert r.rc == 1
    assert "config.json exists" in r.err, r
    with open(os.path.join(d, "config.json")) as f:
        assert f.read() == "keep me"


def test_spec_missing_bundle_dir(ctx):
    missing = os.path.join(ctx.tmp, "nope")
    r = ctx.fail("spec", "--bundle", missing, root=False)
    assert r.rc == 1
    assert missing in r.err and "no such file or directory" in r.err, r
    assert not os.path.exists(missing)


def test_spec_rootless(ctx):
    d = os.path.join(ctx.tmp, "b")
    os.mkdir(d)
    ctx.ok("spec", "--rootless", "--bundle", d, root=False)
    spec = load(os.path.join(d, "config.json"))
    types = ns_types(spec)
    assert "user" in types and "network" not in types, types
    uid, gid = os.getuid(), os.getgid()
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": uid, "size": 1}]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": gid, "size": 1}]
    assert "resources" not in spec["linux"]
    sysfs = [m for m in spec["mounts"] if m["destination"] == "/sys"][0]
    assert sysfs["type"] == "none" and "rbind" in sysfs["options"], sysfs


def test_spec_output_runs(ctx):
    """The default spec, made non-interactive, runs a container."""
    d = os.path.join(ctx.tmp, "b")
    os.mkdir(d)
    ctx.ok("spec", "--bundle", d, root=False)
    spec = load(os.path.join(d, "config.json"))
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "echo hello from $(hostname)"]
    b = ctx.bundle(spec=spec)
    cid = ctx.new_id()
    r = ctx.ok("run", "--bundle", b, cid)
    assert r.out.startswith("hello from "), r
