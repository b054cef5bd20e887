"""containerd 1.6 running the runtime under test as the runc binary of its
io.containerd.runc.v2 shim (`ctr run --runc-binary`).  The same tests pass
with BERTH_BIN=/usr/sbin/runc."""

import json
import os
import subprocess
import time

import engines
from engines import IMAGE

LOOP = "echo started; trap 'echo got TERM; exit 3' TERM; while :; do sleep 0.1; done"


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read()
    except OSError:
        return None


def run_rm(ctr, cid, *args, opts=()):
    return ctr("run", "--rm", *ctr.run_args(), *opts, IMAGE, cid, *args)


def wait_status(ctr, cid, status, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in ctr("tasks", "ls").out.splitlines()[1:]:
            fields = line.split()
            if fields[0] == cid and fields[2] == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"task {cid} never {status}: {ctr('tasks', 'ls').out}")


def test_run_rm_output_and_exit_code(ctr):
    r = run_rm(ctr, "berth-rm", "sh", "-c", "echo hello from pid $$; exit 4")
    assert r.rc == 4, r
    assert r.out == "hello from pid 1\n", r


def test_missing_executable_is_reported(ctr):
    r = run_rm(ctr, "berth-missing", "no-such-command")
    assert r.rc != 0, r
    # The shim reads the runtime's error from <bundle>/log.json.
    assert "no-such-command" in r.err and "executable file not found" in r.err, r
    assert ctr("containers", "ls", "-q").out.strip() == ""
    ctr("containers", "delete", "berth-missing")


def test_env_and_mounts(ctr, tmp_path):
    (tmp_path / "f").write_text("shared\n")
    r = run_rm(ctr, "berth-env", "sh", "-c", "echo $FOO $IMAGE_VAR; cat /share/f; touch /share/x 2>&1; true",
               opts=("--env", "FOO=bar", "--mount", f"type=bind,src={tmp_path},dst=/share,options=rbind:ro"))
    assert r.rc == 0, r
    assert r.out.startswith("bar from-image\nshared\n") and "Read-only file system" in r.out, r
    assert not (tmp_path / "x").exists()


def test_detached_task_exec_ps_kill_delete(ctr):
    cid = "berth-detached"
    ctr.ok("run", "-d", *ctr.run_args(), IMAGE, cid, "sh", "-c", LOOP)
    try:
        wait_status(ctr, cid, "RUNNING")
        r = ctr("tasks", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo in $(cat /proc/1/comm); exit 5")
        assert r.rc == 5 and r.out == "in sh\n", r
        r = ctr("tasks", "exec", "--exec-id", "e2", cid, "no-such-command")
        assert r.rc != 0 and "executable file not found" in r.err, r

        # `ctr tasks ps` is the shim calling the runtime's `ps --format json`.
        ctr.ok("tasks", "exec", "-d", "--exec-id", "e3", cid, "sleep", "100")
        pids = [int(line.split()[0]) for line in ctr.ok("tasks", "ps", cid).out.splitlines()[1:]]
        init_pid = int(open(os.path.join(ctr.task_dir(cid), "init.pid")).read())
        cmds = {p: cmdline(p) for p in pids}  # the init's `sleep 0.1`s come and go
        assert init_pid in pids and "sleep\x00100\x00" in cmds.values(), cmds

        ctr.ok("tasks", "kill", cid)  # SIGTERM to init: the trap exits 3
        wait_status(ctr, cid, "STOPPED")
        r = ctr.ok("tasks", "delete", cid)
        assert "exit status 3" in r.out + r.err or r.rc == 0, r
        assert not cmdline(init_pid)
    finally:
        ctr.clean()


def test_kill_all_ends_every_process(ctr):
    cid = "berth-killall"
    ctr.ok("run", "-d", *ctr.run_args(), IMAGE, cid, "sleep", "1000")
    try:
        wait_status(ctr, cid, "RUNNING")
        ctr.ok("tasks", "exec", "-d", "--exec-id", "e1", cid, "sleep", "1000")
        pids = [int(line.split()[0]) for line in ctr.ok("tasks", "ps", cid).out.splitlines()[1:]]
        assert len(pids) == 2, pids
        ctr.ok("tasks", "kill", "--all", "-s", "SIGKILL", cid)
        wait_status(ctr, cid, "STOPPED")
        deadline = time.time() + 5
        while any(os.path.exists(f"/proc/{p}") for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(os.path.exists(f"/proc/{p}") for p in pids)
        ctr.ok("tasks", "delete", cid)
    finally:
        ctr.clean()


def test_second_delete_force_of_gone_container(ctr):
    cid = "berth-gone"
    ctr.ok("run", "-d", *ctr.run_args(), IMAGE, cid, "sleep", "1000")
    try:
        wait_status(ctr, cid, "RUNNING")
        ctr.ok("tasks", "delete", "--force", cid)
        # A second forced delete: containerd finds no task (as with runc) ...
        r = ctr("tasks", "delete", "--force", cid)
        assert r.rc != 0 and "not found" in r.err, r
        # ... and the runtime itself, asked as the shim's clean-up asks it,
        # succeeds quietly on a container that is already gone.
        r = engines.run([engines.RUNTIME, "--root", os.path.join(ctr.runc_root, ctr.NAMESPACE), "--log",
                         os.path.join(ctr.base, "gone.log"), "--log-format", "json", "delete", "--force", cid])
        assert r.rc == 0 and r.out == "" and r.err == "", r
        ctr.ok("containers", "delete", cid)
    finally:
        ctr.clean()


def test_shim_log_json_lines(ctr):
    """The shim gives the runtime `--log <bundle>/log.json --log-format
    json` and reads errors from it: each line is one JSON object with
    level, msg and time, as runc writes it."""
    cid = "berth-logjson"
    ctr.ok("run", "-d", *ctr.run_args(), IMAGE, cid, "sleep", "1000")
    try:
        wait_status(ctr, cid, "RUNNING")
        ctr("tasks", "exec", "--exec-id", "bad", cid, "/no/such/file")
        with open(os.path.join(ctr.task_dir(cid), "log.json")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        errors = [e for e in lines if e["level"] == "error"]
        assert errors, lines
        assert all(set(e) >= {"level", "msg", "time"} for e in lines), lines
        assert any("/no/such/file" in e["msg"] for e in errors), errors
    finally:
        ctr.clean()


def test_pid_file_is_the_container_init(ctr):
    cid = "berth-pidfile"
    ctr.ok("run", "-d", *ctr.run_args(), IMAGE, cid, "sleep", "1000")
    try:
        wait_status(ctr, cid, "RUNNING")
        pid = int(open(os.path.join(ctr.task_dir(cid), "init.pid")).read())
        assert open(f"/proc/{pid}/cmdline").read() == "sleep\x001000\x00"
        state = json.loads(subprocess.run([engines.RUNTIME, "--root", os.path.join(ctr.runc_root, ctr.NAMESPACE),
                                           "state", cid], capture_output=True, text=True).stdout)
        assert state["pid"] == pid and state["status"] == "running", state
    finally:
        ctr.clean()
