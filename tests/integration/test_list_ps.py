"""list (table, --format json, -q) and ps (table, --format json)."""

import json
import os
import re

from util import sh, wait_for

LIST_HEADER = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def tabwriter(rows, minwidth=12, padding=3):
    """Go's text/tabwriter as runc's list uses it: (12, 1, 3, ' ', 0).
    Every cell but the last of a line is padded to its column's width."""
    ncols = len(rows[0])
    widths = [max(minwidth, max(len(r[i]) for r in rows) + padding) for i in range(ncols - 1)]
    lines = []
    for r in rows:
        lines.append("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1])
    return "\n".join(lines) + "\n"


def test_list_empty(ctx):
    r = ctx.ok("list")
    assert r.out == tabwriter([LIST_HEADER]), repr(r.out)
    assert r.out == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"


def test_list_table_exact(ctx):
    a, _ = ctx.create()
    b = ctx.start_running()
    c = ctx.start_running(["true"])
    ctx.wait_status(c, "stopped")
    rows = [LIST_HEADER]
    for cid in sorted([a, b, c]):
        st = ctx.state(cid)
        pid = st["pid"] if st["status"] != "stopped" else 0
        rows.append([cid, str(pid), st["status"], st["bundle"], st["created"], "root"])
    r = ctx.ok("list")
    assert r.out == tabwriter(rows), f"got:\n{r.out}\nwant:\n{tabwriter(rows)}"
    for cid in (a, b, c):
        ctx.destroy(cid)


def test_list_quiet(ctx):
    ids = sorted([ctx.create()[0], ctx.create()[0]])
    r = ctx.ok("list", "-q")
    assert r.out == "".join(f"{i}\n" for i in ids), r
    r = ctx.ok("list", "--quiet")
    assert r.out == "".join(f"{i}\n" for i in ids), r
    for cid in ids:
        ctx.destroy(cid)
    assert ctx.ok("list", "-q").out == ""


def test_list_json(ctx):
    a, bundle = ctx.create()
    b = ctx.start_running()
    r = ctx.ok("list", "--format", "json")
    items = json.loads(r.out)
    assert isinstance(items, list) and len(items) == 2
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {a, b}
    for cid in (a, b):
        st = ctx.state(cid)
        item = by_id[cid]
        for k in ("ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"):
            assert item[k] == st[k], (k, item, st)
        assert item["owner"] == "root"
    assert by_id[a]["status"] == "created" and by_id[b]["status"] == "running"
    assert by_id[a]["rootfs"] == os.path.join(bundle, "rootfs")
    # -f is the short form
    assert json.loads(ctx.ok("list", "-f", "json").out) == items
    for cid in (a, b):
        ctx.destroy(cid)


def test_list_json_empty_is_null(ctx):
    r = ctx.ok("list", "--format", "json")
    assert json.loads(r.out) is None, r


def test_list_bad_format(ctx):
    r = ctx.fail("list", "--format", "yaml")
    assert r.rc == 1 and "invalid format option" in r.err, r


def test_list_missing_root_is_empty(ctx):
    root = os.path.join(ctx.tmp, "fresh-root")
    r = ctx.ok("--root", root, "list", root=False)
    assert r.out.startswith("ID ") and len(r.out.splitlines()) == 1, r


def test_ps_table(ctx):
    cid = ctx.start_running(sh("sleep 30 & wait"))
    assert wait_for(lambda: len(json.loads(ctx.ok("ps", "--format", "json", cid).out)) == 2)
    r = ctx.ok("ps", cid)
    lines = r.out.splitlines()
    assert re.match(r"^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$", lines[0]), r
    assert lines[0] == "UID        PID  PPID  C STIME TTY          TIME CMD", r
    init = ctx.state(cid)["pid"]
    rows = [line.split(None, 7) for line in lines[1:]]
    assert len(rows) == 2, r
    pids = {int(row[1]) for row in rows}
    assert init in pids
    cmds = sorted(row[7] for row in rows)
    assert cmds == ["sh -c sleep 30 & wait", "sleep 30"], cmds
    ctx.destroy(cid)


def test_ps_options(ctx):
    cid = ctx.start_running()
    r = ctx.ok("ps", cid, "-o", "pid,comm")
    lines = r.out.split("\n")
    assert lines[0].split() == ["PID", "COMMAND"], r
    assert lines[1].split() == [str(ctx.state(cid)["pid"]), "sleep"], r
    ctx.destroy(cid)


def test_ps_json(ctx):
    cid = ctx.start_running(sh("sleep 30 & wait"))
    init = ctx.state(cid)["pid"]
    assert wait_for(lambda: len(json.loads(ctx.ok("ps", "--format", "json", cid).out)) == 2)
    r = ctx.ok("ps", "--format", "json", cid)
    pids = json.loads(r.out)
    assert all(isinstance(p, int) for p in pids)
    assert init in pids
    # `-f json` and the created state
    created, _ = ctx.create()
    assert json.loads(ctx.ok("ps", "-f", "json", created).out) == [ctx.state(created)["pid"]]
    ctx.destroy(cid)
    ctx.destroy(created)


def test_ps_missing_container(ctx):
    r = ctx.fail("ps", "t-nope")
    assert r.rc == 1 and "container does not exist" in r.err, r
