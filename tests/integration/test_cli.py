"""The command line itself: version, help, unknown commands and flags."""

import os
import re

import pytest

from util import IS_RUNC, berth_only

COMMANDS = ["create", "start", "run", "state", "kill", "delete", "list", "exec", "ps", "spec"]


def test_version(ctx):
    for flag in ("--version", "-v"):
        r = ctx.ok(flag, root=False)
        lines = r.out.splitlines()
        name = "runc" if IS_RUNC else "berth"
        assert re.match(rf"^{name} version \d+\.\d+\.\d+", lines[0]), r
        # engines parse the spec version line
        assert any(re.match(r"^spec: \d+\.\d+\.\d+", line) for line in lines), r


def test_help_lists_every_command(ctx):
    for argv in (["--help"], ["help"], ["-h"], []):
        r = ctx.ok(*argv, root=False)
        assert "USAGE" in r.out.upper(), r
        for c in COMMANDS:
            assert re.search(rf"^\s+{c}\b", r.out, re.M), f"{c} missing from help: {r}"


def test_command_help(ctx):
    for c in COMMANDS:
        r = ctx.ok(c, "--help", root=False)
        assert c in r.out, r


def test_unknown_command_exits_3(ctx):
    r = ctx.cmd("frobnicate")
    assert r.rc == 3, r
    assert "frobnicate" in r.err, r


def test_unknown_global_flag(ctx):
    r = ctx.cmd("--bogus", "list")
    assert r.rc == 1, r
    assert "bogus" in r.err, r


def test_unknown_command_flag(ctx):
    r = ctx.cmd("list", "--bogus")
    assert r.rc == 1, r
    assert "flag provided but not defined: -bogus" in r.err, r


def test_missing_argument(ctx):
    for c, msg in (("state", "exactly 1"), ("kill", "a minimum of 1"), ("start", "exactly 1")):
        r = ctx.cmd(c)
        assert r.rc == 1, r
        assert f"requires {msg} argument(s)" in r.err and c in r.err, r


def test_bad_log_format(ctx):
    r = ctx.cmd("--log-format", "xml", "list")
    assert r.rc == 1, r
    assert "invalid log-format: xml" in r.err, r


@berth_only
def test_version_names_berth(ctx):
    r = ctx.ok("--version", root=False)
    assert r.out.startswith("berth version"), r


def test_systemd_cgroup_flag_accepted(ctx):
    r = ctx.ok("--systemd-cgroup", "list")
    assert r.out.startswith("ID "), r


def test_global_flags_before_command_only(ctx):
    # runc's global flags go before the command
    r = ctx.cmd("list", "--root", ctx.root)
    assert r.rc == 1 and "flag provided but not defined: -root" in r.err, r


@berth_only
def test_systemd_cgroup_without_systemd_is_a_clear_error(ctx):
    # This host runs no systemd: creating through it must say so and leave nothing.
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here")
    r = ctx.cmd("--systemd-cgroup", "run", "--bundle", ctx.bundle(["true"]), ctx.new_id())
    assert r.rc != 0 and "--systemd-cgroup" in r.err and "systemd is not running" in r.err, r
    assert os.listdir(ctx.root) == []
