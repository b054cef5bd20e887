"""Namespaces: new ones differ from the host's, joined ones by path are the
ones named; hostname, domainname; user namespace id mappings."""

import os
import re
import subprocess
import time

from util import berth_only, runc_lacks, sh

ALL = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
       "cgroup": "cgroup", "user": "user", "time": "time"}


def host_ns(name):
    return os.readlink(f"/proc/self/ns/{name}")


def container_ns(ctx, names, edit=None):
    script = "; ".join(f"readlink /proc/self/ns/{n}" for n in names)
    out = ctx.sh(script, edit=edit)
    return dict(zip(names, out.split()))


def set_namespaces(*entries):
    def edit(spec):
        spec["linux"]["namespaces"] = [dict(e) for e in entries]
        if not any(e["type"] == "uts" for e in entries):
            del spec["hostname"]  # setting it needs a private UTS namespace
    return edit


def test_default_namespaces_are_new(ctx):
    got = container_ns(ctx, ["pid", "net", "ipc", "uts", "mnt"])
    for n, link in got.items():
        assert link != host_ns(n), n
        assert link.startswith(f"{n}:["), link


def test_unlisted_namespaces_are_the_hosts(ctx):
    got = container_ns(ctx, ["net", "ipc", "uts", "cgroup", "user"],
                       edit=set_namespaces({"type": "pid"}, {"type": "mount"}))
    for n, link in got.items():
        assert link == host_ns(n), n


def test_cgroup_namespace(ctx):
    edit = set_namespaces({"type": "mount"}, {"type": "cgroup"})
    out = ctx.sh("readlink /proc/self/ns/cgroup; cat /proc/self/cgroup", edit=edit)
    lines = out.splitlines()
    assert lines[0] != host_ns("cgroup")
    # inside a new cgroup namespace the container's own cgroup is its root
    assert "0::/" in lines[1:], out


@runc_lacks("the time namespace")
def test_time_namespace(ctx):
    got = container_ns(ctx, ["time"], edit=set_namespaces({"type": "mount"}, {"type": "time"}))
    assert got["time"] != host_ns("time")


def test_new_network_namespace_has_only_loopback_up(ctx):
    out = ctx.sh("ls /sys/class/net; cat /sys/class/net/lo/flags")
    lines = out.split()
    assert lines[:-1] == ["lo"], out
    assert int(lines[-1], 16) & 0x1, "lo is not up: " + out


def test_join_network_namespace_by_path(ctx):
    name = ctx.add_netns()
    path = f"/run/netns/{name}"
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "mtu", "1234"],
                       check=True)
        edit = set_namespaces({"type": "pid"}, {"type": "mount"},
                              {"type": "network", "path": path})
        out = ctx.sh("readlink /proc/self/ns/net; cat /sys/class/net/lo/mtu", edit=edit)
        assert out.split() == [f"net:[{os.stat(path).st_ino}]", "1234"], out
    finally:
        ctx.del_netns(name)


def test_join_another_containers_namespaces(ctx):
    first = ctx.start_running(edit=lambda s: s.update(hostname="first-host"))
    pid = ctx.state(first)["pid"]
    edit = set_namespaces({"type": "pid"}, {"type": "mount"},
                          {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
                          {"type": "ipc", "path": f"/proc/{pid}/ns/ipc"},
                          {"type": "network", "path": f"/proc/{pid}/ns/net"})

    def no_hostname(spec):
        edit(spec)
        del spec["hostname"]

    got = ctx.sh("hostname; for n in uts ipc net; do readlink /proc/self/ns/$n; done",
                 edit=no_hostname).split()
    assert got[0] == "first-host"
    for n, link in zip(("uts", "ipc", "net"), got[1:]):
        assert link == os.readlink(f"/proc/{pid}/ns/{n}"), n
    ctx.destroy(first)


def test_join_path_not_a_namespace(ctx):
    bogus = os.path.join(ctx.tmp, "not-a-ns")
    open(bogus, "w").close()
    r = ctx.run(["true"], edit=set_namespaces({"type": "mount"},
                                              {"type": "network", "path": bogus}))
    assert r.rc != 0, r
    # runc prints strerror's "Invalid argument", berth Go's "invalid argument".
    assert "net" in r.err and "invalid argument" in r.err.lower(), r
    assert os.listdir(ctx.root) == []


@berth_only
def test_join_path_not_a_namespace_names_path(ctx):
    bogus = os.path.join(ctx.tmp, "not-a-ns")
    open(bogus, "w").close()
    r = ctx.run(["true"], edit=set_namespaces({"type": "mount"},
                                              {"type": "network", "path": bogus}))
    assert r.rc != 0, r
    assert bogus in r.err and "invalid argument" in r.err.lower(), r


def test_hostname(ctx):
    out = ctx.sh("hostname; cat /proc/sys/kernel/domainname",
                 edit=lambda s: s.update(hostname="box.one"))
    assert out == "box.one\n(none)\n"
    # the host's name is untouched
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read().strip() != "box.one"


@runc_lacks("domainname")
def test_domainname(ctx):
    out = ctx.sh("hostname; cat /proc/sys/kernel/domainname",
                 edit=lambda s: s.update(hostname="box.one", domainname="example.test"))
    assert out == "box.one\nexample.test\n"


def test_hostname_needs_uts_namespace(ctx):
    def edit(spec):
        spec["linux"]["namespaces"] = [{"type": "mount"}]
    r = ctx.run(["true"], edit=edit)
    assert r.rc != 0, r
    assert "unable to set hostname without a private UTS namespace" in r.err, r


def userns(spec, host=100000):
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
    # sysfs can't be mounted in a user namespace without a new network ns owned by it;
    # the default spec has one.


def test_user_namespace_mappings(ctx):
    out = ctx.sh("cat /proc/self/uid_map /proc/self/gid_map; id; readlink /proc/self/ns/user",
                 edit=userns)
    lines = out.splitlines()
    assert lines[0].split() == ["0", "100000", "65536"], out
    assert lines[1].split() == ["0", "100000", "65536"], out
    assert lines[2] == "uid=0(root) gid=0(root)", out
    assert lines[3] != host_ns("user")


def test_user_namespace_host_ids(ctx):
    cid = ctx.start_running(edit=userns)
    pid = ctx.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    uid_line = [line for line in status.splitlines() if line.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["100000"] * 4, uid_line
    # exec joins the user namespace too
    r = ctx.ok("exec", "--user", "1000:1000", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert r.out.split()[:4] == ["1000", "0", "100000", "65536"], r
    ctx.destroy(cid)


def test_user_namespace_without_mappings_fails(ctx):
    def edit(spec):
        spec["linux"]["namespaces"].append({"type": "user"})
    r = ctx.run(["true"], edit=edit)
    assert r.rc != 0, r
    assert os.listdir(ctx.root) == []


def test_user_namespace_devices_are_bind_mounted(ctx):
    """In a user namespace mknod is not allowed: devices come from the host
    by bind mount (from the same path), and linux.devices work the same way."""
    def edit(spec):
        userns(spec)
        spec["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1,
                                     "minor": 11, "fileMode": 0o600}]
    out = ctx.sh("echo x > /dev/null && echo wrote; ls -l /dev/kmsg; "
                 "cat /proc/self/mountinfo", edit=edit)
    lines = out.splitlines()
    assert lines[0] == "wrote", out
    assert re.match(r"^c.*\s1,\s+11\s.*/dev/kmsg$", lines[1]), out
    mps = {line.split()[4]: line for line in lines[2:]}
    for dev in ("/dev/null", "/dev/zero", "/dev/kmsg"):
        assert dev in mps, (dev, out)


@runc_lacks("joining a user namespace by path (runc 1.1 requires uid mappings)")
def test_join_user_namespace_by_path(ctx):
    # A second container joins the first one's user namespace and makes its
    # own pid, mount, uts and network namespaces inside it.
    first = ctx.start_running(edit=userns)
    pid = ctx.state(first)["pid"]

    def joined(spec):
        spec["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})

    out = ctx.sh("cat /proc/self/uid_map; readlink /proc/self/ns/user; echo $$", edit=joined)
    lines = out.splitlines()
    assert lines[0].split() == ["0", "100000", "65536"], out
    assert lines[1] == os.readlink(f"/proc/{pid}/ns/user"), out
    assert lines[2] == "1", out  # a new pid namespace, made inside the joined user ns
    ctx.destroy(first)


@runc_lacks("joining a user namespace by path (runc 1.1 requires uid mappings)")
def test_join_user_and_pid_namespaces_by_path(ctx):
    first = ctx.start_running(edit=userns)
    pid = ctx.state(first)["pid"]

    def joined(spec):
        ns = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
        spec["linux"]["namespaces"] = ns + [{"type": "user", "path": f"/proc/{pid}/ns/user"},
                                            {"type": "pid", "path": f"/proc/{pid}/ns/pid"}]

    out = ctx.sh("readlink /proc/self/ns/pid; echo $$; ps -o pid,args | grep -c sleep", edit=joined)
    lines = out.splitlines()
    assert lines[0] == os.readlink(f"/proc/{pid}/ns/pid"), out
    assert lines[1] != "1", out      # the first container's init is pid 1 there
    assert int(lines[2]) >= 1, out   # and its process is visible
    ctx.destroy(first)


def time_offsets(offsets, pid_ns=True):
    def edit(spec):
        ns = spec["linux"]["namespaces"]
        if not pid_ns:
            ns[:] = [n for n in ns if n["type"] != "pid"]
        ns.append({"type": "time"})
        spec["linux"]["timeOffsets"] = offsets
    return edit


@runc_lacks("time namespaces")
def test_time_namespace_offsets(ctx):
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    for pid_ns in (True, False):
        out = ctx.sh("cat /proc/uptime; echo $$", edit=time_offsets(
            {"boottime": {"secs": 1000000, "nanosecs": 0}, "monotonic": {"secs": 500}}, pid_ns))
        uptime, pid = out.split()[0], out.split()[-1]
        assert float(uptime) > host_uptime + 999000, out
        assert (pid == "1") == pid_ns, out


@berth_only
def test_time_offsets_unknown_clock_names_it(ctx):
    r = ctx.run(["true"], edit=time_offsets({"realtime": {"secs": 5}}))
    assert r.rc != 0 and "linux.timeOffsets[" in r.err and "realtime" in r.err, r


def test_join_mount_namespace_by_path_gets_the_rootfs(ctx):
    # A mount namespace joined by path is set up like a new one (as runc):
    # the container sees its rootfs and its own /proc, and the holder's mounts
    # are not disturbed outside it.
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "30"])
    try:
        for _ in range(100):
            if os.readlink(f"/proc/{holder.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"):
                break
            time.sleep(0.01)
        path = f"/proc/{holder.pid}/ns/mnt"
        out = ctx.sh("readlink /proc/self/ns/mnt; ls /bin/busybox; echo $$", edit=lambda s: [
            n.update(path=path) for n in s["linux"]["namespaces"] if n["type"] == "mount"])
        lines = out.split()
        assert lines[0] == os.readlink(path), out
        assert lines[1] == "/bin/busybox" and lines[2] == "1", out
    finally:
        holder.kill()
        holder.wait()


# ---- no mount namespace: the host's is inherited (config-linux.md) ----------

def without_mount_ns(spec):
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "mount"]


def host_mounts_under(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == real or p.startswith(real + "/")]


def test_no_mount_namespace_inherits_the_hosts_and_chroots(ctx):
    b = ctx.bundle(sh("readlink /proc/self/ns/mnt; cat /marker; grep -c ' /proc proc ' /proc/self/mounts"),
                   edit=without_mount_ns)
    with open(os.path.join(b, "rootfs", "marker"), "w") as f:
        f.write("inside\n")
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 0, r
    # The host's mount namespace, the bundle's rootfs as /, and the config's
    # /proc mounted (under the rootfs, in the host's table).
    assert r.out.split() == [host_ns("mnt"), "inside", "1"], r


@runc_lacks("removing the container's mounts from the host at delete (runc leaves them)")
def test_no_mount_namespace_mounts_are_removed_at_delete(ctx):
    cid, b = ctx.create(edit=without_mount_ns)
    rootfs = os.path.join(b, "rootfs")
    made = host_mounts_under(rootfs)
    # The config's mounts are in the host's table while the container lives.
    assert os.path.realpath(rootfs) in made, made
    assert any(m.endswith("/proc") for m in made) and any(m.endswith("/dev") for m in made), made
    ctx.ok("delete", "--force", cid)
    assert host_mounts_under(rootfs) == [], host_mounts_under(rootfs)


@runc_lacks("removing the container's mounts from the host when create fails")
def test_no_mount_namespace_failed_create_leaves_no_mount(ctx):
    def edit(spec):
        without_mount_ns(spec)
        spec["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    b = ctx.bundle(["true"], edit=edit)
    r = ctx.cmd("create", "--bundle", b, ctx.new_id())
    assert r.rc != 0 and "createRuntime" in r.err, r
    assert host_mounts_under(os.path.join(b, "rootfs")) == []


@berth_only
def test_no_mount_namespace_keeps_a_mount_of_the_user_on_the_rootfs(ctx):
    # A mount someone else put on the rootfs (an engine's overlay) is not ours
    # to remove: only the bind made by create goes.
    b = ctx.bundle(["sleep", "30"], edit=without_mount_ns)
    rootfs = os.path.join(b, "rootfs")
    subprocess.run(["mount", "--bind", rootfs, rootfs], check=True)
    try:
        cid = ctx.new_id()
        ctx.ok("create", "--bundle", b, cid)
        ctx.ok("delete", "--force", cid)
        assert host_mounts_under(rootfs) == [os.path.realpath(rootfs)]
    finally:
        subprocess.run(["umount", rootfs], check=True)


@berth_only
def test_exec_escape_to_host_root_without_mount_namespace(ctx):
    # Joining the host's mount namespace puts a process at the host's root;
    # exec must land in the container's chroot like its init.
    cid, b = ctx.create(["sleep", "30"], edit=without_mount_ns)
    ctx.ok("start", cid)
    with open(os.path.join(b, "rootfs", "marker"), "w") as f:
        f.write("inside\n")
    r = ctx.ok("exec", cid, "sh", "-c", f"cat /marker; test -e {ctx.tmp} && echo host-visible || true")
    assert r.out == "inside\n", r
    ctx.ok("delete", "--force", cid)


@berth_only
def test_no_mount_namespace_refuses_rootfs_propagation(ctx):
    def edit(spec):
        without_mount_ns(spec)
        spec["linux"]["rootfsPropagation"] = "shared"
    r = ctx.run(["true"], edit=edit)
    assert r.rc != 0 and "linux.rootfsPropagation" in r.err and "mount namespace" in r.err, r
