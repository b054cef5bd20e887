"""--console-socket: the pty master arrives over SCM_RIGHTS; without a
terminal the caller's stdio is passed through."""

import os
import re
import subprocess

from util import BERTH, TIMEOUT, ConsoleSocket, read_pty, sh


def terminal(spec):
    spec["process"]["terminal"] = True


def test_create_terminal_console_socket(ctx):
    b = ctx.bundle(sh("tty; stty size; read line; echo got:$line; exit 0"), edit=terminal)
    cid = ctx.new_id()
    sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
    try:
        ctx.ok("create", "--console-socket", sock.path, "--bundle", b, cid)
        master = sock.master()
        ctx.ok("start", cid)
        out = read_pty(master, until="/dev/pts/")
        assert "/dev/pts/0" in out, out
        os.write(master, b"hello\n")
        out += read_pty(master, until="got:hello")
        assert "got:hello" in out, out
        ctx.wait_status(cid, "stopped")
    finally:
        sock.close()
    ctx.ok("delete", cid)


def test_terminal_stdio_are_the_pty(ctx):
    b = ctx.bundle(sh("for f in 0 1 2; do readlink /proc/self/fd/$f; done; "
                      "ls -l /dev/console; echo end"), edit=terminal)
    cid = ctx.new_id()
    sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
    try:
        ctx.ok("create", "--console-socket", sock.path, "--bundle", b, cid)
        master = sock.master()
        ctx.ok("start", cid)
        out = read_pty(master, until="end").replace("\r", "")
        lines = out.split("\n")
        assert lines[:3] == ["/dev/pts/0"] * 3, out
        # /dev/console is bind-mounted from the pty
        assert re.search(r"^c.* 136,\s+0 .*/dev/console$", lines[3]), out
        ctx.wait_status(cid, "stopped")
    finally:
        sock.close()
    ctx.ok("delete", cid)


def test_run_detach_terminal(ctx):
    b = ctx.bundle(sh("echo detached-tty; sleep 30"), edit=terminal)
    cid = ctx.new_id()
    sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
    try:
        ctx.ok("run", "-d", "--console-socket", sock.path, "-b", b, cid)
        assert "detached-tty" in read_pty(sock.master(), until="detached-tty")
    finally:
        sock.close()
    ctx.destroy(cid)


def test_terminal_without_console_socket_fails(ctx):
    b = ctx.bundle(["true"], edit=terminal)
    cid = ctx.new_id()
    r = ctx.fail("create", "--bundle", b, cid)
    assert r.rc == 1
    # runc names itself in this message; berth names itself.
    assert re.search(r"cannot allocate tty if (runc|berth) will detach without setting console socket", r.err), r
    assert os.listdir(ctx.root) == []


def test_console_socket_missing(ctx):
    b = ctx.bundle(["true"], edit=terminal)
    cid = ctx.new_id()
    missing = os.path.join(ctx.tmp, "missing.sock")
    r = ctx.fail("create", "--console-socket", missing, "--bundle", b, cid)
    assert r.rc == 1 and missing in r.err, r
    assert os.listdir(ctx.root) == []


def test_create_stdio_pass_through(ctx):
    """Without a terminal, the init keeps the stdio create was given."""
    b = ctx.bundle(sh("echo out-line; echo err-line >&2; for f in 0 1 2; do "
                      "readlink /proc/self/fd/$f; done"))
    cid = ctx.new_id()
    out_path, err_path = os.path.join(ctx.tmp, "out"), os.path.join(ctx.tmp, "err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.run(ctx_argv(ctx, "create", "--bundle", b, cid), stdin=subprocess.DEVNULL,
                           stdout=out, stderr=err, timeout=TIMEOUT)
    assert p.returncode == 0
    ctx.ok("start", cid)
    ctx.wait_status(cid, "stopped")
    with open(out_path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "out-line"
    assert lines[1] == "/dev/null"  # stdin
    print(lines)
    assert lines[2] == out_path, lines
    with open(err_path) as f:
        assert f.read() == "err-line\n"
    ctx.ok("delete", cid)


def ctx_argv(ctx, *args):
    return [BERTH, "--root", ctx.root] + list(args)
