"""Exec, Attach and PortForward: the RPCs, berthd's streaming server (HTTP
upgrade to SPDY/3.1), and k8s.io's remotecommand and portforward protocols
on top, driven by tests/cri/spdy_client.py as kubectl would.

The fixtures are test_containers.py's: busybox pulled through pod_berthd,
the `ctrs` leak check (containers, monitors, exec helpers, then `pods`':
mounts, netns, cgroups, and berthd's fd count).
"""

import json
import os
import socket
import time

import grpc
import pytest

import spdy_client as spdy
from test_containers import (SLEEP, code_of, create, ctr_config, exec_sync, image, pod_config,  # noqa: F401 (fixture)
                             run_pod, start, wait_state, EXITED)


def running(ctrs, tmp, args=SLEEP, name="web", **kw):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp, name=name, uid="u-" + name)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image_ref[0], args=args, **kw))
    start(ctrs, cid)
    return pod, cid


image_ref = [None]


@pytest.fixture
def busybox(image):
    image_ref[0] = image
    return image


def exec_url(c, cid, cmd, stdin=False, stdout=True, stderr=True, tty=False):
    return c.runtime.Exec(c.pb.ExecRequest(container_id=cid, cmd=cmd, stdin=stdin, stdout=stdout, stderr=stderr,
                                           tty=tty), timeout=30).url


def attach_url(c, cid, stdin=False, stdout=True, stderr=True, tty=False):
    return c.runtime.Attach(c.pb.AttachRequest(container_id=cid, stdin=stdin, stdout=stdout, stderr=stderr,
                                               tty=tty), timeout=30).url


def forward_url(c, pod, ports=()):
    return c.runtime.PortForward(c.pb.PortForwardRequest(pod_sandbox_id=pod, port=list(ports)), timeout=30).url


def remove_pod(c, pod):
    c.runtime.RemovePodSandbox(c.pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_exec_stdout_stderr_exit_code(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    url = exec_url(ctrs, cid, ["/bin/sh", "-c", "echo out; echo err >&2"])
    assert url.startswith("http://127.0.0.1:") and "/exec/" in url
    out, err, status = spdy.remote(url)
    assert (out, err) == (b"out\n", b"err\n")
    assert status == {"metadata": {}, "status": "Success"}
    out, err, status = spdy.remote(exec_url(ctrs, cid, ["/bin/sh", "-c", "echo gone >&2; exit 3"]))
    assert err == b"gone\n"
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    # A binary that is not there: the error stream says why.
    _, _, status = spdy.remote(exec_url(ctrs, cid, ["/no/such/binary"]))
    assert status["status"] == "Failure" and "/no/such/binary" in status["message"], status
    remove_pod(ctrs, pod)


def test_exec_stdin_and_large_output(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    data = os.urandom(300 * 1024).hex().encode()  # 600 KiB through stdin and back
    out, err, status = spdy.remote(exec_url(ctrs, cid, ["/bin/cat"], stdin=True, stderr=False), stdin=data,
                                   stderr=False)
    assert status == {"metadata": {}, "status": "Success"}, (status, len(out))
    assert out == data
    # stdin's FIN is the process' EOF.
    out, _, status = spdy.remote(exec_url(ctrs, cid, ["/bin/busybox", "wc", "-c"], stdin=True), stdin=b"12345")
    assert out.strip() == b"5" and status["status"] == "Success"
    remove_pod(ctrs, pod)


def test_exec_tty_and_resize(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    url = exec_url(ctrs, cid, ["/bin/sh", "-c", "tty; stty size; read x; stty size; echo got=$x"], stdin=True,
                   stderr=False, tty=True)
    c, ids = spdy.remote(url, stdin=b"", stderr=False, tty=True, resize=(100, 30), keep_open=True)
    out = c.read_until(ids["stdout"], b"30 100")
    assert b"/dev/pts/" in out and b"30 100" in out, out
    c.send(ids["resize"], json.dumps({"Width": 120, "Height": 40}).encode() + b"\n")
    time.sleep(0.3)
    c.send(ids["stdin"], b"hello\r")
    out, _, status = spdy.finish(c, ids)
    assert b"40 120" in out and b"got=hello" in out, out
    assert status["status"] == "Success"
    remove_pod(ctrs, pod)


def test_exec_older_protocols(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    for proto in ("v3.channel.k8s.io", "v2.channel.k8s.io"):
        out, _, status = spdy.remote(exec_url(ctrs, cid, ["/bin/sh", "-c", "echo hi; exit 2"]), protocol=proto)
        assert out == b"hi\n"
        assert b"exit code 2" in status, status  # v1-v3: the error's text
        out, _, status = spdy.remote(exec_url(ctrs, cid, ["/bin/busybox", "echo", "ok"]), protocol=proto)
        assert out == b"ok\n" and status == b""
    remove_pod(ctrs, pod)


def test_exec_client_gone_kills_process(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    c, ids = spdy.remote(exec_url(ctrs, cid, ["/bin/sh", "-c", "echo started; exec /bin/busybox sleep 1234"]),
                         keep_open=True)
    c.read_until(ids["stdout"], b"started")
    c.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        _, ps, _ = exec_sync(ctrs, cid, "/bin/sh", "-c", "ls -l /proc/*/exe 2>/dev/null; cat /proc/*/cmdline")
        if "1234" not in ps:
            break
        time.sleep(0.2)
    _, ps, _ = exec_sync(ctrs, cid, "/bin/sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    assert "sleep 1234" not in ps
    remove_pod(ctrs, pod)


def test_rpc_validation(ctrs, busybox, tmp):
    pb = ctrs.pb
    pod, cid = running(ctrs, tmp)
    code, msg = code_of(lambda: exec_url(ctrs, cid, ["/bin/busybox", "true"], stdout=False, stderr=False))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "one of stdin, stdout, or stderr" in msg
    code, msg = code_of(lambda: exec_url(ctrs, cid, ["/bin/busybox", "true"], tty=True, stderr=True))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "tty and stderr" in msg
    code, msg = code_of(lambda: exec_url(ctrs, cid, []))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "cmd" in msg
    code, _ = code_of(lambda: exec_url(ctrs, "0" * 64, ["/bin/busybox", "true"]))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = code_of(lambda: attach_url(ctrs, "0" * 64))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = code_of(lambda: forward_url(ctrs, "0" * 64, [80]))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = code_of(lambda: forward_url(ctrs, pod, [0]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # A created, not started container is not running.
    pcfg = pod_config(pb, tmp, name="web", uid="u-web")
    created = create(ctrs, pod, pcfg, ctr_config(pb, busybox, name="idle"))
    code, msg = code_of(lambda: exec_url(ctrs, created, ["/bin/busybox", "true"]))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not running" in msg
    code, msg = code_of(lambda: attach_url(ctrs, created))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    ctrs.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    code, msg = code_of(lambda: forward_url(ctrs, pod, [80]))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not ready" in msg
    remove_pod(ctrs, pod)


def test_token_one_use_and_bad_requests(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp)
    url = exec_url(ctrs, cid, ["/bin/busybox", "echo", "once"])
    out, _, status = spdy.remote(url)
    assert out == b"once\n"
    with pytest.raises(spdy.UpgradeError) as e:
        spdy.remote(url)
    assert e.value.status == 404 and "unknown or expired token" in e.value.body
    # A token of another kind is no token here.
    token = exec_url(ctrs, cid, ["/bin/busybox", "true"]).rsplit("/", 1)[1]
    base = url.rsplit("/exec/", 1)[0]
    assert spdy.http_error(f"{base}/attach/{token}")[0] == 404
    # ... and it was used up by that try.
    assert spdy.http_error(f"{base}/exec/{token}")[0] == 404
    status, body = spdy.http_error(f"{base}/nothing/here")
    assert status == 404 and "/exec/TOKEN" in body
    status, body = spdy.http_error(exec_url(ctrs, cid, ["/bin/busybox", "true"]), upgrade=False)
    assert status == 400 and "Connection: Upgrade" in body
    status, body = spdy.http_error(exec_url(ctrs, cid, ["/bin/busybox", "true"]), extra=["Connection: Upgrade",
                                                                             "Upgrade: websocket"], upgrade=False)
    assert status == 400 and "SPDY/3.1" in body
    status, body = spdy.http_error(exec_url(ctrs, cid, ["/bin/busybox", "true"]), protocols=["v5.channel.k8s.io"])
    assert status == 403 and "unable to negotiate protocol" in body
    status, body = spdy.http_error(exec_url(ctrs, cid, ["/bin/busybox", "true"]), method="PUT")
    assert status == 405
    status, body = spdy.http_error(url, raw=b"GET /exec/x HTTP/1.0\r\n\r\n")
    assert status == 505
    status, body = spdy.http_error(url, raw=b"GET /exec/x HTTP/1.1\r\nBad Header\r\n\r\n")
    assert status == 400 and "header" in body
    status, body = spdy.http_error(url, raw=b"GET /exec/x HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    assert status == 431
    status, body = spdy.http_error(url, raw=b"POST /exec/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    assert status == 400 and "body" in body
    # A connection that sends nothing is closed (after the head timeout) and
    # does not hold up others meanwhile.
    idle = socket.create_connection(spdy.urllib.parse.urlparse(url)[1].split(":")[0:1][0:1] and
                                    (spdy.urllib.parse.urlparse(url).hostname, spdy.urllib.parse.urlparse(url).port))
    out, _, _ = spdy.remote(exec_url(ctrs, cid, ["/bin/busybox", "echo", "meanwhile"]))
    assert out == b"meanwhile\n"
    idle.settimeout(15)
    assert b"408" in idle.recv(4096)
    idle.close()
    remove_pod(ctrs, pod)


def test_token_expires(ctrs, busybox, tmp, monkeypatch):
    """The kubelet's cache keeps a request for one minute."""
    pod, cid = running(ctrs, tmp)
    url = exec_url(ctrs, cid, ["/bin/busybox", "echo", "late"])
    time.sleep(61)
    with pytest.raises(spdy.UpgradeError) as e:
        spdy.remote(url)
    assert e.value.status == 404
    remove_pod(ctrs, pod)


def test_spdy_control_frames(ctrs, busybox, tmp):
    """PING is echoed, SETTINGS and WINDOW_UPDATE are accepted, a stream
    type that was not asked for is reset, and a malformed frame ends the
    session with GOAWAY."""
    pod, cid = running(ctrs, tmp)
    c = spdy.Conn(exec_url(ctrs, cid, ["/bin/busybox", "echo", "x"], stderr=False))
    c.raw(spdy.control(spdy.SETTINGS, 0, b"\0\0\0\1" + b"\0\0\0\7" + b"\0\1\0\0"))
    c.raw(spdy.control(spdy.WINDOW_UPDATE, 0, b"\0\0\0\1\0\1\0\0"))
    c.ping(7)
    c.wait(lambda: 7 in c.pings)
    bad = c.open({"streamType": "stderr"})  # stderr was not asked for
    c.wait(lambda: c.streams[bad].reset is not None)
    e = c.open({"streamType": "error"})
    o = c.open({"streamType": "stdout"})
    assert c.read_all(o) == b"x\n"
    assert json.loads(c.read_all(e))["status"] == "Success"
    c.close()
    c = spdy.Conn(exec_url(ctrs, cid, ["/bin/busybox", "true"]))
    c.raw(b"\x80\x02\x00\x01\x00\x00\x00\x00")  # SPDY/2
    c.wait(lambda: c.goaway is not None or c.closed)
    c.close()
    remove_pod(ctrs, pod)


def test_attach_output_and_stdin(ctrs, busybox, tmp):
    pb = ctrs.pb
    pod, cid = running(ctrs, tmp, args=["/bin/sh", "-c", "echo ready; while read l; do echo got:$l; echo e:$l >&2; done;"
                                         " echo bye"], stdin=True, stdin_once=True)
    url = attach_url(ctrs, cid, stdin=True)
    c, ids = spdy.remote(url, stdin=b"", keep_open=True)
    c.send(ids["stdin"], b"one\n")
    assert b"got:one" in c.read_until(ids["stdout"], b"got:one")
    assert b"e:one" in c.read_until(ids["stderr"], b"e:one")
    c.send(ids["stdin"], b"two\n", fin=True)  # stdin_once: this ends the container's stdin
    out, err, status = spdy.finish(c, ids)
    assert b"got:two" in out and b"bye" in out and b"e:two" in err
    assert status == {"metadata": {}, "status": "Success"}
    assert wait_state(ctrs, cid, EXITED).exit_code == 0
    remove_pod(ctrs, pod)


def test_attach_two_clients_and_detach(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp, args=["/bin/sh", "-c", "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"])
    a, aids = spdy.remote(attach_url(ctrs, cid, stderr=False), stderr=False, keep_open=True)
    b, bids = spdy.remote(attach_url(ctrs, cid), keep_open=True)
    a.read_until(aids["stdout"], b"tick")
    b.read_until(bids["stdout"], b"tick")
    a.close()  # a detaches; the container goes on
    n = len(b.read_until(bids["stdout"], b"\n"))
    b.wait(lambda: len(b.streams[bids["stdout"]].data) > n + 10)
    b.close()
    _, ps, _ = exec_sync(ctrs, cid, "/bin/busybox", "true")
    remove_pod(ctrs, pod)


def test_attach_tty_resize(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp, args=["/bin/sh", "-c", "while read l; do stty size; done"], stdin=True, tty=True)
    c, ids = spdy.remote(attach_url(ctrs, cid, stdin=True, stderr=False, tty=True), stdin=b"", stderr=False, tty=True,
                         resize=(91, 33), keep_open=True)
    time.sleep(0.3)
    c.send(ids["stdin"], b"\r")
    assert b"33 91" in c.read_until(ids["stdout"], b"33 91")
    c.close()
    remove_pod(ctrs, pod)


HTTPD = ["/bin/sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && "
         "exec /bin/busybox httpd -f -p 127.0.0.1:8080 -h /www"]


def test_port_forward_http(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp, args=HTTPD)
    url = forward_url(ctrs, pod, [8080])
    assert "/portforward/" in url
    req = b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n"
    deadline = time.time() + 10
    while True:
        data, err = spdy.forward(url, 8080, 0, req)
        if data or time.time() > deadline:
            break
        url = forward_url(ctrs, pod, [8080])  # httpd not listening yet
        time.sleep(0.2)
    assert data.startswith(b"HTTP/1.") and b"hello-from-pod" in data and err == b"", (data, err)
    # Requests one after another on one connection, as kubectl port-forward
    # makes them (two streams each): more than a session has stream slots.
    c = spdy.Conn(forward_url(ctrs, pod, [8080]), ("portforward.k8s.io",))
    for i in range(80):
        data, err = spdy.forward_on(c, 8080, i, req)
        assert b"hello-from-pod" in data and err == b""
    c.close()
    # A port nobody listens on: the error stream says so.
    data, err = spdy.forward(forward_url(ctrs, pod, [9]), 9, 0, b"x")
    assert data == b"" and b"port 9" in err and b"refused" in err.lower(), err
    # The pod's loopback, not the host's: a host listener on the port is not reached.
    host = socket.socket()
    host.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    host.bind(("127.0.0.1", 0))
    host.listen()
    port = host.getsockname()[1]
    data, err = spdy.forward(forward_url(ctrs, pod, [port]), port, 0, b"x")
    assert b"refused" in err.lower()
    host.close()
    remove_pod(ctrs, pod)


def test_port_forward_host_network(ctrs, busybox, tmp):
    """A pod on the host's network forwards to the host's loopback."""
    pb = ctrs.pb
    lx = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=2, pid=1, ipc=2)))
    pod = run_pod(ctrs, pod_config(pb, tmp, name="hostnet", uid="u-hostnet", hostname="", linux=lx))
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    port = host.getsockname()[1]
    got = []

    def serve():
        conn, _ = host.accept()
        got.append(conn.recv(100))
        conn.sendall(b"from-host")
        conn.close()
    import threading
    t = threading.Thread(target=serve)
    t.start()
    data, err = spdy.forward(forward_url(ctrs, pod, [port]), port, 7, b"ping")
    t.join(10)
    host.close()
    assert (data, err, got) == (b"from-host", b"", [b"ping"])
    remove_pod(ctrs, pod)


def test_port_forward_bad_streams(ctrs, busybox, tmp):
    pod, cid = running(ctrs, tmp, args=HTTPD)
    c = spdy.Conn(forward_url(ctrs, pod, [8080]), ("portforward.k8s.io",))
    s1 = c.open({"streamType": "data"})  # no port
    s2 = c.open({"streamType": "data", "port": "99999", "requestID": "1"})
    s3 = c.open({"streamType": "stdout", "port": "80", "requestID": "2"})
    c.wait(lambda: all(c.streams[s].reset is not None for s in (s1, s2, s3)))
    c.close()
    remove_pod(ctrs, pod)


CRICTL = os.environ.get("CRICTL")


@pytest.mark.skipif(not CRICTL, reason="CRICTL=/path/to/crictl runs crictl exec, attach and port-forward")
def test_crictl(ctrs, busybox, tmp, pod_berthd):
    """crictl (Go: k8s.io/client-go's SPDY executor over moby/spdystream)
    against berthd's streaming server."""
    import subprocess
    ep = f"unix://{pod_berthd.address}"
    base = [CRICTL, "--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", "20s"]
    pod, cid = running(ctrs, tmp, args=HTTPD)
    r = subprocess.run(base + ["exec", cid, "/bin/sh", "-c", "echo out; echo err >&2; exit 4"], capture_output=True,
                       timeout=60)
    # crictl exits 1 and names the code it read from the v4 status.
    assert r.stdout == b"out\n" and b"err\n" in r.stderr and b"exit code 4" in r.stderr, r
    r = subprocess.run(base + ["exec", "-i", cid, "/bin/busybox", "wc", "-c"], input=b"x" * 100000,
                       capture_output=True, timeout=60)
    assert r.stdout.strip() == b"100000", r
    # -t needs a terminal: script(1) gives crictl one.
    cmd = " ".join(base + ["exec", "-it", cid, "/bin/sh", "-c", "'tty; stty size'"])
    r = subprocess.run(["script", "-qec", f"stty rows 27 cols 81; {cmd}", "/dev/null"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert b"/dev/pts/" in r.stdout and b"27 81" in r.stdout, r
    # port-forward: a local port through to the pod's httpd.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    pf = subprocess.Popen(base + ["port-forward", pod, f"{port}:8080"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    try:
        deadline, body = time.time() + 20, b""
        while time.time() < deadline and b"hello-from-pod" not in body:
            r = subprocess.run(["wget", "-qO-", f"http://127.0.0.1:{port}/index.html"], capture_output=True,
                               timeout=20)
            body = r.stdout
            time.sleep(0.2)
        assert b"hello-from-pod" in body
        # One SPDY connection, two streams per local connection: more
        # requests than a session has stream slots.
        for _ in range(60):
            r = subprocess.run(["wget", "-qO-", f"http://127.0.0.1:{port}/index.html"], capture_output=True,
                               timeout=20)
            assert b"hello-from-pod" in r.stdout, r
    finally:
        pf.kill()
        pf.wait()
    # attach: the output of a running container.
    tpod, ticker = running(ctrs, tmp, name="ticker",
                        args=["/bin/sh", "-c", "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"])
    at = subprocess.Popen(base + ["attach", ticker], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(2)
    finally:
        at.kill()
        out = at.communicate()[0]
    assert b"tick" in out, out
    remove_pod(ctrs, tpod)
    remove_pod(ctrs, pod)


def test_stream_server_address_config(pb, tmp):
    """stream_server_address: where the server listens (127.0.0.1:0 by
    default: an ephemeral loopback port); Status's verbose config shows the
    one bound.  A bad value refuses the start, naming the key."""
    import subprocess
    from conftest import Berthd, Client
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = Berthd(os.path.join(tmp, "a"), config={"stream_server_address": f"127.0.0.1:{port}"}).start()
    try:
        c = Client(pb, d.address)
        cfg = json.loads(c.runtime.Status(pb[0].StatusRequest(verbose=True), timeout=10).info["config"])
        assert cfg["stream_server_address"] == f"127.0.0.1:{port}"
        assert cfg["stream_server"] == f"http://127.0.0.1:{port}"
        c.close()
        # Someone else's port: the start fails.
        e = Berthd(os.path.join(tmp, "b"), config={"stream_server_address": f"127.0.0.1:{port}"})
        r = subprocess.run(e.argv(), capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "stream_server_address" in r.stderr and "in use" in r.stderr, r
    finally:
        d.stop()
    d = Berthd(os.path.join(tmp, "c")).start()
    try:
        c = Client(pb, d.address)
        cfg = json.loads(c.runtime.Status(pb[0].StatusRequest(verbose=True), timeout=10).info["config"])
        assert cfg["stream_server_address"] == "127.0.0.1:0" and cfg["stream_server"].startswith("http://127.0.0.1:")
        c.close()
    finally:
        d.stop()
    for bad, why in (("localhost:80", "must be an IP address"), ("127.0.0.1", "HOST:PORT"),
                     ("127.0.0.1:70000", "bad port"), (80, "expected string")):
        e = Berthd(os.path.join(tmp, f"bad{bad}"), config={"stream_server_address": bad})
        r = subprocess.run(e.argv(), capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "stream_server_address" in r.stderr and why in r.stderr, (bad, r.stderr)
