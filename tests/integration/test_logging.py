"""Global --log, --log-format text|json, --debug."""

import json
import os
import re

TEXT_LINE = re.compile(r'^time="[^"]+" level=(\w+) msg="(.*)"')


def read_lines(path):
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


def test_error_goes_to_stderr_by_default(ctx):
    r = ctx.fail("state", "t-nope")
    m = TEXT_LINE.match(r.err.splitlines()[-1])
    assert m and m.group(1) == "error" and m.group(2) == "container does not exist", r


def test_log_file_text(ctx):
    log = os.path.join(ctx.tmp, "log.txt")
    r = ctx.fail("--log", log, "state", "t-nope")
    lines = read_lines(log)
    assert lines, "nothing logged"
    m = TEXT_LINE.match(lines[-1])
    assert m and m.group(1) == "error" and "container does not exist" in m.group(2), lines
    # the caller still sees the error
    assert "container does not exist" in r.err, r


def test_log_file_json(ctx):
    log = os.path.join(ctx.tmp, "log.json")
    ctx.fail("--log", log, "--log-format", "json", "state", "t-nope")
    lines = read_lines(log)
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"level", "msg", "time"} <= set(entry), entry
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["time"]), entry
    assert json.loads(lines[-1])["level"] == "error"
    assert json.loads(lines[-1])["msg"] == "container does not exist"


def test_log_json_to_stderr(ctx):
    r = ctx.fail("--log-format", "json", "state", "t-nope")
    entry = json.loads(r.err.splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "container does not exist", r


def test_log_appends(ctx):
    log = os.path.join(ctx.tmp, "log.json")
    for _ in range(2):
        ctx.fail("--log", log, "--log-format", "json", "state", "t-nope")
    assert len([line for line in read_lines(log)
                if json.loads(line)["level"] == "error"]) == 2


def test_debug_logs_a_run(ctx):
    log = os.path.join(ctx.tmp, "debug.json")
    b = ctx.bundle(["true"])
    ctx.ok("--debug", "--log", log, "--log-format", "json", "run", "-b", b, ctx.new_id())
    entries = [json.loads(line) for line in read_lines(log)]
    assert entries and all({"level", "msg", "time"} <= set(e) for e in entries)
    assert any(e["level"] == "debug" for e in entries), entries


def test_no_debug_without_flag(ctx):
    log = os.path.join(ctx.tmp, "quiet.json")
    b = ctx.bundle(["true"])
    ctx.ok("--log", log, "--log-format", "json", "run", "-b", b, ctx.new_id())
    levels = {json.loads(line)["level"] for line in read_lines(log)} if os.path.exists(log) \
        else set()
    assert "debug" not in levels, levels


def test_debug_to_stderr_text(ctx):
    r = ctx.fail("--debug", "state", "t-nope")
    assert any(TEXT_LINE.match(line) for line in r.err.splitlines()), r
    assert "container does not exist" in r.err
