import re
"""exec: args, --process, --env, --cwd, --user, --cap, --no-new-privs,
--detach, --pid-file, --tty/--console-socket, exit statuses."""

import json
import os

from util import ConsoleSocket, cap_mask, pid_alive, read_pty, status_field, wait_for

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def test_exec_args_and_output(ctx):
    cid = ctx.start_running()
    r = ctx.ok("exec", cid, "sh", "-c", "echo out; echo err >&2")
    assert r.out == "out\n" and r.err == "err\n", r
    ctx.destroy(cid)


def test_exec_exit_status(ctx):
    cid = ctx.start_running()
    for code in (0, 1, 5, 77):
        r = ctx.cmd("exec", cid, "sh", "-c", f"exit {code}")
        assert r.rc == code, r
    ctx.destroy(cid)


def test_exec_joins_container_namespaces(ctx):
    cid = ctx.start_running()
    init = ctx.state(cid)["pid"]
    r = ctx.ok("exec", cid, "sh", "-c", "for n in pid mnt net uts ipc; do "
               "readlink /proc/self/ns/$n; done; hostname; cat /proc/1/cmdline")
    lines = r.out.split("\n")
    for i, ns in enumerate(("pid", "mnt", "net", "uts", "ipc")):
        assert lines[i] == os.readlink(f"/proc/{init}/ns/{ns}"), (ns, r)
    assert lines[5] == "berth-test"
    assert lines[6] == "sleep\x0030\x00"
    ctx.destroy(cid)


def test_exec_stdin(ctx):
    cid = ctx.start_running()
    r = ctx.cmd("exec", cid, "cat", input=b"piped in\n")
    assert r.rc == 0 and r.out == "piped in\n", r
    ctx.destroy(cid)


def test_exec_not_found(ctx):
    cid = ctx.start_running()
    r = ctx.cmd("exec", cid, "nonexistent-cmd")
    assert r.rc == 255, r
    assert 'exec: "nonexistent-cmd": executable file not found in $PATH' in r.err.replace(
        '\\"', '"'), r
    ctx.destroy(cid)


def test_exec_env(ctx):
    cid = ctx.start_running()
    r = ctx.ok("exec", "--env", "FOO=bar", "--env", "PATH=/bin", cid, "env")
    env = r.out.splitlines()
    assert "FOO=bar" in env and "PATH=/bin" in env, r
    assert "TERM=xterm" in env
    assert "HOME=/root" in env  # set from the user's passwd entry
    assert sum(1 for e in env if e.startswith("PATH=")) == 1, r
    assert "A=1" in ctx.ok("exec", "-e", "A=1", cid, "env").out.splitlines()
    ctx.destroy(cid)


def test_exec_cwd(ctx):
    cid = ctx.start_running()
    assert ctx.ok("exec", "--cwd", "/tmp", cid, "pwd").out == "/tmp\n"
    r = ctx.cmd("exec", "--cwd", "/nonexistent", cid, "pwd")
    assert r.rc == 255 and "/nonexistent" in r.err and "no such file or directory" in r.err, r
    ctx.destroy(cid)


def test_exec_user(ctx):
    cid = ctx.start_running()
    r = ctx.ok("exec", "--user", "1000:1000", cid, "sh", "-c", "id; echo $HOME")
    assert r.out == "uid=1000(user) gid=1000(user)\n/home/user\n", r
    r = ctx.ok("exec", "-u", "65534", cid, "id")
    assert r.out == "uid=65534(nobody) gid=0(root)\n", r
    ctx.destroy(cid)


def test_exec_cap(ctx):
    cid = ctx.start_running()
    status = ctx.ok("exec", cid, "cat", "/proc/self/status").out
    base = cap_mask(DEFAULT_CAPS)
    assert int(status_field(status, "CapEff"), 16) == base
    status = ctx.ok("exec", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_NET_RAW", cid,
                    "cat", "/proc/self/status").out
    want = base | cap_mask(["CAP_SYS_ADMIN", "CAP_NET_RAW"])
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status_field(status, field), 16) == want, (field, status)
    ctx.destroy(cid)


def test_exec_no_new_privs(ctx):
    cid = ctx.start_running(edit=lambda s: s["process"].update(noNewPrivileges=False))
    status = ctx.ok("exec", cid, "cat", "/proc/self/status").out
    assert status_field(status, "NoNewPrivs") == "0"
    status = ctx.ok("exec", "--no-new-privs", cid, "cat", "/proc/self/status").out
    assert status_field(status, "NoNewPrivs") == "1"
    ctx.destroy(cid)


def test_exec_process_file(ctx):
    cid = ctx.start_running()
    proc = {
        "terminal": False,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [65534]},
        "args": ["sh", "-c", "id; pwd; echo $GREETING; exit 4"],
        "env": ["PATH=/bin", "GREETING=hi"],
        "cwd": "/tmp",
    }
    path = os.path.join(ctx.tmp, "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = ctx.cmd("exec", "--process", path, cid)
    assert r.rc == 4, r
    assert r.out == "uid=1000(user) gid=1000(user) groups=65534(nogroup)\n/tmp\nhi\n", r
    r = ctx.cmd("exec", "-p", path, cid)
    assert r.rc == 4, r
    ctx.destroy(cid)


def test_exec_detach_pid_file(ctx):
    cid = ctx.start_running()
    pidfile = os.path.join(ctx.tmp, "exec.pid")
    r = ctx.ok("exec", "--detach", "--pid-file", pidfile, cid, "sleep", "30")
    assert r.out == ""
    with open(pidfile) as f:
        pid = int(f.read())
    ctx.note_pid(pid)
    assert pid_alive(pid)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read() == b"sleep\x0030\x00"
    pids = json.loads(ctx.ok("ps", "--format", "json", cid).out)
    assert pid in pids and ctx.state(cid)["pid"] in pids
    ctx.destroy(cid)
    assert wait_for(lambda: not pid_alive(pid))


def test_exec_in_stopped_container_fails(ctx):
    cid = ctx.start_running(["true"])
    ctx.wait_status(cid, "stopped")
    r = ctx.cmd("exec", cid, "true")
    assert r.rc == 255, r
    assert "cannot exec in a stopped container" in r.err, r
    ctx.ok("delete", cid)


def test_exec_missing_container(ctx):
    r = ctx.cmd("exec", "t-nope", "true")
    assert r.rc == 255 and "container does not exist" in r.err, r


def test_exec_tty_console_socket(ctx):
    cid = ctx.start_running()
    sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
    try:
        ctx.ok("exec", "--tty", "--detach", "--console-socket", sock.path, cid,
               "sh", "-c", "tty; stty size; echo done")
        master = sock.master()
        out = read_pty(master, until="done")
        assert "/dev/pts/" in out, out
        assert "done" in out, out
    finally:
        sock.close()
    ctx.destroy(cid)


def test_exec_console_socket_needs_detach(ctx):
    cid = ctx.start_running()
    r = ctx.cmd("exec", "--console-socket", os.path.join(ctx.tmp, "x.sock"), cid, "true")
    assert r.rc == 255, r
    assert re.search(r"cannot use console socket if (runc|berth) will not detach or allocate tty", r.err), r
    ctx.destroy(cid)


def test_exec_preserve_fds(ctx):
    cid = ctx.start_running()
    path = os.path.join(ctx.tmp, "passed")
    with open(path, "w") as f:
        f.write("exec fd 3\n")
    r = ctx.cmd("exec", "--preserve-fds", "1", cid, "sh", "-c", "cat <&3", fds={3: path})
    assert r.rc == 0 and r.out == "exec fd 3\n", r
    r = ctx.cmd("exec", cid, "ls", "/proc/self/fd", fds={3: path})
    assert sorted(r.out.split()) == ["0", "1", "2", "3"], r  # 3: ls's own dir fd
    r = ctx.cmd("exec", cid, "sh", "-c", "cat <&3", fds={3: path})
    assert r.rc != 0, r
    ctx.destroy(cid)
