"""`features`: features.json as runc prints it (MarshalIndent with four
spaces and a newline), with lists true to what the runtime accepts."""

import json
import os

from util import berth_only

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def features(ctx):
    r = ctx.ok("features", root=False)
    assert r.out.endswith("\n}\n"), r
    assert r.out.startswith('{\n    "ociVersionMin"'), r
    return json.loads(r.out)


def test_features_layout(ctx):
    f = features(ctx)
    assert list(f)[:4] == ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions"], list(f)
    assert f["ociVersionMin"] == "1.0.0"
    assert f["ociVersionMax"].startswith("1.")
    assert f["hooks"] == HOOKS
    opts = f["mountOptions"]
    assert opts == sorted(opts)
    for o in ("bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "rprivate", "rro", "tmpcopyup"):
        assert o in opts, o
    lx = f["linux"]
    assert set(("cgroup", "ipc", "mount", "network", "pid", "user", "uts")) <= set(lx["namespaces"])
    assert lx["namespaces"] == sorted(lx["namespaces"])
    caps = lx["capabilities"]
    assert caps[:3] == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"]
    assert "CAP_SYS_ADMIN" in caps and len(caps) >= 38
    assert lx["cgroup"]["v1"] is True and lx["cgroup"]["v2"] is True
    sc = lx["seccomp"]
    assert sc["enabled"] is True
    assert "SCMP_ACT_ERRNO" in sc["actions"] and "SCMP_CMP_MASKED_EQ" in sc["operators"]
    assert "SCMP_ARCH_X86_64" in sc["archs"]
    assert "apparmor" in lx and "selinux" in lx
    assert "io.github.seccomp.libseccomp.version" in f["annotations"]


def test_features_takes_no_container(ctx):
    # runc ignores extra words; berth refuses them.  Either way no state is touched.
    r = ctx.cmd("features", "x", root=False)
    assert r.rc in (0, 1), r


@berth_only
def test_features_true_to_this_host(ctx):
    lx = features(ctx)["linux"]
    assert lx["cgroup"] == {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True}
    assert lx["apparmor"] == {"enabled": False}
    assert lx["selinux"] == {"enabled": False}
    assert lx["intelRdt"] == {"enabled": os.path.exists("/sys/fs/resctrl/info")}
    assert lx["mountExtensions"] == {"idmap": {"enabled": True}}
    if os.path.exists("/proc/self/ns/time"):
        assert "time" in lx["namespaces"]
    assert "idmap" in features(ctx)["mountOptions"]


@berth_only
def test_features_mount_options_are_accepted(ctx):
    """Every option listed passes the config parser on a bind mount (which
    refuses unknown ones)."""
    from util import default_spec
    opts = features(ctx)["mountOptions"]
    b = ctx.bundle(["true"])
    for o in opts:
        if o in ("idmap", "ridmap"):
            continue  # need mappings and a user namespace
        spec = default_spec(["true"])
        spec["mounts"].append({"destination": "/mnt", "type": "bind", "source": ctx.tmp,
                               "options": ["rbind", o]})
        ctx.write_spec(b, spec)
        cid = ctx.new_id()
        r = ctx.cmd("create", "--bundle", b, cid)
        assert "unknown mount option" not in r.err, (o, r)
        ctx.cmd("delete", "--force", cid)
