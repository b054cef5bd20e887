"""podman 4.3 (with conmon) running the runtime under test.

Each item of everyday use, and each container option minikube gives its
Kubernetes node container, checked from inside the container or from the
host.  The same tests pass with BERTH_BIN=/usr/sbin/runc."""

import json
import os
import pty
import re
import select
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from engines import IMAGE



def _host_bounding_set():
    # Everything the host can give: all capabilities less those this host
    # itself lacks (CAP_SYS_RESOURCE here).
    with open("/proc/self/status") as f:
        return int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", f.read(), re.M).group(1), 16)


ALL_CAPS = _host_bounding_set()


def status_hex(text, field):
    m = re.search(rf"^{field}:\s*([0-9a-f]+)$", text, re.M)
    assert m, f"{field} not in {text!r}"
    return int(m.group(1), 16)


def cap_bit(name):
    return 1 << {"CHOWN": 0, "NET_ADMIN": 12, "SYS_ADMIN": 21}[name]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(podman, script, *opts, rc=0):
    r = podman("run", "--rm", *opts, IMAGE, "sh", "-c", script)
    assert r.rc == rc, r
    return r.out


# --- run --rm and exit codes -------------------------------------------------


def test_run_rm_prints_and_returns_exit_code(podman):
    r = podman("run", "--rm", IMAGE, "sh", "-c", "echo hello from $(hostname); exit 3")
    assert r.rc == 3, r
    assert r.out.startswith("hello from "), r


@pytest.mark.parametrize("cmd", ["no-such-command", "/no/such/file"])
def test_missing_executable_exits_127(podman, cmd):
    # podman maps the runtime's "executable file not found" / "no such file
    # or directory" text to 127, as docker does.
    r = podman("run", "--rm", IMAGE, cmd)
    assert r.rc == 127, r
    assert cmd in r.err, r


def test_not_executable_exits_126(podman):
    r = podman("run", "--rm", IMAGE, "/tmp/image-file")
    assert r.rc == 126, r
    assert "permission denied" in r.err.lower(), r


def test_runtime_error_reaches_podman_through_json_log(podman):
    # The runtime is listed in runtime_supports_json: podman passes
    # --log-format=json and shows the message from the --log file.
    r = podman("run", "--rm", "--workdir", "/etc/passwd", IMAGE, "true")
    assert r.rc != 0, r
    assert "/etc/passwd" in r.err, r


# --- detached containers ------------------------------------------------------

LOOP = "echo started; trap 'echo got TERM; exit 0' TERM; while :; do sleep 0.1; done"


def test_detached_ps_logs_exec_stop_rm(podman):
    name = "berth-detached"
    podman.ok("run", "-d", "--name", name, IMAGE, "sh", "-c", LOOP)
    try:
        ps = json.loads(podman.ok("ps", "--format", "json").out)
        assert [c["Names"] for c in ps] == [[name]] and ps[0]["State"] == "running", ps
        deadline = time.time() + 10
        while "started" not in podman("logs", name).out and time.time() < deadline:
            time.sleep(0.1)
        assert "started" in podman("logs", name).out

        r = podman("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); exit 5")
        assert r.rc == 5 and r.out == "in sh\n", r
        r = podman("exec", name, "no-such-command")
        assert r.rc == 127, r
        r = podman("exec", "--user", "1000", "--workdir", "/home/user", "-e", "X=1", name, "sh", "-c", "id -u; pwd; echo $X")
        assert r.out.split() == ["1000", "/home/user", "1"], r

        podman.ok("stop", "-t", "10", name)
        inspect = json.loads(podman.ok("inspect", name).out)[0]["State"]
        assert inspect["Status"] == "exited" and inspect["ExitCode"] == 0, inspect
        assert "got TERM" in podman("logs", name).out
    finally:
        podman("rm", "-f", "-t", "0", name)
    assert podman("ps", "-aq").out.strip() == ""


def test_pause_unpause(podman):
    name = "berth-pause"
    podman.ok("run", "-d", "--name", name, IMAGE, "sleep", "1000")
    try:
        podman.ok("pause", name)
        assert podman.ok("inspect", "--format", "{{.State.Status}}", name).out.strip() == "paused"
        pid = int(podman.ok("inspect", "--format", "{{.State.Pid}}", name).out)
        with open(f"/proc/{pid}/cgroup") as f:
            freezer = [line.split(":", 2)[2].strip() for line in f if ":freezer:" in line]
        if freezer:  # cgroup v1: the freezer says so from the host
            with open(f"/sys/fs/cgroup/freezer{freezer[0]}/freezer.state") as f:
                assert f.read().strip() == "FROZEN"
        podman.ok("unpause", name)
        assert podman.ok("inspect", "--format", "{{.State.Status}}", name).out.strip() == "running"
        assert podman.ok("exec", name, "echo", "alive").out == "alive\n"
    finally:
        podman("rm", "-f", "-t", "0", name)


def test_update_changes_limits_of_running_container(podman):
    name = "berth-update"
    podman.ok("run", "-d", "--name", name, "--memory", "128m", IMAGE, "sleep", "1000")
    try:
        podman.ok("update", "--memory", "96m", "--cpus", "0.5", name)
        out = podman.ok("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").out.split()
        assert out == [str(96 << 20), "50000"], out
    finally:
        podman("rm", "-f", "-t", "0", name)


def test_tty_session(podman):
    master, slave = pty.openpty()
    proc = subprocess.Popen(podman.argv("run", "-it", "--rm", IMAGE, "sh"), env=podman.env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        os.write(master, b"echo tty=$(tty); stty size; exit 7\n")
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        assert proc.wait(timeout=30) == 7, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"tty=/dev/pts/0" in out, out


# --- the options minikube gives its node container ---------------------------


def test_privileged_with_fuse_and_seccomp_unconfined(podman):
    out = sh(podman, "grep -E '^(CapEff|Seccomp):' /proc/self/status; stat -c '%F %t %T' /dev/fuse; "
             "grep ' /sys ' /proc/self/mounts",
             "--privileged", "--device", "/dev/fuse", "--security-opt", "seccomp=unconfined")
    assert status_hex(out, "CapEff") == ALL_CAPS, out
    assert re.search(r"^Seccomp:\s*0$", out, re.M), out
    assert "character special file a e5" in out, out  # 10:229
    assert re.search(r" /sys sysfs rw", out), out


def test_default_seccomp_filter_applies_without_unconfined(podman):
    out = sh(podman, "grep ^Seccomp: /proc/self/status")
    assert re.search(r"^Seccomp:\s*2$", out, re.M), out


def test_tmpfs_tmpcopyup_keeps_image_contents(podman):
    out = sh(podman, "grep -E ' /(tmp|run) ' /proc/self/mounts | cut -d' ' -f2,3; cat /tmp/image-file; "
             "stat -c '%a %u:%g %n' /tmp /run/lock /run/lock/image-lock; readlink /run/link; "
             "echo new > /tmp/new && cat /tmp/new",
             "--tmpfs", "/tmp", "--tmpfs", "/run")
    assert "/tmp tmpfs" in out and "/run tmpfs" in out, out
    assert "from the image" in out, out
    assert "1777 0:0 /tmp" in out, out                       # the image's mode, not tmpfs' default
    assert "600 1000:1000 /run/lock/image-lock" in out, out  # owner and mode copied
    assert "/etc/passwd\n" in out and "new\n" in out, out


def test_readonly_bind_of_modules_dir(podman, tmp_path):
    modules = tmp_path / "modules"
    (modules / "6.1.0-test").mkdir(parents=True)
    (modules / "6.1.0-test" / "modules.dep").write_text("kernel/fs/fuse.ko:\n")
    out = sh(podman, "cat /lib/modules/6.1.0-test/modules.dep; touch /lib/modules/x 2>&1; true",
             "-v", f"{modules}:/lib/modules:ro")
    assert "kernel/fs/fuse.ko" in out and "Read-only file system" in out, out
    assert not (modules / "x").exists()


def test_hostname_name_and_labels(podman):
    name = "berth-node"
    podman.ok("run", "-d", "--name", name, "--hostname", "minikube", "--label", "role=node",
              "--label", "name.minikube.sigs.k8s.io=minikube", IMAGE, "sleep", "1000")
    try:
        assert podman.ok("exec", name, "hostname").out == "minikube\n"
        labels = json.loads(podman.ok("inspect", name).out)[0]["Config"]["Labels"]
        assert labels["role"] == "node" and labels["name.minikube.sigs.k8s.io"] == "minikube", labels
        ids = podman.ok("ps", "-q", "--filter", "label=role=node").out.split()
        assert len(ids) == 1, ids
    finally:
        podman("rm", "-f", "-t", "0", name)


def test_named_volume_at_var_persists(podman):
    podman.ok("volume", "create", "berth-var")
    try:
        sh(podman, "echo kept > /var/data", "-v", "berth-var:/var")
        assert sh(podman, "cat /var/data", "-v", "berth-var:/var") == "kept\n"
    finally:
        podman("volume", "rm", "-f", "berth-var")


def test_memory_and_swap_limits(podman):
    out = sh(podman, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes "
             "2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max",
             "--memory", "256m", "--memory-swap", "512m")
    assert out.split() in ([str(256 << 20), str(512 << 20)], [str(256 << 20), str(256 << 20)]), out


def test_cpus_limit(podman):
    out = sh(podman, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null "
             "|| cat /sys/fs/cgroup/cpu.max", "--cpus", "1.5")
    assert out.split() == ["150000", "100000"], out


def test_env_from_command_line_and_image(podman):
    out = sh(podman, "echo $FOO $IMAGE_VAR $container", "-e", "FOO=bar", "-e", "container=podman")
    assert out == "bar from-image podman\n", out


def test_port_mapping_and_static_ip(podman, tmp_path):
    (tmp_path / "index.html").write_text("served by the container\n")
    port = free_port()
    ip = podman.subnet.replace("0/24", "9")
    name = "berth-web"
    podman.ok("run", "-d", "--name", name, "--network", podman.network, "--ip", ip,
              "-p", f"127.0.0.1:{port}:80", "-v", f"{tmp_path}:/www:ro", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        assert f"inet {ip}/24" in podman.ok("exec", name, "ip", "-4", "addr").out
        for url in (f"http://127.0.0.1:{port}/index.html", f"http://{ip}/index.html"):
            body, deadline = None, time.time() + 15
            while body is None:
                try:
                    body = urllib.request.urlopen(url, timeout=2).read().decode()
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            assert body == "served by the container\n", url
    finally:
        podman("rm", "-f", "-t", "0", name)


def test_userns_host(podman):
    assert sh(podman, "cat /proc/self/uid_map", "--userns=host").split() == ["0", "0", "4294967295"]


def test_read_only_root(podman):
    out = sh(podman, "touch /etc/x 2>&1; touch /tmp/ok /run/ok /var/tmp/ok && echo writable-tmp", "--read-only")
    assert "Read-only file system" in out and "writable-tmp" in out, out


@pytest.mark.parametrize("user,expect", [("1000:1000", "1000 1000"), ("user", "1000 1000"), ("0:1000", "0 1000")])
def test_user(podman, user, expect):
    assert sh(podman, "echo $(id -u) $(id -g)", "--user", user).strip() == expect


def test_cap_add_and_drop(podman):
    out = sh(podman, "grep -E '^Cap(Eff|Bnd):' /proc/self/status", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN")
    for field in ("CapEff", "CapBnd"):
        caps = status_hex(out, field)
        assert caps & cap_bit("NET_ADMIN") and not caps & cap_bit("CHOWN"), out
        assert not caps & cap_bit("SYS_ADMIN"), out


def test_pids_limit(podman):
    out = sh(podman, "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max", "--pids-limit", "50")
    assert out == "50\n", out


def test_ulimit(podman):
    out = sh(podman, "ulimit -n; ulimit -Hn; ulimit -u", "--ulimit", "nofile=512:1024", "--ulimit", "nproc=100:200")
    assert out.split() == ["512", "1024", "100"], out


def test_minikube_style_node_container(podman, tmp_path):
    """The whole set of options at once, as `minikube start --driver=podman`
    creates its node: privileged, tmpfs /tmp and /run, /lib/modules ro,
    labels, a volume at /var, memory and CPU limits, a static IP and a
    published port, then exec into it, stop and remove it."""
    modules = tmp_path / "modules"
    modules.mkdir()
    port = free_port()
    ip = podman.subnet.replace("0/24", "10")
    name = "berth-minikube"
    podman.ok("volume", "create", name)
    try:
        podman.ok("run", "-d", "-t", "--privileged", "--security-opt", "seccomp=unconfined",
                  "--security-opt", "label=disable", "--tmpfs", "/tmp", "--tmpfs", "/run",
                  "-v", f"{modules}:/lib/modules:ro", "--hostname", name, "--name", name,
                  "--label", "created_by.minikube.sigs.k8s.io=true", "--label", f"name.minikube.sigs.k8s.io={name}",
                  "--label", "role.minikube.sigs.k8s.io=", "--volume", f"{name}:/var", "--memory=512m",
                  "--memory-swap=512m", "--cpus=1", "-e", "container=podman", "--network", podman.network,
                  "--ip", ip, "--expose", "8443", "--publish", f"127.0.0.1:{port}:8443", IMAGE, "sh", "-c",
                  "mkdir -p /var/lib/minikube; exec httpd -f -p 8443 -h /var/lib/minikube")
        out = podman.ok("exec", name, "sh", "-c", "hostname; cat /tmp/image-file; grep CapEff /proc/self/status; "
                        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo $container").out
        assert out.split("\n")[:2] == [name, "from the image"], out
        assert status_hex(out, "CapEff") == ALL_CAPS and str(512 << 20) in out and "podman" in out, out
        podman.ok("exec", name, "sh", "-c", "echo ok > /var/lib/minikube/healthz")
        deadline = time.time() + 15
        while True:
            try:
                assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read() == b"ok\n"
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        podman.ok("stop", "-t", "2", name)
        podman.ok("rm", name)
    finally:
        podman("rm", "-f", "-t", "0", name)
        podman("volume", "rm", "-f", name)
