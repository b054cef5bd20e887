"""create / start / state / delete / run: the state machine
creating -> created -> running -> stopped, pid files, exit statuses."""

import json
import os
import re
import signal
import time

from util import pid_alive, sh, wait_for

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_create_state_fields(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    pidfile = os.path.join(ctx.tmp, "pid")
    r = ctx.ok("create", "--bundle", b, "--pid-file", pidfile, cid)
    assert r.out == "", r
    st = ctx.state(cid)
    assert st["id"] == cid
    assert st["status"] == "created"
    assert re.match(r"^\d+\.\d+\.\d+", st["ociVersion"])
    assert st["bundle"] == b
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert pid_alive(st["pid"])
    assert RFC3339.match(st["created"]), st["created"]
    assert "owner" in st
    # the pid file is the init's pid, written by the time create returns
    with open(pidfile) as f:
        assert f.read() == str(st["pid"])
    ctx.destroy(cid)


def test_state_is_pretty_json(ctx):
    cid, _ = ctx.create()
    r = ctx.ok("state", cid)
    assert r.out.startswith("{\n  \"ociVersion\""), r
    ctx.destroy(cid)


def test_create_start_transitions(ctx):
    b = ctx.bundle(sh("sleep 1"))
    cid = ctx.new_id()
    ctx.ok("create", "--bundle", b, cid)
    st = ctx.state(cid)
    assert st["status"] == "created"
    # the init waits in created until start
    time.sleep(0.7)
    assert ctx.state(cid)["status"] == "created"
    r = ctx.ok("start", cid)
    assert r.out == ""
    assert ctx.state(cid)["status"] == "running"
    assert ctx.state(cid)["pid"] == st["pid"]
    ctx.wait_status(cid, "stopped")
    assert not pid_alive(st["pid"])
    ctx.ok("delete", cid)
    r = ctx.fail("state", cid)
    assert r.rc == 1 and "container does not exist" in r.err, r


def test_created_process_has_not_run_args(ctx):
    b = ctx.bundle(sh("echo started > /tmp/marker; sleep 30"))
    cid = ctx.new_id()
    ctx.ok("create", "--bundle", b, cid)
    marker = os.path.join(b, "rootfs", "tmp", "marker")
    time.sleep(0.3)
    assert not os.path.exists(marker)
    ctx.ok("start", cid)
    assert wait_for(lambda: os.path.exists(marker))
    ctx.destroy(cid)


def test_create_relative_pid_file(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    ctx.ok("create", "--pid-file", "init.pid", "-b", b, cid, cwd=ctx.tmp)
    with open(os.path.join(ctx.tmp, "init.pid")) as f:
        assert int(f.read()) == ctx.state(cid)["pid"]
    ctx.destroy(cid)


def test_bundle_defaults_to_cwd(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    ctx.ok("create", cid, cwd=b)
    assert ctx.state(cid)["bundle"] == b
    ctx.destroy(cid)


def test_start_twice_fails(ctx):
    cid, _ = ctx.create()
    ctx.ok("start", cid)
    r = ctx.fail("start", cid)
    assert r.rc == 1 and "cannot start an already running container" in r.err, r
    ctx.ok("kill", cid, "KILL")
    ctx.wait_status(cid, "stopped")
    r = ctx.fail("start", cid)
    assert r.rc == 1 and "cannot start a container that has stopped" in r.err, r
    ctx.ok("delete", cid)


def test_delete_created_container(ctx):
    cid, _ = ctx.create()
    pid = ctx.state(cid)["pid"]
    ctx.ok("delete", cid)
    assert wait_for(lambda: not pid_alive(pid))
    assert ctx.cmd("state", cid).rc == 1


def test_delete_running_needs_force(ctx):
    cid = ctx.start_running()
    pid = ctx.state(cid)["pid"]
    r = ctx.fail("delete", cid)
    assert r.rc == 1
    assert f"cannot delete container {cid} that is not stopped: running" in r.err, r
    assert pid_alive(pid)
    ctx.ok("delete", "--force", cid)
    assert wait_for(lambda: not pid_alive(pid))
    assert ctx.cmd("state", cid).rc == 1


def test_delete_force_missing_is_ok(ctx):
    ctx.ok("delete", "--force", "t-does-not-exist")
    r = ctx.fail("delete", "t-does-not-exist")
    assert r.rc == 1 and "container does not exist" in r.err


def test_run_exit_status_propagates(ctx):
    for code in (0, 3, 42):
        r = ctx.run(sh(f"exit {code}"))
        assert r.rc == code, r


def test_run_stdio_pass_through(ctx):
    r = ctx.run(sh("cat; echo to-out; echo to-err >&2"), input=b"from-stdin\n")
    assert r.rc == 0, r
    assert r.out == "from-stdin\nto-out\n", r
    assert r.err == "to-err\n", r


def test_run_killed_by_sigkill_exits_137(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    p = ctx.popen("run", "--bundle", b, cid)
    ctx.wait_status(cid, "running")
    ctx.state(cid)
    ctx.ok("kill", cid, "KILL")
    assert p.wait(timeout=10) == 128 + signal.SIGKILL
    assert ctx.cmd("state", cid).rc == 1  # run deletes the container


def test_run_killed_by_sigterm_exits_143(ctx):
    # Without a pid namespace the process is not an init, so SIGTERM kills it.
    def edit(s):
        s["linux"]["namespaces"] = [n for n in s["linux"]["namespaces"] if n["type"] != "pid"]
    b = ctx.bundle(["sleep", "30"], edit=edit)
    cid = ctx.new_id()
    p = ctx.popen("run", "--bundle", b, cid)
    ctx.wait_status(cid, "running")
    ctx.state(cid)
    ctx.ok("kill", cid, "TERM")
    assert p.wait(timeout=10) == 128 + signal.SIGTERM


def test_run_detach(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    pidfile = os.path.join(ctx.tmp, "pid")
    t0 = time.monotonic()
    ctx.ok("run", "--detach", "--pid-file", pidfile, "--bundle", b, cid)
    assert time.monotonic() - t0 < 5
    st = ctx.state(cid)
    assert st["status"] == "running"
    with open(pidfile) as f:
        assert int(f.read()) == st["pid"]
    ctx.destroy(cid)
    assert not pid_alive(st["pid"])


def test_run_detach_short_flag(ctx):
    b = ctx.bundle(sh("exit 7"))
    cid = ctx.new_id()
    r = ctx.ok("run", "-d", "-b", b, cid)
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)


def test_pid_is_one_and_hostname(ctx):
    out = ctx.sh("echo pid $$; hostname")
    assert out == "pid 1\nberth-test\n"


def test_state_dir_entry_lifecycle(ctx):
    cid, _ = ctx.create()
    assert os.listdir(ctx.root) == [cid]
    ctx.destroy(cid)
    assert os.listdir(ctx.root) == []


def test_no_new_keyring(ctx):
    """By default the init gets a fresh session keyring named after the
    container; --no-new-keyring keeps the caller's."""
    def edit(s):
        s["linux"]["maskedPaths"].remove("/proc/keys")
    r = ctx.run(["cat", "/proc/keys"], edit=edit)
    assert r.rc == 0, r
    cid = ctx.ids[-1]
    assert f"_ses.{cid}" in r.out, r
    r = ctx.run(["cat", "/proc/keys"], edit=edit, flags=["--no-new-keyring"])
    assert r.rc == 0, r
    assert ctx.ids[-1] not in r.out, r


def test_preserve_fds(ctx):
    path = os.path.join(ctx.tmp, "passed")
    with open(path, "w") as f:
        f.write("through fd 3\n")
    r = ctx.run(sh("cat <&3"), flags=["--preserve-fds", "1"], fds={3: path})
    assert r.rc == 0 and r.out == "through fd 3\n", r
    # fds 3 and 4 both passed
    r = ctx.run(sh("cat <&3 <&4"), flags=["--preserve-fds", "2"], fds={3: path, 4: path})
    assert r.rc == 0 and r.out == "through fd 3\n", r
    # without the flag, fds past stdio are closed before the process runs
    r = ctx.run(["ls", "/proc/self/fd"], fds={3: path})
    assert r.rc == 0, r
    assert sorted(r.out.split()) == ["0", "1", "2", "3"], r  # 3: ls's own dir fd
    r = ctx.run(sh("cat <&3"), fds={3: path})
    assert r.rc != 0, r
