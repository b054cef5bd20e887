"""kill: signal names and numbers, the default signal, --all, bad signals."""

import json
import os
import signal

from util import pid_alive, sh, wait_for

TRAP = ("trap 'echo got {sig} > /tmp/{sig}' {sig}; "
        "echo ready > /tmp/ready; while true; do sleep 0.05; done")


def running_with_trap(ctx, sig):
    cid = ctx.start_running(sh(TRAP.format(sig=sig)))
    rootfs = ctx.state(cid)["rootfs"]
    assert wait_for(lambda: os.path.exists(os.path.join(rootfs, "tmp/ready")))
    return cid, rootfs


def test_kill_by_name_and_number(ctx):
    for sig in ("KILL", "SIGKILL", "9"):
        cid = ctx.start_running()
        pid = ctx.state(cid)["pid"]
        r = ctx.ok("kill", cid, sig)
        assert r.out == ""
        ctx.wait_status(cid, "stopped")
        assert wait_for(lambda: not pid_alive(pid))
        ctx.ok("delete", cid)


def test_default_signal_is_term(ctx):
    cid, rootfs = running_with_trap(ctx, "TERM")
    ctx.ok("kill", cid)
    assert wait_for(lambda: os.path.exists(os.path.join(rootfs, "tmp/TERM"))), "no SIGTERM"
    ctx.destroy(cid)


def test_kill_usr1_by_name_and_number(ctx):
    cid, rootfs = running_with_trap(ctx, "USR1")
    ctx.ok("kill", cid, "SIGUSR1")
    assert wait_for(lambda: os.path.exists(os.path.join(rootfs, "tmp/USR1")))
    os.unlink(os.path.join(rootfs, "tmp/USR1"))
    ctx.ok("kill", cid, str(int(signal.SIGUSR1)))
    assert wait_for(lambda: os.path.exists(os.path.join(rootfs, "tmp/USR1")))
    ctx.destroy(cid)


def test_kill_created_container(ctx):
    cid, _ = ctx.create()
    ctx.ok("kill", cid, "KILL")
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)


def test_kill_all(ctx):
    cid = ctx.start_running(sh("sleep 30 & sleep 30 & wait"))
    assert wait_for(lambda: len(json.loads(ctx.ok("ps", "--format", "json", cid).out)) == 3)
    pids = json.loads(ctx.ok("ps", "--format", "json", cid).out)
    for p in pids:
        ctx.note_pid(p)
    ctx.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: not any(pid_alive(p) for p in pids)), pids
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)


def test_kill_all_short_flag_reaches_children(ctx):
    # the init ignores TERM (pid 1 without a handler), its children do not
    cid = ctx.start_running(sh("sleep 30 & sleep 30 & wait; sleep 30"))
    assert wait_for(lambda: len(json.loads(ctx.ok("ps", "--format", "json", cid).out)) == 3)
    pids = json.loads(ctx.ok("ps", "--format", "json", cid).out)
    init = ctx.state(cid)["pid"]
    ctx.ok("kill", "-a", cid, "TERM")
    children = [p for p in pids if p != init]
    assert wait_for(lambda: not any(pid_alive(p) for p in children))
    ctx.destroy(cid)


def test_bad_signal_names(ctx):
    cid = ctx.start_running()
    for bad in ("FOO", "SIGFOO"):
        r = ctx.fail("kill", cid, bad)
        assert r.rc == 1
        assert f'unknown signal \\"{bad}\\"' in r.err or f'unknown signal "{bad}"' in r.err, r
    r = ctx.fail("kill", cid, "99")
    assert r.rc == 1 and "invalid argument" in r.err, r
    assert ctx.state(cid)["status"] == "running"
    ctx.destroy(cid)


def test_kill_stopped_container(ctx):
    cid = ctx.start_running(["true"])
    ctx.wait_status(cid, "stopped")
    r = ctx.fail("kill", cid, "KILL")
    assert r.rc == 1 and "container not running" in r.err, r
    ctx.ok("delete", cid)


def test_kill_missing_container(ctx):
    r = ctx.fail("kill", "t-nope", "KILL")
    assert r.rc == 1 and "container does not exist" in r.err, r
