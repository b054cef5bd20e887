"""linux.netDevices: host interfaces moved into the container's network
namespace, renamed, up, with their permanent global addresses; errors name
the JSON path and leave the interface where it was.

Interfaces are made per test with unique names: a dummy where the kernel has
it, else a veth pair (its peer stays on the host and is deleted with it).
Virtual interfaces die with the namespace they were moved into (runtime-spec:
the runtime does not move them back), so after `delete` they are gone.
"""

import os
import secrets
import subprocess

import pytest

from util import runc_lacks, wait_for

pytestmark = runc_lacks("linux.netDevices")


def ip(*args, netns=None, check=True):
    argv = ["ip"] + (["-n", netns] if netns else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if check:
        assert r.returncode == 0, f"{argv}: {r.stderr}"
    return r


def message(r):
    """The error text, unquoted from the logrus-style line."""
    return r.err.replace('\\"', '"')


def link_exists(name, netns=None):
    return ip("link", "show", "dev", name, netns=netns, check=False).returncode == 0


class HostLinks:
    """Interfaces a test made; every one is deleted at the end wherever it is
    still on the host."""

    def __init__(self):
        self.names = []

    def add(self, netns=None, name=None):
        """A new interface (on the host, or in `netns`); returns its name."""
        tag = secrets.token_hex(3)
        name = name or f"bt{tag}"
        r = ip("link", "add", name, "type", "dummy", netns=netns, check=False)
        if r.returncode != 0:
            # No dummy driver (CONFIG_DUMMY=n): a veth pair, the peer stays here.
            ip("link", "add", name, "type", "veth", "peer", "name", f"bp{tag}", netns=netns)
            self.names.append((f"bp{tag}", netns))
        self.names.append((name, netns))
        return name

    def cleanup(self):
        for name, netns in self.names:
            if link_exists(name, netns):
                ip("link", "del", "dev", name, netns=netns, check=False)


@pytest.fixture
def links():
    h = HostLinks()
    yield h
    h.cleanup()


def with_netdevices(devices, namespaces=None):
    def edit(spec):
        spec["linux"]["netDevices"] = devices
        if namespaces is not None:
            spec["linux"]["namespaces"] = namespaces
    return edit


def test_moved_renamed_up_with_addresses(ctx, links):
    host = links.add()
    ip("addr", "add", "192.0.2.77/24", "dev", host)
    ip("addr", "add", "2001:db8::77/64", "dev", host, "nodad")
    ip("addr", "add", "198.51.100.7/24", "dev", host, "scope", "link")
    ip("addr", "add", "203.0.113.7/24", "dev", host, "valid_lft", "100", "preferred_lft", "100")
    cid = ctx.start_running(edit=with_netdevices({host: {"name": "eth1"}}))
    try:
        # Gone from the host while the container has it.
        assert not link_exists(host)
        r = ctx.ok("exec", cid, "ip", "-o", "link", "show", "eth1")
        assert "eth1" in r.out and "UP" in r.out.split(">")[0], r
        addrs = ctx.ok("exec", cid, "ip", "-o", "addr", "show", "dev", "eth1").out
        # Permanent addresses of global scope only (runtime-spec, as runc).
        assert "192.0.2.77/24" in addrs, addrs
        assert "2001:db8::77/64" in addrs, addrs
        assert "198.51.100.7" not in addrs, addrs
        assert "203.0.113.7" not in addrs, addrs
        # Not under its host name inside.
        assert ctx.cmd("exec", cid, "ip", "link", "show", host).rc != 0
    finally:
        ctx.destroy(cid)
    # A virtual interface is destroyed with the namespace, not moved back.
    assert wait_for(lambda: not link_exists(host) and not link_exists("eth1"), timeout=5)


def test_host_name_kept_without_name(ctx, links):
    host = links.add()
    out = ctx.sh(f"ip -o link show {host}", edit=with_netdevices({host: {}}))
    assert host in out
    assert wait_for(lambda: not link_exists(host), timeout=5)


def test_name_template(ctx, links):
    host = links.add()
    out = ctx.sh("ip -o link show", edit=with_netdevices({host: {"name": "net%d"}}))
    assert "net0" in out, out


def test_several_devices_swapping_names(ctx, links):
    a, b = links.add(), links.add()
    out = ctx.sh(f"ip -o link show {a} && ip -o link show {b}",
                 edit=with_netdevices({a: {"name": b}, b: {"name": a}}))
    assert a in out and b in out


def test_missing_host_device(ctx, links):
    missing = f"bt{secrets.token_hex(3)}"
    r = ctx.run(("true",), edit=with_netdevices({missing: {"name": "eth1"}}))
    assert r.rc != 0, r
    assert f'linux.netDevices["{missing}"]: no such network interface on the host' in message(r), r
    # Nothing of the container is left (the leak check also looks).
    assert ctx.ok("list", "--format", "json").out.strip() in ("null", "[]")


def test_needs_own_network_namespace(ctx, links):
    host = links.add()
    ns = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    r = ctx.run(("true",), edit=with_netdevices({host: {}}, namespaces=ns))
    assert r.rc != 0, r
    assert "linux.netDevices" in message(r) and "network namespace" in message(r), r
    assert link_exists(host)


def test_invalid_names(ctx, links):
    host = links.add()
    r = ctx.run(("true",), edit=with_netdevices({"a/b": {}}))
    assert r.rc != 0 and 'linux.netDevices["a/b"]: invalid network interface name' in message(r), r
    r = ctx.run(("true",), edit=with_netdevices({host: {"name": "x" * 16}}))
    assert r.rc != 0 and f'linux.netDevices["{host}"].name: invalid network interface name' in message(r), r
    a, b = host, links.add()
    r = ctx.run(("true",), edit=with_netdevices({a: {"name": "eth1"}, b: {"name": "eth1"}}))
    assert r.rc != 0 and f'linux.netDevices["{b}"]' in message(r), r
    assert link_exists(a) and link_exists(b)


def test_joined_namespace_keeps_device(ctx, links):
    host = links.add()
    ns = ctx.add_netns()
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    namespaces.append({"type": "network", "path": f"/run/netns/{ns}"})
    out = ctx.sh("ip -o link show eth1", edit=with_netdevices({host: {"name": "eth1"}}, namespaces))
    assert "eth1" in out
    # The runtime must not move it out: it stays in the namespace it joined.
    assert link_exists("eth1", netns=ns)
    assert not link_exists(host)
    ctx.del_netns(ns)
    ctx.netns.remove(ns)
    assert wait_for(lambda: not link_exists(host), timeout=5)


def test_name_taken_in_container(ctx, links):
    host = links.add()
    ns = ctx.add_netns()
    links.add(netns=ns, name="eth1")
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    namespaces.append({"type": "network", "path": f"/run/netns/{ns}"})
    r = ctx.run(("true",), edit=with_netdevices({host: {"name": "eth1"}}, namespaces))
    assert r.rc != 0, r
    assert f'linux.netDevices["{host}"]' in message(r) and "already exists" in message(r), r
    # Checked before the move: still on the host.
    assert link_exists(host)
    ctx.del_netns(ns)
    ctx.netns.remove(ns)


def test_joined_host_namespace_refused(ctx, links):
    host = links.add()
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    namespaces.append({"type": "network", "path": f"/proc/{os.getpid()}/ns/net"})
    r = ctx.run(("true",), edit=with_netdevices({host: {}}, namespaces))
    assert r.rc != 0 and "linux.netDevices" in message(r), r
    assert link_exists(host)



def test_new_user_namespace(ctx, links):
    # The network namespace then belongs to the container's user namespace.
    host = links.add()
    ip("addr", "add", "192.0.2.78/24", "dev", host)

    def edit(spec):
        with_netdevices({host: {"name": "eth1"}})(spec)
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    out = ctx.sh("ip -o addr show dev eth1", edit=edit)
    assert "192.0.2.78/24" in out, out


def test_joined_user_namespace_with_new_network_refused(ctx, links):
    # The init makes such a network namespace itself, after the runtime's
    # last chance to move devices into it.
    host = links.add()
    holder = ctx.start_running(edit=lambda spec: (
        spec["linux"]["namespaces"].append({"type": "user"}),
        spec["linux"].update(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
                             gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}])))
    try:
        pid = ctx.state(holder)["pid"]

        def edit(spec):
            with_netdevices({host: {}})(spec)
            spec["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})

        r = ctx.run(("true",), edit=edit)
        assert r.rc != 0 and "linux.netDevices" in message(r) and "user namespace" in message(r), r
        assert link_exists(host)
    finally:
        ctx.destroy(holder)
