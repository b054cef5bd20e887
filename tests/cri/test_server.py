"""berthd as a process: its socket, start-up errors, signals, and calls
served side by side."""

import http.server
import json
import os
import socket
import stat
import subprocess
import threading
import time

import grpc
import pytest

from conftest import BERTHD, Berthd, Client, free_port


def test_socket_mode(berthd):
    st = os.stat(berthd.address)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_sigterm_removes_socket(tmp, pb, spawn):
    d = spawn(tmp)
    c = Client(pb, d.address)
    assert c.runtime.Version(c.pb.VersionRequest(), timeout=10).runtime_name == "berth"
    c.close()
    assert d.stop() == 0
    assert not os.path.exists(d.address)
    assert not os.path.exists(os.path.join(d.state, "registries.json"))


def test_sigint_stops_too(tmp, spawn):
    d = spawn(tmp)
    d.proc.send_signal(2)
    assert d.proc.wait(timeout=20) == 0
    assert not os.path.exists(d.address)


def test_stale_socket_is_replaced(tmp, pb, spawn):
    path = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody listens: what a killed berthd leaves
    d = spawn(tmp, address=path)
    c = Client(pb, path)
    assert c.runtime.Version(c.pb.VersionRequest(), timeout=10).runtime_name == "berth"
    c.close()
    assert d.stop() == 0


def test_live_socket_is_not_stolen(tmp, berthd, cri):
    d = Berthd(tmp, address=berthd.address)
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "another server is listening" in p.stderr and berthd.address in p.stderr
    # The first one still answers on it.
    assert cri.runtime.Version(cri.pb.VersionRequest(), timeout=10).runtime_name == "berth"


def test_address_not_a_socket(tmp):
    path = os.path.join(tmp, "file")
    open(path, "w").close()
    d = Berthd(tmp, address=path)
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "is not a socket" in p.stderr
    assert os.path.isfile(path)


@pytest.mark.parametrize("config, message", [
    ({"registries": {"registry.example": {"mirror": "ftp://x"}}},
     'registries.registry.example.mirror: "ftp://x" is not an http:// or https:// URL'),
    ({"registries": {"registry.example": {"insecure": "yes"}}},
     "registries.registry.example.insecure: expected true or false"),
    ({"registries": {"registry.example": {"mirrors": "http://127.0.0.1:1"}}},
     "registries.registry.example.mirrors: unknown key"),
    ({"cgroup_driver": "systemd"}, 'cgroup_driver: "systemd" is not supported'),
    ({"cni": {"conf_dir": "relative"}}, "cni.conf_dir: expected an absolute path"),
    ({"cni": {"confdir": "/x"}}, "cni.confdir: unknown key"),
    ({"restrict_oom_score_adj": 1}, "restrict_oom_score_adj: expected true or false"),
    ({"sandbox_image": 3}, "sandbox_image: expected string"),
    ({"no_such_key": 1}, "no_such_key: unknown key"),
])
def test_config_errors_name_the_key(tmp, config, message):
    d = Berthd(tmp, config)
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert message in p.stderr and d.config_path in p.stderr
    assert not os.path.exists(d.address)


def test_config_file_missing(tmp):
    p = subprocess.run([BERTHD, "--address", os.path.join(tmp, "s.sock"), "--root", os.path.join(tmp, "root"),
                        "--state", os.path.join(tmp, "state"), "--config", os.path.join(tmp, "nope.json")],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "nope.json" in p.stderr and "no such file" in p.stderr


def test_config_not_json(tmp):
    d = Berthd(tmp)
    with open(d.config_path, "w") as f:
        f.write("{oops")
    p = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and d.config_path in p.stderr


class SlowRegistry:
    """Answers every request only once `release` is set (then 404): a pull
    from it hangs as long as the test wants."""

    def __init__(self):
        self.release = threading.Event()
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests += 1
                outer.release.wait(60)
                body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "not here"}]}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_slow_pull_does_not_block_other_calls(cri, registry):
    pb = cri.pb
    slow = SlowRegistry()
    try:
        pulls = [cri.image.PullImage.future(pb.PullImageRequest(image=pb.ImageSpec(image=f"{slow.host}/slow/img:{i}")),
                                            timeout=60) for i in range(3)]
        deadline = time.time() + 10
        while slow.requests < 3 and time.time() < deadline:
            time.sleep(0.02)
        assert slow.requests == 3, "the pulls did not reach the registry"
        # Three pulls hang; every other call still answers at once.
        for _ in range(20):
            t = time.monotonic()
            assert cri.runtime.Version(pb.VersionRequest(), timeout=5).runtime_name == "berth"
            cri.image.ListImages(pb.ListImagesRequest(), timeout=5)
            cri.image.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image="sha256:" + "0" * 64)), timeout=5)
            # RemoveImage does not wait for the pulls' store lock either.
            cri.image.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=f"{registry.host}/x/y:1")),
                                  timeout=5)
            assert time.monotonic() - t < 1.0
        assert not any(p.done() for p in pulls)
    finally:
        slow.release.set()
    for p in pulls:
        with pytest.raises(grpc.RpcError) as e:
            p.result(timeout=30)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    slow.stop()


def test_many_clients_at_once(cri, berthd, pb):
    """Twenty channels, each with its own connection, calling together."""
    errors = []

    def one():
        try:
            c = Client(pb, berthd.address)
            for _ in range(10):
                assert c.runtime.Version(c.pb.VersionRequest(), timeout=10).runtime_name == "berth"
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
