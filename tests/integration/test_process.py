"""The container process: env, cwd, user, umask, rlimits, oomScoreAdj,
noNewPrivileges and the five capability sets, seen from inside."""

import os
import re

from util import cap_mask, sh, status_field

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def proc(**fields):
    def edit(spec):
        spec["process"].update(fields)
    return edit


def test_args_exec_directly(ctx):
    r = ctx.run(["/bin/echo", "a b", "c"])
    assert r.rc == 0 and r.out == "a b c\n", r


def test_args_found_on_path(ctx):
    r = ctx.run(["echo", "via-path"], edit=proc(env=["PATH=/bin"]))
    assert r.rc == 0 and r.out == "via-path\n", r


def test_executable_not_found(ctx):
    r = ctx.run(["no-such-binary"])
    assert r.rc == 1, r
    assert 'exec: "no-such-binary": executable file not found in $PATH' in \
        r.err.replace('\\"', '"'), r
    r = ctx.run(["/bin/no-such-binary"])
    assert r.rc == 1, r
    assert "stat /bin/no-such-binary: no such file or directory" in r.err, r
    assert os.listdir(ctx.root) == []


def test_env(ctx):
    out = ctx.sh("env", edit=proc(env=["PATH=/bin:/usr/bin", "A=1", "B=two words"]))
    env = out.splitlines()
    assert "A=1" in env and "B=two words" in env and "PATH=/bin:/usr/bin" in env
    assert "HOME=/root" in env  # filled in from /etc/passwd when unset
    # nothing leaks from the runtime's own environment
    assert not any(e.startswith("PYTEST") for e in env), env


def test_cwd(ctx):
    assert ctx.sh("pwd", edit=proc(cwd="/tmp")) == "/tmp\n"
    # a missing cwd is created (runc makes it)
    assert ctx.sh("pwd", edit=proc(cwd="/new/dir")) == "/new/dir\n"


def test_user_uid_gid(ctx):
    out = ctx.sh("id; echo $HOME", edit=proc(user={"uid": 1000, "gid": 1000}))
    assert out == "uid=1000(user) gid=1000(user)\n/home/user\n"
    out = ctx.sh("id", edit=proc(user={"uid": 65534, "gid": 65534}))
    assert out == "uid=65534(nobody) gid=65534(nogroup)\n"


def test_user_additional_gids(ctx):
    out = ctx.sh("id; grep Groups /proc/self/status",
                 edit=proc(user={"uid": 1000, "gid": 1000, "additionalGids": [65534, 5]}))
    lines = out.splitlines()
    assert lines[0].startswith("uid=1000(user) gid=1000(user) groups="), out
    assert sorted(lines[1].split()[1:]) == ["5", "65534"], out


def test_user_umask(ctx):
    out = ctx.sh("umask; touch /tmp/f; stat -c %a /tmp/f",
                 edit=proc(user={"uid": 0, "gid": 0, "umask": 0o077}))
    assert out == "0077\n600\n"
    out = ctx.sh("umask", edit=proc(user={"uid": 0, "gid": 0, "umask": 0o002}))
    assert out == "0002\n"


def test_default_umask(ctx):
    assert ctx.sh("umask") == "0022\n"


def test_rlimits(ctx):
    # only lower: raising a hard limit needs CAP_SYS_RESOURCE, which the host lacks
    rl = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
          {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
          {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    out = ctx.sh("cat /proc/self/limits", edit=proc(rlimits=rl))
    rows = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"^(.+?)\s{2,}(\S+)\s+(\S+)", line)
        rows[m.group(1).strip()] = (m.group(2), m.group(3))
    assert rows["Max open files"] == ("100", "200"), rows
    assert rows["Max processes"] == ("500", "600"), rows
    assert rows["Max core file size"] == ("0", "0"), rows
    assert ctx.sh("ulimit -n", edit=proc(rlimits=rl)) == "100\n"


def test_rlimit_raise_above_hard_fails(ctx):
    hard = int(open("/proc/self/limits").read().split("Max open files")[1].split()[1])
    rl = [{"type": "RLIMIT_NOFILE", "soft": hard + 1000, "hard": hard + 1000}]
    r = ctx.run(["true"], edit=proc(rlimits=rl))
    assert r.rc != 0 and "operation not permitted" in r.err.lower(), r
    assert os.listdir(ctx.root) == []


def test_oom_score_adj(ctx):
    host = int(open("/proc/self/oom_score_adj").read())
    value = min(host + 500, 1000)
    out = ctx.sh("cat /proc/self/oom_score_adj", edit=proc(oomScoreAdj=value))
    assert out == f"{value}\n"


def test_no_new_privileges(ctx):
    out = ctx.sh("grep NoNewPrivs /proc/self/status", edit=proc(noNewPrivileges=True))
    assert out.split() == ["NoNewPrivs:", "1"]
    out = ctx.sh("grep NoNewPrivs /proc/self/status", edit=proc(noNewPrivileges=False))
    assert out.split() == ["NoNewPrivs:", "0"]


def caps_of(ctx, caps, user=None):
    def edit(spec):
        spec["process"]["capabilities"] = caps
        if user:
            spec["process"]["user"] = user
    status = ctx.sh("cat /proc/self/status", edit=edit)
    return {f: int(status_field(status, f), 16)
            for f in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def test_default_capabilities(ctx):
    got = caps_of(ctx, {s: list(DEFAULT_CAPS) for s in
                        ("bounding", "effective", "permitted", "ambient")})
    base = cap_mask(DEFAULT_CAPS)
    assert got["CapBnd"] == base and got["CapEff"] == base and got["CapPrm"] == base
    # ambient needs the caps in the inheritable set too, which this spec leaves empty
    assert got["CapInh"] == 0 and got["CapAmb"] == 0


def test_all_five_capability_sets(ctx):
    bnd = DEFAULT_CAPS + ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    caps = {"bounding": bnd,
            "permitted": ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_KILL"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_NET_ADMIN", "CAP_KILL"],
            "ambient": ["CAP_NET_ADMIN"]}
    got = caps_of(ctx, caps)
    assert got["CapBnd"] == cap_mask(bnd), got
    assert got["CapInh"] == cap_mask(caps["inheritable"]), got
    assert got["CapAmb"] == cap_mask(["CAP_NET_ADMIN"]), got
    # uid 0 under noNewPrivileges (the default spec): execve gains nothing beyond the
    # permitted set, and root's effective set becomes the whole permitted set
    assert got["CapPrm"] == cap_mask(caps["permitted"]), got
    assert got["CapEff"] == cap_mask(caps["permitted"]), got


def test_capabilities_non_root_with_ambient(ctx):
    caps = {s: ["CAP_NET_BIND_SERVICE"] for s in
            ("bounding", "permitted", "effective", "inheritable", "ambient")}
    got = caps_of(ctx, caps, user={"uid": 1000, "gid": 1000})
    for f in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert got[f] == cap_mask(["CAP_NET_BIND_SERVICE"]), (f, got)


def test_capabilities_dropped_for_non_root(ctx):
    got = caps_of(ctx, {s: list(DEFAULT_CAPS) for s in ("bounding", "effective", "permitted")},
                  user={"uid": 1000, "gid": 1000})
    assert got["CapPrm"] == 0 and got["CapEff"] == 0, got
    assert got["CapBnd"] == cap_mask(DEFAULT_CAPS), got


def test_capability_effect(ctx):
    """Without CAP_CHOWN root can't chown; with it, it can."""
    def edit(with_chown):
        def e(spec):
            caps = DEFAULT_CAPS + (["CAP_CHOWN"] if with_chown else [])
            spec["process"]["capabilities"] = {s: caps for s in
                                               ("bounding", "effective", "permitted")}
        return e
    r = ctx.run(sh("touch /tmp/f && chown 1000 /tmp/f"), edit=edit(False))
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    r = ctx.run(sh("touch /tmp/f && chown 1000 /tmp/f && stat -c %u /tmp/f"), edit=edit(True))
    assert r.rc == 0 and r.out == "1000\n", r


def test_no_leaked_fds(ctx):
    """Only stdio reaches the process (CVE-2016-9962 / CVE-2024-21626 class)."""
    # pid 1 is the container's sh itself; ls runs as its child
    out = ctx.sh("ls /proc/1/fd; true")
    assert sorted(out.split()) == ["0", "1", "2"], out
