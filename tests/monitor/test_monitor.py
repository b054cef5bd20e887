"""The container monitor (src/daemon/monitor.h): create through libberth in
a detached process, the CRI log, the exit file, log reopen, stdin, tty,
ExecSync, and failed creates that leave nothing behind."""

import datetime
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import MONITOR_TEST, TIMEOUT, util, wait_gone

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
LINE = re.compile(rf"^({TIME}) (stdout|stderr) ([PF]) (.*)$")


def parse_log(lines):
    out = []
    for line in lines:
        m = LINE.match(line)
        assert m, f"not a CRI log line: {line!r}"
        out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def parse_time(t):
    # RFC 3339 with nanoseconds; Python keeps microseconds.
    return datetime.datetime.strptime(t[:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def run_to_exit(mctx, args, edit=None, extra=()):
    cid = mctx.new_id()
    b = mctx.bundle(args, edit=edit)
    info = mctx.spawn(cid, b, extra=extra)
    mctx.start(cid)
    rec = mctx.exit_record(cid)
    assert wait_gone(info["pid"], util.proc_starttime(info["pid"])), "monitor still runs after the exit"
    return cid, info, rec


def test_log_streams_tags_and_exit_file(mctx):
    before = datetime.datetime.now(datetime.timezone.utc)
    cid, info, rec = run_to_exit(mctx, util.sh("echo out; echo err >&2; printf partial; exit 3"))
    entries = parse_log(mctx.log_lines(cid))
    assert sorted((s, t, text) for _, s, t, text in entries) == [
        ("stderr", "F", "err"), ("stdout", "F", "out"), ("stdout", "P", "partial")]
    # Per stream, in order; times are RFC 3339 nano in UTC and now-ish.
    assert [text for _, s, _, text in entries if s == "stdout"] == ["out", "partial"]
    for t, *_ in entries:
        assert abs((parse_time(t) - before).total_seconds()) < 30
    assert rec["exit_code"] == 3 and rec["signal"] == 0
    assert rec["reason"] == "Error" and rec["oom_killed"] is False
    assert rec["pid"] == info["init_pid"]
    assert re.fullmatch(TIME, rec["exited_at"])
    assert parse_time(rec["exited_at"]) >= max(parse_time(t) for t, *_ in entries) - datetime.timedelta(seconds=1)
    # The raw file is JSON written whole (no temp left beside it).
    with open(mctx.path(f"{cid}.exit")) as f:
        assert json.load(f)["id"] == cid
    assert not os.path.exists(mctx.path(f"{cid}.exit.tmp"))
    mctx.remove(cid)


def test_exit_zero_is_completed(mctx):
    cid, _, rec = run_to_exit(mctx, ["true"])
    assert (rec["exit_code"], rec["reason"]) == (0, "Completed")
    assert mctx.log_lines(cid) == []
    mctx.remove(cid)


def test_signal_exit_is_128_plus_signal(mctx):
    cid = mctx.new_id()
    info = mctx.spawn(cid, mctx.bundle(["sleep", "100"]))
    mctx.start(cid)
    mctx.berth("kill", cid, "KILL")
    rec = mctx.exit_record(cid)
    assert (rec["exit_code"], rec["signal"], rec["reason"]) == (137, 9, "Error")
    assert wait_gone(info["pid"], None)
    mctx.remove(cid)


def test_long_line_split_into_partials(mctx):
    text = "abcdefghijklmnopqrstuvw"
    cmd = f"echo {text}; echo 0123456789; printf 'crlf\\r\\n'; echo; printf 'x%.0s' $(seq 25)"
    cid, _, rec = run_to_exit(mctx, util.sh(cmd), extra=["--max-line", "10"])
    got = [(t, s) for _, _, t, s in parse_log(mctx.log_lines(cid))]
    assert got == [("P", "abcdefghij"), ("P", "klmnopqrst"), ("F", "uvw"),
                   ("F", "0123456789"),  # exactly max_line: one full line
                   ("F", "crlf"),        # "\r\n" ends a line
                   ("F", ""),            # an empty line
                   ("P", "x" * 10), ("P", "x" * 10), ("P", "x" * 5)]  # no newline at the end
    assert rec["exit_code"] == 0
    mctx.remove(cid)


def test_default_max_line_is_16k(mctx):
    cid, _, _ = run_to_exit(mctx, util.sh("head -c 20000 /dev/zero | tr '\\0' a; echo"))
    got = [(t, len(s)) for _, _, t, s in parse_log(mctx.log_lines(cid))]
    assert got == [("P", 16384), ("F", 20000 - 16384)]
    mctx.remove(cid)


def test_monitor_survives_parent_sigkill(mctx):
    """berthd SIGKILLed right after create: the monitor and the created
    container go on; start still works and the exit is recorded."""
    cid = mctx.new_id()
    b = mctx.bundle(util.sh("echo alive; exit 7"))
    p = subprocess.Popen([MONITOR_TEST, *mctx.spawn_args(cid, b, extra=["--berthd-like", "--hang"])],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = json.loads(p.stdout.readline())
    mctx.remember(info)
    p.kill()
    p.wait(timeout=TIMEOUT)
    p.stdout.close()
    p.stderr.close()
    mst = util.proc_starttime(info["pid"])
    assert util.pid_alive(info["pid"], mst)
    with open(f"/proc/{info['pid']}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != p.pid and ppid != os.getpid()
    assert json.loads(mctx.berth("state", cid).stdout)["status"] == "created"
    mctx.start(cid)
    rec = mctx.exit_record(cid)
    assert rec["exit_code"] == 7
    assert [s for *_, s in parse_log(mctx.log_lines(cid))] == ["alive"]
    assert wait_gone(info["pid"], mst)
    mctx.remove(cid)


def test_no_fd_or_signal_mask_leaks(mctx):
    """Spawned from a thread with every signal blocked and a stray
    inheritable socket open, as berthd is: neither reaches the monitor or
    the container, whose process has only 0, 1, 2 and no blocked signal."""
    cid = mctx.new_id()
    b = mctx.bundle(["sleep", "100"])
    blog = mctx.path("berthd.log")
    info = mctx.spawn(cid, b, extra=["--berthd-like", "--berthd-log", blog])
    # libberth's debug lines in the monitor reach neither berthd's log
    # (its fd is closed there) nor the container's stderr.
    assert open(blog).read() == ""
    mon_fds = {os.readlink(f"/proc/{info['pid']}/fd/{fd}") for fd in os.listdir(f"/proc/{info['pid']}/fd")}
    assert not [f for f in mon_fds if f.startswith("socket:")], mon_fds
    mctx.start(cid)
    init = info["init_pid"]
    assert util.wait_for(lambda: "sleep" in open(f"/proc/{init}/cmdline").read())
    assert sorted(os.listdir(f"/proc/{init}/fd"), key=int) == ["0", "1", "2"]
    with open(f"/proc/{init}/status") as f:
        status = f.read()
    assert util.status_field(status, "SigBlk") == "0000000000000000"
    assert util.status_field(status, "SigIgn") == "0000000000000000"
    # The monitor ends with its container only.
    os.kill(info["pid"], signal.SIGTERM)
    time.sleep(0.2)
    assert util.pid_alive(info["pid"])
    mctx.berth("kill", cid, "KILL")
    assert mctx.exit_record(cid)["exit_code"] == 137
    assert mctx.log_lines(cid) == []
    mctx.remove(cid)


def test_reopen_log_after_rename(mctx):
    cid = mctx.new_id()
    fifo = mctx.path(f"{cid}.stdin")
    b = mctx.bundle(util.sh('while read l; do echo "got $l"; done'))
    info = mctx.spawn(cid, b, extra=["--stdin", fifo])
    mctx.start(cid)
    log = mctx.path(f"{cid}.log")
    fd = os.open(fifo, os.O_WRONLY)
    try:
        os.write(fd, b"one\n")
        assert util.wait_for(lambda: "got one" in open(log).read())
        os.rename(log, log + ".1")
        mctx.run("reopen", "--pid", info["pid"], "--start-time", info["start_time"], "--log", log)
        assert os.path.exists(log)
        os.write(fd, b"two\n")
        assert util.wait_for(lambda: "got two" in open(log).read())
    finally:
        os.close(fd)
    assert [s for *_, s in parse_log(mctx.log_lines(cid, f"{cid}.log.1"))] == ["got one"]
    assert [s for *_, s in parse_log(mctx.log_lines(cid))] == ["got two"]
    mctx.berth("kill", cid, "KILL")
    mctx.exit_record(cid)
    assert wait_gone(info["pid"], None)
    # A monitor that is gone: reopen is an error naming it.
    r = mctx.run("reopen", "--pid", info["pid"], "--start-time", info["start_time"], "--log", log, check=False)
    assert r.returncode == 1 and "container is not running" in r.stderr
    mctx.remove(cid)
    os.unlink(fifo)


def test_stdin_fifo_feeds_container(mctx):
    cid = mctx.new_id()
    fifo = mctx.path(f"{cid}.stdin")
    info = mctx.spawn(cid, mctx.bundle(["head", "-n", "2"]), extra=["--stdin", fifo])
    mctx.start(cid)
    # Writers come and go; the container sees no EOF in between.
    for word in (b"hello\n", b"world\n"):
        fd = os.open(fifo, os.O_WRONLY)
        os.write(fd, word)
        os.close(fd)
    rec = mctx.exit_record(cid)
    assert rec["exit_code"] == 0
    assert [s for *_, s in parse_log(mctx.log_lines(cid))] == ["hello", "world"]
    assert wait_gone(info["pid"], None)
    mctx.remove(cid)
    os.unlink(fifo)


def test_stdin_once_closes_stdin_after_the_first_writer(mctx):
    """CRI's stdin_once: no EOF before anyone wrote, EOF (and no fifo) once
    the first writer has gone."""
    cid = mctx.new_id()
    fifo = mctx.path(f"{cid}.stdin")
    info = mctx.spawn(cid, mctx.bundle(util.sh("cat; echo stdin closed")), extra=["--stdin", fifo, "--stdin-once"])
    mctx.start(cid)
    time.sleep(0.5)  # no writer yet: cat must still be waiting, not at EOF
    assert not os.path.exists(mctx.path(f"{cid}.exit"))
    fd = os.open(fifo, os.O_WRONLY)
    os.write(fd, b"hello\n")
    os.close(fd)
    rec = mctx.exit_record(cid)
    assert rec["exit_code"] == 0
    assert [s for *_, s in parse_log(mctx.log_lines(cid))] == ["hello", "stdin closed"]
    # A later writer fails at once instead of blocking on a fifo nobody reads.
    assert not os.path.exists(fifo)
    assert wait_gone(info["pid"], None)
    mctx.remove(cid)


def test_stdin_once_waits_for_every_writer_of_the_session(mctx):
    cid = mctx.new_id()
    fifo = mctx.path(f"{cid}.stdin")
    info = mctx.spawn(cid, mctx.bundle(util.sh("cat; echo stdin closed")), extra=["--stdin", fifo, "--stdin-once"])
    mctx.start(cid)
    log = mctx.path(f"{cid}.log")
    first = os.open(fifo, os.O_WRONLY)
    second = os.open(fifo, os.O_WRONLY)
    os.write(first, b"one\n")
    os.close(first)
    assert util.wait_for(lambda: "one" in open(log).read())
    time.sleep(0.3)
    assert "stdin closed" not in open(log).read() and os.path.exists(fifo)
    os.write(second, b"two\n")
    os.close(second)
    assert mctx.exit_record(cid)["exit_code"] == 0
    assert [s for *_, s in parse_log(mctx.log_lines(cid))] == ["one", "two", "stdin closed"]
    assert wait_gone(info["pid"], None)
    mctx.remove(cid)


def test_tty_mode(mctx):
    def terminal(spec):
        spec["process"]["terminal"] = True
    cid, _, rec = run_to_exit(mctx, util.sh("tty; echo hi >&2; exit 4"), edit=terminal, extra=["--tty"])
    entries = parse_log(mctx.log_lines(cid))
    # One stream: the pty; "\r\n" line ends are cut like "\n".
    assert [(s, t, text) for _, s, t, text in entries] == [
        ("stdout", "F", "/dev/pts/0"), ("stdout", "F", "hi")]
    assert rec["exit_code"] == 4
    # The console socket made for create is gone.
    assert not [n for n in os.listdir(mctx.tmp) if n.startswith(".console-")]
    mctx.remove(cid)


def test_created_container_deleted_before_start(mctx):
    """RemoveContainer of a container never started: the monitor records
    the kill of the waiting init and exits."""
    cid = mctx.new_id()
    info = mctx.spawn(cid, mctx.bundle(["true"]))
    mctx.berth("delete", "--force", cid)
    rec = mctx.exit_record(cid)
    assert rec["exit_code"] == 137 and rec["signal"] == 9
    assert wait_gone(info["pid"], None)


def test_no_log_path_drops_output(mctx):
    cid = mctx.new_id()
    info = mctx.spawn(cid, mctx.bundle(util.sh("echo lost; exit 2")), log=False)
    mctx.start(cid)
    assert mctx.exit_record(cid)["exit_code"] == 2
    assert not os.path.exists(mctx.path(f"{cid}.log"))
    assert wait_gone(info["pid"], None)
    mctx.remove(cid)


def oom_possible():
    return any(os.path.exists(p) for p in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory.max",
                                           "/sys/fs/cgroup/cgroup.controllers"))


@pytest.mark.skipif(not oom_possible(), reason="no memory cgroup")
def test_oom_killed_reason(mctx):
    def limit(spec):
        spec["linux"]["resources"]["memory"] = {"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024}
    # tail keeps a line of 64 MiB (no newline in /dev/zero) in memory.
    cid, _, rec = run_to_exit(mctx, util.sh("head -c 67108864 /dev/zero | tail -n 1 >/dev/null"), edit=limit)
    assert rec["reason"] == "OOMKilled" and rec["oom_killed"] is True, rec
    mctx.remove(cid)


# ---- ExecSync -------------------------------------------------------------


@pytest.fixture
def running(mctx):
    cid = mctx.new_id()
    info = mctx.spawn(cid, mctx.bundle(["sleep", "100"]))
    mctx.start(cid)
    yield cid
    mctx.berth("kill", cid, "KILL", check=False)
    mctx.exit_record(cid)
    wait_gone(info["pid"], None)
    mctx.remove(cid)


def exec_sync(mctx, cid, *argv, timeout=None, max_out=None, check=True):
    args = ["exec", "--root", mctx.root, "--id", cid]
    if timeout is not None:
        args += ["--timeout", timeout]
    if max_out is not None:
        args += ["--max", max_out]
    r = mctx.run(*args, "--", *argv, check=check, timeout=TIMEOUT + 20)
    return json.loads(r.stdout) if r.returncode == 0 else r


def test_exec_sync_output_and_exit_code(mctx, running):
    r = exec_sync(mctx, running, "sh", "-c", "echo hi; echo bad >&2; exit 5")
    assert r == {"exit_code": 5, "timed_out": False, "truncated": False, "stdout": "hi\n", "stderr": "bad\n"}
    # The config's environment and cwd are inherited, as CRI does.
    r = exec_sync(mctx, running, "sh", "-c", 'echo "$PATH"; pwd; hostname')
    assert r["stdout"].splitlines() == [util.default_spec([])["process"]["env"][0][5:], "/", "berth-test"]


def test_exec_sync_timeout_kills(mctx, running):
    start = time.monotonic()
    r = exec_sync(mctx, running, "sh", "-c", "echo before; exec sleep 30", timeout=1)
    took = time.monotonic() - start
    assert r["timed_out"] is True and r["exit_code"] == 137
    assert r["stdout"] == "before\n"
    assert took < 5, took
    # Nothing of the exec stays in the container: only the init.
    pids = json.loads(mctx.berth("ps", "--format", "json", running).stdout)
    assert len(pids) == 1, pids


def test_exec_sync_output_cap(mctx, running):
    r = exec_sync(mctx, running, "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a", max_out=1000)
    assert r["truncated"] is True and r["stdout"] == "a" * 1000 and r["exit_code"] == 0


def test_exec_sync_errors(mctx, running):
    r = exec_sync(mctx, running, "no-such-binary", check=False)
    assert r.returncode == 1 and "no-such-binary" in r.stderr and "not found" in r.stderr
    r = exec_sync(mctx, "no-such-container", "true", check=False)
    assert r.returncode == 1 and "container does not exist" in r.stderr
    assert not [n for n in os.listdir("/tmp") if n.startswith("berth-exec-")]


# ---- failed creates --------------------------------------------------------


def assert_nothing_left(mctx, cid, fifo=None):
    assert os.listdir(mctx.root) == []
    for suffix in (".log", ".exit", ".exit.tmp"):
        assert not os.path.exists(mctx.path(cid + suffix)), suffix
    assert not [n for n in os.listdir(mctx.tmp) if n.startswith(".console-")]
    if fifo:
        assert not os.path.exists(fifo)


@pytest.mark.parametrize("case", ["parse", "mount", "tty"])
def test_failed_create_reports_berth_error(mctx, case):
    """The berth_err text comes back (the same as `berth create` says) and
    nothing is left: no state dir, cgroup, process, log, fifo or socket."""
    cid = mctx.new_id()
    extra = []
    if case == "parse":
        b = mctx.bundle(text=json.dumps(dict(util.default_spec(["true"]),
                                             process={"args": "not-a-list", "cwd": "/"})))
    elif case == "mount":
        def bad_mount(spec):
            spec["mounts"].append({"destination": "/x", "type": "no-such-fs", "source": "none"})
        b = mctx.bundle(["true"], edit=bad_mount)
    else:
        b = mctx.bundle(["true"])  # process.terminal false, but a tty asked for
        extra = ["--tty"]
    fifo = mctx.path(f"{cid}.stdin")
    r = mctx.run(*mctx.spawn_args(cid, b, extra=extra + ["--stdin", fifo]), check=False)
    assert r.returncode == 1, r.stdout
    msg = r.stderr.strip()
    assert msg.startswith("error: ")
    assert_nothing_left(mctx, cid, fifo)
    # The CLI over the same library says the same thing.
    cli = mctx.berth("create", "--bundle", b, *(["--console-socket", "/nonexistent"] if case == "tty" else []),
                     cid, check=False)
    assert cli.returncode != 0
    if case != "tty":  # the CLI's console socket path differs
        assert msg[len("error: "):] in cli.stderr, (msg, cli.stderr)
    else:
        assert "cannot use console socket" in msg
    assert os.listdir(mctx.root) == []


def test_missing_log_dir_is_reported(mctx):
    cid = mctx.new_id()
    b = mctx.bundle(["true"])
    args = ["spawn", "--id", cid, "--bundle", b, "--root", mctx.root, "--exit-file", mctx.path(f"{cid}.exit"),
            "--log", mctx.path("no-such-dir/x.log")]
    r = mctx.run(*args, check=False)
    assert r.returncode == 1 and "no-such-dir/x.log" in r.stderr
    assert_nothing_left(mctx, cid)


def test_bad_exit_file_is_reported(mctx):
    cid = mctx.new_id()
    b = mctx.bundle(["true"])
    args = ["spawn", "--id", cid, "--bundle", b, "--root", mctx.root,
            "--exit-file", mctx.path("no-such-dir/x.exit"), "--log", mctx.path(f"{cid}.log")]
    r = mctx.run(*args, check=False)
    assert r.returncode == 1 and "exit file directory" in r.stderr and "no-such-dir" in r.stderr
    assert_nothing_left(mctx, cid)
    # An exit file already there would say the new container has exited.
    with open(mctx.path(f"{cid}.exit"), "w") as f:
        f.write("{}")
    r = mctx.run(*mctx.spawn_args(cid, b), check=False)
    assert r.returncode == 1 and "exists" in r.stderr
    os.unlink(mctx.path(f"{cid}.exit"))
    assert_nothing_left(mctx, cid)
