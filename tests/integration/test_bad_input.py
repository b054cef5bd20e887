"""Bad input: each case fails with a non-zero exit and a clear message, and
leaves nothing behind (no state dir entry, cgroup, mount or process: the
leak check in conftest.py covers those).  berth's messages also name the JSON
path of the offending field; runc's wording differs, so those checks are
berth-only."""

import os

import pytest

from util import berth_only, default_spec


def no_oci_version(s):
    del s["ociVersion"]


def set_path(path, value):
    def edit(spec):
        obj = spec
        for k in path[:-1]:
            obj = obj.setdefault(k, {}) if isinstance(k, str) else obj[k]
        obj[path[-1]] = value
    return edit


def drop(key):
    return lambda s: s.pop(key)


def add_ns(t):
    return lambda s: s["linux"]["namespaces"].append({"type": t})


# name: (spec text or edit, substrings both runtimes print, substrings berth prints)
CASES = {
    "invalid_json": ("{\"ociVersion\": \"1.0.2\", bad", [], ["config.json"]),
    "empty_file": ("", [], ["config.json"]),
    "not_an_object": ("[1, 2]", [], ["config.json", "object"]),
    "missing_process": (drop("process"), ["process"], ["process"]),
    "missing_root": (drop("root"), ["root"], ["root"]),
    "args_not_array": (set_path(["process", "args"], "true"), ["process.args"],
                       ["process.args: expected array"]),
    "args_empty": (set_path(["process", "args"], []), ["args"], ["process.args"]),
    "uid_string": (set_path(["process", "user", "uid"], "x"), ["process.user.uid"],
                   ["process.user.uid: expected integer"]),
    "uid_negative": (set_path(["process", "user", "uid"], -1), ["process.user.uid"],
                     ["process.user.uid"]),
    "memory_limit_string": (set_path(["linux", "resources", "memory"], {"limit": "abc"}),
                            ["linux.resources.memory.limit"],
                            ["linux.resources.memory.limit: expected integer"]),
    "mounts_not_array": (set_path(["mounts"], {"a": 1}), ["mounts"],
                         ["mounts: expected array"]),
    "unknown_namespace": (add_ns("bogus"), ["bogus"], ["linux.namespaces[5].type", "bogus"]),
    "duplicate_namespace": (add_ns("pid"), ["pid"], ["linux.namespaces[5]"]),
    "unknown_rlimit": (set_path(["process", "rlimits"],
                                [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
                       ["RLIMIT_BOGUS"], ["process.rlimits[0].type"]),
    "relative_cwd": (set_path(["process", "cwd"], "tmp"), ["absolute"], ["process.cwd"]),
}


def run_case(ctx, case):
    spec, _, _ = CASES[case]
    if callable(spec):
        b = ctx.bundle(["true"], edit=spec)
    else:
        b = ctx.bundle(spec=spec)
    cid = ctx.new_id()
    r = ctx.cmd("run", "--bundle", b, cid)
    assert r.rc == 1, r
    assert r.err.strip(), r
    assert os.listdir(ctx.root) == [], "state dir left behind"
    assert ctx.cmd("state", cid).rc == 1
    return r


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config(ctx, case):
    r = run_case(ctx, case)
    for s in CASES[case][1]:
        assert s in r.err, (s, r)


@berth_only
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_names_json_path(ctx, case):
    r = run_case(ctx, case)
    for s in CASES[case][2]:
        assert s in r.err, (s, r)


@berth_only
def test_missing_oci_version(ctx):
    # runc accepts this; the runtime-spec makes ociVersion REQUIRED
    b = ctx.bundle(["true"], edit=no_oci_version)
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 1 and "ociVersion" in r.err, r
    assert os.listdir(ctx.root) == []


def test_missing_rootfs_dir(ctx):
    b = ctx.bundle(["true"], edit=set_path(["root", "path"], "no-such-rootfs"))
    r = ctx.cmd("create", "--bundle", b, ctx.new_id())
    assert r.rc == 1, r
    assert os.path.join(b, "no-such-rootfs") in r.err and "no such file or directory" in r.err
    assert os.listdir(ctx.root) == []


def test_rootfs_is_a_file(ctx):
    b = ctx.bundle(["true"])
    f = os.path.join(b, "rootfile")
    open(f, "w").close()
    ctx.write_spec(b, {**default_spec(["true"]), "root": {"path": f}})
    r = ctx.cmd("create", "--bundle", b, ctx.new_id())
    assert r.rc == 1 and "not a directory" in r.err, r
    assert os.listdir(ctx.root) == []


@berth_only
def test_rootfs_is_a_file_names_path(ctx):
    b = ctx.bundle(["true"], edit=set_path(["root", "path"], "config.json"))
    r = ctx.cmd("create", "--bundle", b, ctx.new_id())
    assert r.rc == 1 and os.path.join(b, "config.json") in r.err, r
    assert "not a directory" in r.err.lower(), r


def test_missing_config_json(ctx):
    b = ctx.bundle(["true"])
    os.unlink(os.path.join(b, "config.json"))
    r = ctx.cmd("create", "--bundle", b, ctx.new_id())
    assert r.rc == 1 and "config.json" in r.err, r
    assert os.listdir(ctx.root) == []


def test_missing_bundle_dir(ctx):
    missing = os.path.join(ctx.tmp, "no-bundle")
    r = ctx.cmd("create", "--bundle", missing, ctx.new_id())
    assert r.rc == 1 and missing in r.err and "no such file or directory" in r.err, r
    assert os.listdir(ctx.root) == []


def test_duplicate_id(ctx):
    cid, b = ctx.create()
    pid = ctx.state(cid)["pid"]
    r = ctx.cmd("create", "--bundle", b, cid)
    assert r.rc == 1 and "container with given ID already exists" in r.err, r
    r = ctx.cmd("run", "--bundle", b, cid)
    assert r.rc == 1 and "container with given ID already exists" in r.err, r
    st = ctx.state(cid)
    assert st["status"] == "created" and st["pid"] == pid
    ctx.destroy(cid)


@pytest.mark.parametrize("bad_id", ["a/b", "..", "../escape", ".", "a b", "-x"])
def test_invalid_container_id(ctx, bad_id):
    b = ctx.bundle(["true"])
    r = ctx.cmd("create", "--bundle", b, bad_id)
    assert r.rc == 1, r
    if bad_id != "-x":  # parsed as a flag
        # runc: "invalid container ID format"; berth says which id and why
        assert "invalid container id" in r.err.lower(), r
    assert os.listdir(ctx.root) == []
    assert not os.path.exists(os.path.join(ctx.tmp, "escape"))


@pytest.mark.parametrize("command", ["state", "start", "kill", "delete", "ps", "pause",
                                     "resume"])
def test_nonexistent_container(ctx, command):
    r = ctx.cmd(command, "t-nonexistent")
    assert r.rc == 1 and "container does not exist" in r.err, r
    assert os.listdir(ctx.root) == []


def test_nonexistent_container_exec(ctx):
    r = ctx.cmd("exec", "t-nonexistent", "true")
    assert r.rc == 255 and "container does not exist" in r.err, r


def test_root_is_a_file(ctx):
    f = os.path.join(ctx.tmp, "rootfile")
    open(f, "w").close()
    r = ctx.cmd("--root", f, "list", root=False)
    assert r.rc == 1 and f in r.err and "not a directory" in r.err, r
    b = ctx.bundle(["true"])
    r = ctx.cmd("--root", f, "create", "--bundle", b, ctx.new_id(), root=False)
    assert r.rc == 1 and "not a directory" in r.err, r


@berth_only
def test_intel_rdt_without_resctrl_is_a_clear_error(ctx):
    with open("/proc/self/mountinfo") as f:
        if " - resctrl " in f.read():
            pytest.skip("resctrl is mounted here")
    r = ctx.run(["true"], edit=lambda s: s["linux"].update(intelRdt={"closID": "c1"}))
    assert r.rc != 0 and "linux.intelRdt" in r.err and "resctrl" in r.err, r
    assert os.listdir(ctx.root) == []
