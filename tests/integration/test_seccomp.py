"""linux.seccomp seen from inside the container: denied syscalls fail with the
profile's errno, argument conditions, kill actions, exec'd processes inherit
the filter, no_new_privs stays as process.noNewPrivileges says, and
SCMP_ACT_NOTIFY hands a listener fd to the seccomp agent at listenerPath.

Profiles use defaultAction SCMP_ACT_ALLOW: a deny-by-default list long enough
for sh is a profile of its own, not a test."""

import errno
import fcntl
import json
import os
import select
import socket
import struct
import threading

import pytest

from util import berth_only, runc_lacks, sh

# busybox (static glibc) may use either the old or the *at syscall.
MKDIR = ["mkdir", "mkdirat"]


def profile(*syscalls, default="SCMP_ACT_ALLOW", **extra):
    def edit(spec):
        spec["linux"]["seccomp"] = dict({"defaultAction": default,
                                         "syscalls": list(syscalls)}, **extra)
    return edit


def rule(names, action, **extra):
    return dict({"names": list(names), "action": action}, **extra)


def both(*edits):
    def edit(spec):
        for e in edits:
            e(spec)
    return edit


def test_errno_denies_mkdir(ctx):
    r = ctx.run(sh("mkdir /tmp/x; echo rc=$?; test ! -e /tmp/x && echo absent"),
                edit=profile(rule(MKDIR, "SCMP_ACT_ERRNO")))
    assert r.rc == 0, r
    assert "Operation not permitted" in r.err, r
    assert r.out == "rc=1\nabsent\n", r


def test_errno_ret(ctx):
    r = ctx.run(sh("mkdir /tmp/x"),
                edit=profile(rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=errno.EROFS)))
    assert r.rc == 1, r
    assert "Read-only file system" in r.err, r


def test_other_syscalls_still_allowed(ctx):
    out = ctx.sh("touch /tmp/f && ls /tmp/f && rm /tmp/f && echo ok",
                 edit=profile(rule(MKDIR, "SCMP_ACT_ERRNO")))
    assert out == "/tmp/f\nok\n"


def test_arg_condition_masked_eq(ctx):
    """chmod refused only when the mode makes the file world-writable."""
    world = {"value": 0o002, "valueTwo": 0o002, "op": "SCMP_CMP_MASKED_EQ"}
    r = ctx.run(sh("touch /tmp/f; chmod 755 /tmp/f && echo ok1;"
                   " chmod 777 /tmp/f || echo refused; stat -c %a /tmp/f"),
                edit=profile(rule(["chmod"], "SCMP_ACT_ERRNO", args=[dict(world, index=1)]),
                             rule(["fchmodat"], "SCMP_ACT_ERRNO", args=[dict(world, index=2)])))
    assert r.rc == 0, r
    assert r.out == "ok1\nrefused\n755\n", r
    assert "Operation not permitted" in r.err, r


def test_same_arg_twice_is_either(ctx):
    """Two conditions on one argument: runc adds one rule per condition, so
    either one matching is enough."""
    def conds(i):
        return [{"index": i, "value": 0o700, "op": "SCMP_CMP_EQ"},
                {"index": i, "value": 0o777, "op": "SCMP_CMP_EQ"}]
    r = ctx.run(sh("touch /tmp/f; chmod 700 /tmp/f || echo r700; chmod 777 /tmp/f || echo r777;"
                   " chmod 755 /tmp/f && echo ok755"),
                edit=profile(rule(["chmod"], "SCMP_ACT_ERRNO", args=conds(1)),
                             rule(["fchmodat"], "SCMP_ACT_ERRNO", args=conds(2))))
    assert r.rc == 0, r
    assert r.out == "r700\nr777\nok755\n", r


def test_kill_process(ctx):
    r = ctx.run(["mkdir", "/tmp/x"], edit=profile(rule(MKDIR, "SCMP_ACT_KILL_PROCESS")))
    assert r.rc == 128 + 31, r  # SIGSYS


def test_unknown_syscall_names_are_skipped(ctx):
    out = ctx.sh("echo ok", edit=profile(rule(["no_such_syscall_at_all", "mkdir"],
                                              "SCMP_ACT_ERRNO")))
    assert out == "ok\n"


def test_architectures(ctx):
    """What engines send (containerd's default profile on x86_64)."""
    r = ctx.run(sh("mkdir /tmp/x"), edit=profile(
        rule(MKDIR, "SCMP_ACT_ERRNO"),
        architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]))
    assert r.rc == 1 and "Operation not permitted" in r.err, r


@runc_lacks("linux.seccomp.flags")
def test_flags(ctx):
    r = ctx.run(sh("mkdir /tmp/x"), edit=profile(
        rule(MKDIR, "SCMP_ACT_ERRNO"),
        flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
               "SECCOMP_FILTER_FLAG_LOG"]))
    assert r.rc == 1 and "Operation not permitted" in r.err, r


def status_lines(text):
    return {k: v.strip() for k, v in
            (line.split(":", 1) for line in text.splitlines() if ":" in line)}


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privs_as_configured(ctx, nnp):
    """The filter is in either way; libseccomp must not set no_new_privs by
    itself (without it the runtime loads the filter before dropping
    CAP_SYS_ADMIN)."""
    def set_nnp(spec):
        spec["process"]["noNewPrivileges"] = nnp
    out = ctx.sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/x || true",
                 edit=both(set_nnp, profile(rule(MKDIR, "SCMP_ACT_ERRNO"))))
    st = status_lines(out)
    assert st["NoNewPrivs"] == ("1" if nnp else "0"), out
    assert st["Seccomp"] == "2", out


def test_exec_inherits_filter(ctx):
    cid = ctx.start_running(edit=profile(rule(MKDIR, "SCMP_ACT_ERRNO")))
    r = ctx.cmd("exec", cid, "mkdir", "/tmp/y")
    assert r.rc == 1, r
    assert "Operation not permitted" in r.err, r
    out = ctx.ok("exec", cid, "grep", "^Seccomp:", "/proc/self/status").out
    assert out.split() == ["Seccomp:", "2"]
    ctx.destroy(cid)


def test_without_seccomp_nothing_filtered(ctx):
    out = ctx.sh("grep ^Seccomp: /proc/self/status")
    assert out.split() == ["Seccomp:", "0"]


# ---------------------------------------------------------------------------
# refusals: the container never starts, nothing is left behind

BAD = {
    "unknown_action": (profile(rule(MKDIR, "SCMP_ACT_FOO")),
                       'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO"'),
    "unknown_default": (profile(default="SCMP_ACT_NOPE"),
                        'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
    "unknown_arch": (profile(architectures=["SCMP_ARCH_VAX"]),
                     'linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_VAX"'),
    "unknown_op": (profile(rule(["chmod"], "SCMP_ACT_ERRNO",
                                args=[{"index": 1, "value": 1, "op": "SCMP_CMP_FOO"}])),
                   'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO"'),
    "notify_write": (profile(rule(["write"], "SCMP_ACT_NOTIFY"), listenerPath="/nonexistent"),
                     "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used"
                     " for the write syscall"),
    "notify_default": (profile(default="SCMP_ACT_NOTIFY", listenerPath="/nonexistent"),
                       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as"
                       " default action"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_profile_refused(ctx, name):
    edit, _ = BAD[name]
    r = ctx.run(["true"], edit=edit)
    assert r.rc != 0 and r.err.strip(), r
    assert os.listdir(ctx.root) == []


@berth_only
@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_profile_message_names_path(ctx, name):
    edit, msg = BAD[name]
    r = ctx.run(["true"], edit=edit)
    assert r.rc != 0 and msg in r.err.replace('\\"', '"'), r  # logrus-style quoting


# ---------------------------------------------------------------------------
# SCMP_ACT_NOTIFY and the seccomp agent

# <linux/seccomp.h>: struct seccomp_notif is 80 bytes, seccomp_notif_resp 24.
NOTIF_FMT = "=QII iIQ6Q"
RESP_FMT = "=QqiI"
IOC_RECV = 0xC0000000 | (struct.calcsize(NOTIF_FMT) << 16) | (ord("!") << 8) | 0
IOC_SEND = 0xC0000000 | (struct.calcsize(RESP_FMT) << 16) | (ord("!") << 8) | 1
SYS_MKDIR = {83, 258}  # x86_64 mkdir, mkdirat


class Agent:
    """A seccomp agent: takes one container process state with its fd on
    listenerPath, then answers every notified syscall with EROFS."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.sock.listen(1)
        self.state, self.nfds, self.answered, self.error = None, 0, [], None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.sock.settimeout(15)
            conn, _ = self.sock.accept()
            with conn:
                data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
                # The state may come in several writes.  Read until it parses,
                # not until EOF: runc 1.1 leaves the connection open.
                while not self._parses(data):
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
            self.nfds = len(fds)
            self.state = json.loads(data)
            for extra in fds[1:]:
                os.close(extra)
            self._answer(fds[0])
        except Exception as e:  # reported by join()
            self.error = e

    @staticmethod
    def _parses(data):
        try:
            json.loads(data)
        except ValueError:
            return False
        return True

    def _answer(self, fd):
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            while True:
                ev = p.poll(10000)
                if not ev or ev[0][1] & (select.POLLHUP | select.POLLERR):
                    return  # every filtered task is gone
                buf = bytearray(struct.calcsize(NOTIF_FMT))
                try:
                    fcntl.ioctl(fd, IOC_RECV, buf)
                except OSError as e:
                    if e.errno == errno.ENOENT:
                        continue  # the task died while we looked
                    raise
                nid, _pid, _fl, nr, *_rest = struct.unpack(NOTIF_FMT, buf)
                self.answered.append(nr)
                resp = bytearray(struct.pack(RESP_FMT, nid, 0, -errno.EROFS, 0))
                try:
                    fcntl.ioctl(fd, IOC_SEND, resp)
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        raise
        finally:
            os.close(fd)

    def join(self):
        self.thread.join(20)
        assert not self.thread.is_alive(), "the seccomp agent never finished"
        assert self.error is None, f"seccomp agent: {self.error!r}"

    def close(self):
        self.sock.close()


def test_notify_reaches_agent(ctx):
    path = os.path.join(ctx.tmp, "agent.sock")
    agent = Agent(path)
    try:
        b = ctx.bundle(sh("mkdir /tmp/x; echo rc=$?"),
                       edit=profile(rule(MKDIR, "SCMP_ACT_NOTIFY"), listenerPath=path,
                                    listenerMetadata="MKNOD=/dev/null"))
        cid = ctx.new_id()
        r = ctx.cmd("run", "--bundle", b, cid)
        agent.join()
    finally:
        agent.close()
    assert r.rc == 0, r
    assert "Read-only file system" in r.err, r  # the agent's answer
    assert r.out == "rc=1\n", r
    assert agent.answered and set(agent.answered) <= SYS_MKDIR, agent.answered
    st = agent.state
    assert agent.nfds == 1
    assert st["fds"] == ["seccompFd"], st
    assert st["metadata"] == "MKNOD=/dev/null", st
    assert isinstance(st["pid"], int) and st["pid"] > 0, st
    assert st["ociVersion"], st
    assert st["state"]["id"] == cid, st
    assert st["state"]["bundle"] == b, st
    assert st["state"]["status"] == "creating", st


def test_notify_without_agent_fails(ctx):
    """listenerPath names no socket: create fails, nothing is left."""
    r = ctx.run(["true"], edit=profile(rule(MKDIR, "SCMP_ACT_NOTIFY"),
                                       listenerPath=os.path.join(ctx.tmp, "nobody.sock")))
    assert r.rc != 0 and r.err.strip(), r
    assert os.listdir(ctx.root) == []



def test_filter_denying_getcwd_still_starts_the_container(ctx):
    # Regression: berth checked the cwd with getcwd() after loading the
    # container's filter, so a profile that denies getcwd broke every start
    # (runtime-tools linux_seccomp).  The check now runs before the filter.
    r = ctx.run(sh("echo started"), edit=profile(rule(["getcwd"], "SCMP_ACT_ERRNO")))
    assert r.rc == 0 and r.out == "started\n", r
