"""OCI hooks: order, the state on stdin, the namespace each kind runs in,
timeouts, and what each kind's failure does (runtime.md, Lifecycle)."""

import json
import os

from util import runc_lacks

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def hook_script(path, log):
    """A hook that appends `<kind> <mnt ns> <stdin>` to log."""
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/mnt) $(cat)\" >> {log}\n")
    os.chmod(path, 0o755)


def with_hooks(hooks):
    def edit(spec):
        spec["hooks"] = hooks
    return edit


def read_log(path):
    if not os.path.exists(path):
        return []
    entries = []
    with open(path) as f:
        for line in f:
            kind, mnt, state = line.rstrip("\n").split(" ", 2)
            entries.append((kind, mnt, json.loads(state)))
    return entries


def all_hooks_bundle(ctx):
    """Every kind of hook; startContainer runs inside the container, so its
    script and log live in the rootfs."""
    host_log = os.path.join(ctx.tmp, "hooks.log")
    host_hook = os.path.join(ctx.tmp, "hook.sh")
    hook_script(host_hook, host_log)
    hooks = {k: [{"path": host_hook, "args": ["hook.sh", k]}] for k in KINDS}
    hooks["startContainer"] = [{"path": "/hook.sh", "args": ["hook.sh", "startContainer"]}]
    b = ctx.bundle(["sleep", "30"], edit=with_hooks(hooks))
    hook_script(os.path.join(b, "rootfs", "hook.sh"), "/hooks.log")
    return b, host_log, os.path.join(b, "rootfs", "hooks.log")


@runc_lacks("poststart after start (runc 1.1 runs poststart hooks at create)")
def test_hooks_run_in_order_with_state(ctx):
    b, host_log, inner_log = all_hooks_bundle(ctx)
    cid = ctx.new_id()
    ctx.ok("create", "--bundle", b, cid)
    pid = ctx.state(cid)["pid"]
    created = read_log(host_log)
    assert [e[0] for e in created] == ["prestart", "createRuntime", "createContainer"]
    for kind, _, state in created:
        assert state["id"] == cid and state["pid"] == pid and state["bundle"] == b, (kind, state)
        assert state["status"] == "created", (kind, state)
    host_mnt = os.readlink("/proc/self/ns/mnt")
    # prestart and createRuntime in the runtime namespace, createContainer in the container's
    assert created[0][1] == host_mnt and created[1][1] == host_mnt
    assert created[2][1] == os.readlink(f"/proc/{pid}/ns/mnt")
    assert read_log(inner_log) == []

    ctx.ok("start", cid)
    started = read_log(inner_log)
    assert [e[0] for e in started] == ["startContainer"]
    assert started[0][1] == os.readlink(f"/proc/{pid}/ns/mnt")
    after = read_log(host_log)
    assert [e[0] for e in after][3:] == ["poststart"]
    assert after[3][2]["status"] == "running"

    ctx.ok("kill", cid, "KILL")
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)
    final = read_log(host_log)
    assert [e[0] for e in final][4:] == ["poststop"]
    assert final[4][2]["status"] == "stopped"


def test_failing_prestart_fails_create_and_leaves_nothing(ctx):
    hooks = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo prestart said no >&2; exit 3"]}]}
    r = ctx.run(["true"], edit=with_hooks(hooks))
    assert r.rc != 0, r
    assert "prestart" in r.err, r
    assert os.listdir(ctx.root) == []


@runc_lacks("hook output in the error message")
def test_failing_hook_error_shows_its_output(ctx):
    hooks = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo runtime said no >&2; exit 3"]}]}
    r = ctx.run(["true"], edit=with_hooks(hooks))
    assert r.rc != 0, r
    assert "createRuntime hook #0" in r.err and "exit status 3" in r.err and "runtime said no" in r.err, r


def test_hook_timeout_kills_it(ctx):
    hooks = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    r = ctx.run(["true"], edit=with_hooks(hooks))
    assert r.rc != 0, r
    assert "timed out" in r.err or "timeout" in r.err, r
    assert os.listdir(ctx.root) == []


def test_hook_env_and_args(ctx):
    log = os.path.join(ctx.tmp, "env.log")
    hooks = {"createRuntime": [{"path": "/bin/sh",
                                "args": ["sh", "-c", f"echo \"$0 $1 $HOOKVAR\" > {log}", "zero", "one"],
                                "env": ["HOOKVAR=from-env"]}]}
    r = ctx.run(["true"], edit=with_hooks(hooks))
    assert r.rc == 0, r
    with open(log) as f:
        assert f.read() == "zero one from-env\n"


def with_version_and_hooks(version, hooks):
    def edit(spec):
        spec["ociVersion"] = version
        spec["hooks"] = hooks
    return edit


@runc_lacks("poststart after start (runc 1.1 runs poststart hooks at create)")
def test_failing_poststart_stops_the_container(ctx):
    # runtime-spec 1.3, runtime.md step 9: generate an error, stop the container.
    hooks = {"poststart": [{"path": "/bin/false"}]}
    cid, _ = ctx.create(edit=with_version_and_hooks("1.3.0", hooks))
    r = ctx.cmd("start", cid)
    assert r.rc != 0 and "poststart hook #0" in r.err, r
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)


@runc_lacks("poststart after start (runc 1.1 runs poststart hooks at create)")
def test_failing_poststart_of_an_older_bundle_is_a_warning(ctx):
    # Up to runtime-spec 1.2: log a warning, run the remaining hooks, and go
    # on as if the hook had succeeded.  The bundle's ociVersion decides.
    log = os.path.join(ctx.tmp, "second.log")
    hooks = {"poststart": [{"path": "/bin/false"},
                           {"path": "/bin/sh", "args": ["sh", "-c", f"echo second ran > {log}"]}]}
    cid, _ = ctx.create(["sleep", "30"], edit=with_version_and_hooks("1.2.0", hooks))
    r = ctx.cmd("start", cid)
    assert r.rc == 0 and "poststart hook #0" in r.err, r
    with open(log) as f:
        assert f.read() == "second ran\n"
    assert ctx.state(cid)["status"] == "running"
    ctx.ok("delete", "--force", cid)


def test_failing_poststop_is_only_a_warning(ctx):
    hooks = {"poststop": [{"path": "/bin/false"}]}
    cid, _ = ctx.create(edit=with_hooks(hooks))
    r = ctx.cmd("delete", "--force", cid)
    assert r.rc == 0, r
    assert os.listdir(ctx.root) == []


@runc_lacks("running the remaining poststop hooks after one fails")
def test_failing_poststop_does_not_stop_the_next_one(ctx):
    # runtime.md step 13: the remaining hooks run as if the failing one had succeeded.
    log = os.path.join(ctx.tmp, "second.log")
    hooks = {"poststop": [{"path": "/bin/false"},
                          {"path": "/bin/sh", "args": ["sh", "-c", f"echo ran > {log}"]}]}
    cid, _ = ctx.create(edit=with_hooks(hooks))
    ctx.ok("delete", "--force", cid)
    with open(log) as f:
        assert f.read() == "ran\n"


@runc_lacks("reporting a failed startContainer hook from start")
def test_failing_start_container_hook_fails_start(ctx):
    # The hook runs in the container after `start`; its failure stops the
    # container before the user process, and `start` says why.
    hooks = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no start >&2; exit 4"]}]}
    cid, _ = ctx.create(edit=with_hooks(hooks))
    r = ctx.cmd("start", cid)
    assert r.rc != 0 and "startContainer hook #0" in r.err and "exit status 4" in r.err, r
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)
