"""Root filesystem and mounts: readonly root, --no-pivot, rootfsPropagation,
bind/rbind with options, tmpfs, symlinked destinations, masked and readonly
paths, sysctl, /dev."""

import contextlib
import hashlib
import os
import re
import subprocess

from util import berth_only, runc_lacks, sh


def mountinfo(text):
    """Parse /proc/PID/mountinfo text: {mount point: entry} (last one wins)."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10 or "-" not in f:
            continue
        sep = f.index("-")
        out[f[4]] = {"root": f[3], "opts": f[5].split(","), "optional": f[6:sep],
                     "fstype": f[sep + 1], "source": f[sep + 2],
                     "super": f[sep + 3].split(",")}
    return out


def container_mounts(ctx, edit=None, script="", flags=()):
    out = ctx.sh(f"{script}cat /proc/self/mountinfo", edit=edit, flags=flags)
    return mountinfo(out)


def add_mount(dest, type_, source, options=None):
    def edit(spec):
        m = {"destination": dest, "type": type_, "source": source}
        if options is not None:
            m["options"] = options
        spec["mounts"].append(m)
    return edit


def host_dir(ctx, name, files=()):
    d = os.path.join(ctx.tmp, name)
    os.makedirs(d)
    for f in files:
        with open(os.path.join(d, f), "w") as fh:
            fh.write(f"{f}\n")
    return d


@contextlib.contextmanager
def host_mount(*args, target):
    subprocess.run(["mount", *args, target], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-R", target], check=True)


# ---------------------------------------------------------------------------
# root

def test_readonly_root(ctx):
    def edit(spec):
        spec["root"]["readonly"] = True
    r = ctx.run(sh("touch /newfile"), edit=edit)
    assert r.rc != 0 and "Read-only file system" in r.err, r
    mi = container_mounts(ctx, edit=edit)
    assert "ro" in mi["/"]["opts"], mi["/"]
    # the mounts on top stay writable
    assert ctx.sh("touch /dev/shm/x && echo ok", edit=edit) == "ok\n"


def test_root_is_the_bundle_rootfs(ctx):
    b = ctx.bundle(sh("cat /marker; ls /"))
    with open(os.path.join(b, "rootfs", "marker"), "w") as f:
        f.write("in-rootfs\n")
    cid = ctx.new_id()
    r = ctx.ok("run", "-b", b, cid)
    assert r.out.startswith("in-rootfs\n"), r
    # the host's root is not reachable
    assert "work" not in r.out.split(), r


def test_root_path_absolute(ctx):
    b = ctx.bundle(["true"])
    spec_root = os.path.join(b, "rootfs")

    def edit(spec):
        spec["root"]["path"] = spec_root
    assert ctx.sh("echo ok", edit=edit) == "ok\n"


def test_no_pivot(ctx):
    script = "cat /proc/self/mountinfo; echo ==; ls /"
    r = ctx.run(sh(script), flags=["--no-pivot"])
    assert r.rc == 0, r
    mi, listing = r.out.split("==\n")
    assert "busybox" not in listing and "bin" in listing.split()
    assert "/proc" in mountinfo(mi)
    r = ctx.run(sh("cd /; cd ..; ls"), flags=["--no-pivot"])
    assert r.rc == 0 and "bin" in r.out.split() and "work" not in r.out.split(), r


def test_rootfs_propagation_values(ctx):
    for value in ("shared", "slave", "private", "rshared", "rslave", "rprivate"):
        r = ctx.run(["true"], edit=lambda s: s["linux"].update(rootfsPropagation=value))
        assert r.rc == 0, (value, r)


@runc_lacks("rootfsPropagation unbindable (runc 1.1 fails to bind the rootfs)")
def test_rootfs_propagation_unbindable(ctx):
    # runtime-tools' linux_rootfs_propagation: the new "/" becomes unbindable.
    out = ctx.sh("awk '$5 == \"/\"' /proc/self/mountinfo",
                 edit=lambda s: s["linux"].update(rootfsPropagation="unbindable"))
    assert "unbindable" in out, out


def test_rootfs_propagation_slave_vs_private(ctx):
    """A shared host mount reached through the rootfs's propagation: slave
    (the default) keeps receiving host mounts, private does not."""
    src = host_dir(ctx, "shared-src")
    with host_mount("--bind", src, target=src):
        subprocess.run(["mount", "--make-shared", src], check=True)
        bind = add_mount("/mnt", "bind", src, ["bind"])
        for prop, want_master in ((None, True), ("rslave", True), ("private", False),
                                  ("rprivate", False)):
            def edit(spec):
                bind(spec)
                if prop:
                    spec["linux"]["rootfsPropagation"] = prop
            mi = container_mounts(ctx, edit=edit)
            has_master = any(o.startswith("master:") for o in mi["/mnt"]["optional"])
            assert has_master == want_master, (prop, mi["/mnt"])



def host_mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f
                      if line.split()[4] == path or line.split()[4].startswith(path + "/"))


def test_rootfs_propagation_rshared_sends_mounts_back_to_the_host(ctx):
    """rootfsPropagation rshared with an rshared bind of a shared host dir
    (what CRI makes of a Bidirectional mount): a mount made in the
    container under it appears on the host, while the container's own
    mounts (proc, dev, ...) do not leak out."""
    src = host_dir(ctx, "bidir")
    os.makedirs(os.path.join(src, "sub"))
    with host_mount("--bind", src, target=src):
        subprocess.run(["mount", "--make-shared", src], check=True)

        def edit(spec):
            add_mount("/mnt", "bind", src, ["rbind", "rshared"])(spec)
            spec["linux"]["rootfsPropagation"] = "rshared"
            for k in ("bounding", "effective", "permitted"):
                spec["process"]["capabilities"][k].append("CAP_SYS_ADMIN")
        b = ctx.bundle(sh("mount -t tmpfs -o size=1m from-container /mnt/sub && echo mounted"), edit=edit)
        rootfs_before = host_mounts_under(os.path.join(b, "rootfs"))
        r = ctx.cmd("run", "--bundle", b, ctx.new_id())
        try:
            assert r.rc == 0 and r.out == "mounted\n", r
            assert host_mounts_under(src) == [src, os.path.join(src, "sub")]
            assert host_mounts_under(os.path.join(b, "rootfs")) == rootfs_before
        finally:
            subprocess.run(["umount", os.path.join(src, "sub")], stderr=subprocess.DEVNULL)

# ---------------------------------------------------------------------------
# mounts

def test_bind_mount_ro(ctx):
    src = host_dir(ctx, "src", ["hello"])
    edit = add_mount("/data", "bind", src, ["bind", "ro"])
    r = ctx.run(sh("cat /data/hello; touch /data/new"), edit=edit)
    assert r.out == "hello\n", r
    assert r.rc != 0 and "Read-only file system" in r.err, r
    assert "ro" in container_mounts(ctx, edit=edit)["/data"]["opts"]
    assert not os.path.exists(os.path.join(src, "new"))


def test_bind_mount_rw_writes_through(ctx):
    src = host_dir(ctx, "src")
    ctx.sh("echo written > /data/out", edit=add_mount("/data", "bind", src, ["rbind", "rw"]))
    with open(os.path.join(src, "out")) as f:
        assert f.read() == "written\n"


def test_bind_mount_nosuid_nodev_noexec(ctx):
    src = host_dir(ctx, "src")
    edit = add_mount("/data", "bind", src, ["bind", "nosuid", "nodev", "noexec"])
    mi = container_mounts(ctx, edit=edit)
    for o in ("nosuid", "nodev", "noexec"):
        assert o in mi["/data"]["opts"], mi["/data"]
    r = ctx.run(sh("cp /bin/busybox /data/bb && /data/bb true"), edit=edit)
    assert r.rc != 0 and "Permission denied" in r.err, r


def test_bind_vs_rbind_submounts(ctx):
    src = host_dir(ctx, "src")
    sub = os.path.join(src, "sub")
    os.mkdir(sub)
    with host_mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=sub):
        with open(os.path.join(sub, "in-sub"), "w") as f:
            f.write("x")
        out = ctx.sh("ls /data/sub", edit=add_mount("/data", "bind", src, ["bind"]))
        assert out == ""
        out = ctx.sh("ls /data/sub", edit=add_mount("/data", "bind", src, ["rbind"]))
        assert out == "in-sub\n"
        # ro on an rbind is not recursive; rro is
        mi = container_mounts(ctx, edit=add_mount("/data", "bind", src, ["rbind", "ro"]))
        assert "ro" in mi["/data"]["opts"] and "rw" in mi["/data/sub"]["opts"]
        mi = container_mounts(ctx, edit=add_mount("/data", "bind", src,
                                                  ["rbind", "rro", "rnosuid"]))
        for mp in ("/data", "/data/sub"):
            assert "ro" in mi[mp]["opts"] and "nosuid" in mi[mp]["opts"], mi[mp]


def test_bind_mount_file(ctx):
    src = host_dir(ctx, "src", ["single"])
    out = ctx.sh("cat /etc/single", edit=add_mount("/etc/single", "bind",
                                                   os.path.join(src, "single"), ["bind", "ro"]))
    assert out == "single\n"


def test_bind_propagation_options(ctx):
    src = host_dir(ctx, "src")
    for opts, tag in ((["bind", "shared"], "shared:"), (["bind", "private"], None)):
        mi = container_mounts(ctx, edit=add_mount("/data", "bind", src, opts))
        optional = mi["/data"]["optional"]
        if tag:
            assert any(o.startswith(tag) for o in optional), (opts, mi["/data"])
        else:
            assert optional == [], (opts, mi["/data"])


def test_tmpfs_size_mode(ctx):
    edit = add_mount("/scratch", "tmpfs", "tmpfs", ["nosuid", "size=1m", "mode=1700"])
    out = ctx.sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo", edit=edit)
    mode, line = out.split("\n", 1)
    assert mode == "1700"
    mi = mountinfo(line)["/scratch"]
    assert mi["fstype"] == "tmpfs" and "nosuid" in mi["opts"]
    assert "size=1024k" in mi["super"] and "mode=1700" in mi["super"], mi


def test_default_filesystems_mounted(ctx):
    mi = container_mounts(ctx)
    want = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
            "/dev/mqueue": "mqueue", "/sys": "sysfs"}
    for mp, fstype in want.items():
        assert mi[mp]["fstype"] == fstype, (mp, mi.get(mp))
    assert "ro" in mi["/sys"]["opts"]
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        # cgroup v2 host (tests/vm): one read-only cgroup2 mount at /sys/fs/cgroup
        e = mi.get("/sys/fs/cgroup")
        assert e and e["fstype"] == "cgroup2" and "ro" in e["opts"], mi
        return
    # cgroup v1 (hybrid host): one read-only mount per hierarchy under /sys/fs/cgroup
    cg = {mp: e for mp, e in mi.items() if mp.startswith("/sys/fs/cgroup/")}
    assert cg, mi
    for mp, e in cg.items():
        assert e["fstype"] in ("cgroup", "cgroup2") and "ro" in e["opts"], (mp, e)


def test_symlink_destinations_stay_in_rootfs(ctx):
    """A symlink in the rootfs pointing at / or ../../ used as a mount
    destination resolves inside the rootfs; the host is never touched."""
    escape_abs = "/berth-escape-abs"
    escape_rel = "/berth-escape-rel"
    assert not os.path.exists(escape_abs) and not os.path.exists(escape_rel)
    src = host_dir(ctx, "src", ["payload"])

    def edit(spec):
        spec["mounts"] += [
            {"destination": "/evil-abs" + escape_abs, "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/evil-rel" + escape_rel, "type": "bind", "source": src,
             "options": ["bind"]},
        ]
    b = ctx.bundle(sh(f"cat /proc/self/mountinfo; ls {escape_rel}"), edit=edit)
    rootfs = os.path.join(b, "rootfs")
    os.symlink("/", os.path.join(rootfs, "evil-abs"))
    os.symlink("../../../../../../../../..", os.path.join(rootfs, "evil-rel"))
    host_before = open("/proc/self/mountinfo").read()
    cid = ctx.new_id()
    r = ctx.ok("run", "-b", b, cid)
    mi = mountinfo(r.out)
    assert mi[escape_abs]["fstype"] == "tmpfs", r
    assert escape_rel in mi and "payload" in r.out.split(), r
    assert not os.path.exists(escape_abs) and not os.path.exists(escape_rel)
    assert os.path.isdir(os.path.join(rootfs, escape_abs.lstrip("/")))
    host_after = open("/proc/self/mountinfo").read()
    assert escape_abs not in host_after and escape_rel not in host_after
    assert len(host_after.splitlines()) <= len(host_before.splitlines()) + 5


def test_masked_paths(ctx):
    def edit(spec):
        spec["linux"]["maskedPaths"] += ["/etc/hostname", "/home"]
    out = ctx.sh("wc -c < /proc/keys; ls /sys/firmware | wc -l; wc -c < /etc/hostname; "
                 "ls /home | wc -l; touch /home/x 2>/dev/null || echo ro", edit=edit)
    assert out.split() == ["0", "0", "0", "0", "ro"], out
    mi = container_mounts(ctx, edit=edit)
    assert "/proc/keys" in mi and "/sys/firmware" in mi and "/home" in mi


def test_masked_path_missing_is_ignored(ctx):
    edit = lambda s: s["linux"]["maskedPaths"].append("/does/not/exist")  # noqa: E731
    assert ctx.sh("echo ok", edit=edit) == "ok\n"


def test_readonly_paths(ctx):
    def edit(spec):
        spec["linux"]["readonlyPaths"].append("/home")
    r = ctx.run(sh("echo 1 > /proc/sys/kernel/ns_last_pid"), edit=edit)
    assert r.rc != 0 and "Read-only file system" in r.err, r
    r = ctx.run(sh("touch /home/x"), edit=edit)
    assert r.rc != 0 and "Read-only file system" in r.err, r
    mi = container_mounts(ctx, edit=edit)
    for p in ("/proc/sys", "/proc/fs", "/home"):
        assert "ro" in mi[p]["opts"], (p, mi.get(p))


def test_sysctl(ctx):
    def edit(spec):
        spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
    host_fwd = open("/proc/sys/net/ipv4/ip_forward").read()
    host_shm = open("/proc/sys/kernel/shmmax").read()
    out = ctx.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax", edit=edit)
    assert out == "1\n123456789\n"
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_fwd
    assert open("/proc/sys/kernel/shmmax").read() == host_shm


def test_sysctl_needs_namespace(ctx):
    """A net.* sysctl without a private network namespace would change the
    host's: refused, and the host's value is left alone."""
    path = "/proc/sys/net/ipv4/ip_forward"
    host = open(path).read().strip()
    other = "0" if host == "1" else "1"

    def edit(spec):
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                       if n["type"] != "network"]
        spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": other}
    try:
        r = ctx.run(["true"], edit=edit)
        assert open(path).read().strip() == host, "the host's sysctl was changed"
        assert r.rc != 0 and "net.ipv4.ip_forward" in r.err, r
    finally:
        with open(path, "w") as f:
            f.write(host)


def test_dev_contents(ctx):
    out = ctx.sh("ls -l /dev | tail -n +2")
    entries = {}
    for line in out.splitlines():
        f = line.split()
        entries[f[-1] if f[0][0] != "l" else f[-3]] = line
    for name, (major, minor) in {"null": (1, 3), "zero": (1, 5), "full": (1, 7),
                                 "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}.items():
        assert re.match(rf"^crw-rw-rw-\s.*\s{major},\s+{minor}\s", entries[name]), entries[name]
    links = {"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
             "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
    for name, target in links.items():
        assert entries[name].startswith("l") and entries[name].endswith(f"-> {target}"), \
            entries[name]
    for d in ("pts", "shm", "mqueue"):
        assert entries[d].startswith("d"), entries[d]
    assert "console" not in entries  # only with a terminal
    # the host's other devices are not there
    assert "vda" not in entries and "kmsg" not in entries


def test_dev_null_works_and_devices_cgroup_denies_others(ctx):
    out = ctx.sh("echo x > /dev/null; head -c 4 /dev/zero | wc -c; "
                 "head -c 4 /dev/urandom | wc -c")
    assert out.split() == ["4", "4"]


def test_linux_devices_mknod(ctx):
    def edit(spec):
        spec["linux"]["devices"] = [
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o620, "uid": 1000, "gid": 0},
            {"path": "/dev/myfifo", "type": "p"},
        ]
        spec["linux"]["resources"]["devices"].append(
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    out = ctx.sh("ls -ln /dev/mynull /dev/myfifo; echo x > /dev/mynull && echo wrote", edit=edit)
    lines = out.splitlines()
    assert re.match(r"^prw-", lines[0]) and lines[0].endswith("/dev/myfifo"), out
    # root writes through the group bit: the default caps lack CAP_DAC_OVERRIDE
    assert re.match(r"^crw--w----\s+1\s+1000\s+0\s+1,\s+3\s", lines[1]), out
    assert lines[2] == "wrote"


def test_device_cgroup_denies_unlisted_device(ctx):
    def edit(spec):
        # /dev/kmsg (1, 11): made by mknod, but not in the devices cgroup allow list
        spec["linux"]["devices"] = [{"path": "/dev/mykmsg", "type": "c", "major": 1,
                                     "minor": 11, "fileMode": 0o600}]
    r = ctx.run(sh("ls -l /dev/mykmsg; head -c 1 /dev/mykmsg"), edit=edit)
    assert r.rc != 0 and "Operation not permitted" in r.err, r


@berth_only
def test_unknown_mount_option_refused(ctx):
    src = host_dir(ctx, "src")
    r = ctx.run(["true"], edit=add_mount("/data", "bind", src, ["bind", "bogus"]))
    assert r.rc != 0, r
    assert "mounts[7].options" in r.err and "bogus" in r.err, r
    assert os.listdir(ctx.root) == []


@runc_lacks("idmapped mounts (runc 1.1)")
def test_idmapped_bind_mount(ctx):
    # A mount's mapping is written to its user namespace as given (as runc and
    # crun do): containerID is the id on disk, hostID the id the mount shows.
    # Files owned by 1000 on disk show as 0; unmapped ids as the overflow id.
    src = host_dir(ctx, "owned", ["f", "g"])
    os.chown(os.path.join(src, "f"), 1000, 1000)
    mapping = [{"containerID": 1000, "hostID": 0, "size": 1}]

    def edit(spec):
        spec["mounts"].append({"destination": "/data", "type": "bind", "source": src,
                               "options": ["bind", "idmap"],
                               "uidMappings": mapping, "gidMappings": mapping})
    out = ctx.sh("stat -c '%u %g' /data/f /data/g", edit=edit)
    assert out == "0 0\n65534 65534\n", out
    out = ctx.sh("stat -c '%u %g' /data/f", edit=add_mount("/data", "bind", src, ["bind"]))
    assert out == "1000 1000\n", out


def test_bind_mount_ignores_filesystem_data_options(ctx):
    # runc passes "mode=755,size=1k" on a bind to the kernel, which ignores
    # them; berth drops them too, but still refuses unknown flag words.
    src = host_dir(ctx, "src", ["f"])
    out = ctx.sh("cat /data/f", edit=add_mount("/data", "bind", src, ["bind", "nosuid", "mode=755", "size=1k"]))
    assert out == "f\n"


# --- tmpcopyup: podman adds it to every --tmpfs -------------------------------


def tmpcopyup_bundle(ctx, script, options=("tmpcopyup",), dest="/data", fifo=False):
    b = ctx.bundle(sh(script), edit=add_mount(dest, "tmpfs", "tmpfs", list(options)))
    data = os.path.join(b, "rootfs", dest.lstrip("/"))
    os.makedirs(os.path.join(data, "sub", "deeper"))
    with open(os.path.join(data, "file"), "w") as f:
        f.write("from the image\n")
    os.chmod(os.path.join(data, "file"), 0o604)
    os.chown(os.path.join(data, "file"), 1000, 1001)
    os.symlink("../file", os.path.join(data, "sub", "link"))
    if fifo:
        os.mkfifo(os.path.join(data, "sub", "fifo"))
    with open(os.path.join(data, "sub", "deeper", "big"), "wb") as f:
        f.write(os.urandom(3 << 20))
    os.chmod(data, 0o710)
    return b, data


def test_tmpcopyup_copies_the_image_dir_into_the_tmpfs(ctx):
    b, data = tmpcopyup_bundle(ctx, "grep ' /data ' /proc/self/mounts | cut -d' ' -f3; cat /data/file; "
                               "stat -c '%a %u:%g %F' /data /data/file; readlink /data/sub/link; "
                               "md5sum /data/sub/deeper/big | cut -d' ' -f1; echo new > /data/new")
    cid = ctx.new_id()
    r = ctx.cmd("run", "--bundle", b, cid)
    assert r.rc == 0, r
    with open(os.path.join(data, "sub", "deeper", "big"), "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()
    assert r.out.split("\n") == ["tmpfs", "from the image", "710 0:0 directory", "604 1000:1001 regular file",
                                 "../file", digest, ""], r
    # Written to the tmpfs, not to the image.
    assert not os.path.exists(os.path.join(data, "new"))


@runc_lacks("fifos in tmpcopyup (runc 1.1 fails to lchown them)")
def test_tmpcopyup_copies_fifos(ctx):
    b, _ = tmpcopyup_bundle(ctx, "stat -c '%a %F' /data/sub/fifo", fifo=True)
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 0 and r.out == "644 fifo\n", r


def test_tmpcopyup_read_only_tmpfs_is_filled_then_read_only(ctx):
    b, _ = tmpcopyup_bundle(ctx, "cat /data/file; touch /data/x 2>&1; grep ' /data ' /proc/self/mounts",
                            options=("tmpcopyup", "ro", "nosuid"))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 0, r
    assert r.out.startswith("from the image\n") and "Read-only file system" in r.out, r
    assert " tmpfs ro,nosuid" in r.out, r


def test_tmpcopyup_of_missing_dir_gives_empty_tmpfs(ctx):
    out = ctx.sh("ls -A /nothing-here; grep -c ' /nothing-here ' /proc/self/mounts",
                 edit=add_mount("/nothing-here", "tmpfs", "tmpfs", ["tmpcopyup"]))
    assert out == "1\n", out
