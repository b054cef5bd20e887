"""The monitor's attach socket (monitor.h, monitor_attach.c), which berthd's
Attach reads: framed live output, pty resizes, EOF once the exit is on
record, and a client that stops reading dropped without stalling the
container."""

import os
import socket
import stat
import struct
import time

from conftest import TIMEOUT, util, wait_gone


def connect(path, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.02)


def read_frames(s, until=None, timeout=TIMEOUT, partial_ok=False):
    """[(stream, bytes)] up to EOF (or until `until` is in the output); a
    client the monitor dropped may see a frame cut short (partial_ok)."""
    s.settimeout(timeout)
    buf, frames = b"", []
    while True:
        while len(buf) >= 5:
            n = struct.unpack(">I", buf[1:5])[0]
            if len(buf) < 5 + n:
                break
            frames.append((buf[0], buf[5:5 + n]))
            buf = buf[5 + n:]
        if until is not None and until in b"".join(d for _, d in frames):
            return frames
        chunk = s.recv(65536)
        if not chunk:
            assert partial_ok or buf == b"", "a partial frame before EOF"
            return frames
        buf += chunk


def joined(frames, stream):
    return b"".join(d for s, d in frames if s == stream)


def test_attach_output_framed_then_eof_after_exit(mctx):
    cid = mctx.new_id()
    sock = mctx.path(f"{cid}.attach")
    info = mctx.spawn(cid, mctx.bundle(util.sh("read x < /dev/null; sleep 0.5; echo out; echo err >&2; exit 2")),
                      extra=["--attach", sock])
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    s = connect(sock)
    mctx.start(cid)
    frames = read_frames(s)
    s.close()
    assert joined(frames, 1) == b"out\n" and joined(frames, 2) == b"err\n"
    # EOF came after the exit file was written, and the socket is gone.
    assert os.path.exists(mctx.path(f"{cid}.exit"))
    assert mctx.exit_record(cid)["exit_code"] == 2
    assert wait_gone(info["pid"], None)
    assert not os.path.exists(sock)
    # The log has the same output.
    assert "out" in "\n".join(mctx.log_lines(cid))
    mctx.remove(cid)


def test_attach_tty_resize(mctx):
    def terminal(spec):
        spec["process"]["terminal"] = True
    cid = mctx.new_id()
    sock = mctx.path(f"{cid}.attach")
    mctx.spawn(cid, mctx.bundle(util.sh("sleep 1; stty size"), edit=terminal), extra=["--tty", "--attach", sock])
    s = connect(sock)
    s.sendall(b"r" + struct.pack(">HH", 33, 91))
    mctx.start(cid)
    frames = read_frames(s)
    s.close()
    assert b"33 91" in joined(frames, 1), frames
    assert mctx.exit_record(cid)["exit_code"] == 0
    mctx.remove(cid)


def test_attach_slow_client_dropped_container_goes_on(mctx):
    """A client that reads nothing is dropped once 1 MiB is queued for it;
    the container is never held up and the log has everything."""
    cid = mctx.new_id()
    sock = mctx.path(f"{cid}.attach")
    # 40 bursts of 71 KB, 50 ms apart: a reader that keeps up never has
    # 1 MiB queued, one that reads nothing falls 2.8 MB behind.
    mctx.spawn(cid, mctx.bundle(util.sh("sleep 0.5; j=0; while [ $j -lt 40 ]; do i=0; while [ $i -lt 1000 ]; do "
                                        "echo 0123456789012345678901234567890123456789012345678901234567890123456789;"
                                        " i=$((i+1)); done; j=$((j+1)); sleep 0.05; done; echo end")),
               extra=["--attach", sock])
    slow = connect(sock)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fast = connect(sock)
    mctx.start(cid)
    frames = read_frames(fast)  # ~2.8 MB, read as it comes
    assert joined(frames, 1).endswith(b"end\n") and len(joined(frames, 1)) == 40000 * 71 + 4
    assert mctx.exit_record(cid, timeout=60)["exit_code"] == 0
    # The slow one got a prefix of frames, then its connection was closed.
    got = read_frames(slow, partial_ok=True)
    assert len(joined(got, 1)) < 40000 * 71
    assert [l for l in mctx.log_lines(cid) if l.endswith(" end")]
    slow.close()
    fast.close()
    mctx.remove(cid)


def test_no_attach_socket_unless_asked(mctx):
    cid = mctx.new_id()
    mctx.spawn(cid, mctx.bundle(util.sh("exit 0")))
    mctx.start(cid)
    mctx.exit_record(cid)
    assert not [n for n in os.listdir(mctx.tmp) if n.endswith(".attach")]
    mctx.remove(cid)
