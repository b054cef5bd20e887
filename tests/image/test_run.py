"""A container run by `berth` on the overlay root of a pulled image."""

import json
import os
import subprocess
import secrets

import pytest

from conftest import BERTH


@pytest.mark.skipif(not os.access(BERTH, os.X_OK), reason=f"no berth binary at {BERTH}")
def test_run_container_on_pulled_image(registry, store, tmp):
    ref = f"{registry.host}/test/busybox:1"
    store.ctl("pull", ref)
    cfg = store.inspect(ref)["Config"]
    bundle = os.path.join(tmp, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    state = os.path.join(tmp, "state")
    cid = f"img-{secrets.token_hex(4)}"
    store.ctl("image", "mount", ref, rootfs, "--id", cid)
    try:
        subprocess.run([BERTH, "spec", "--bundle", bundle], check=True, capture_output=True)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        # The image config drives the process, as an engine would do it.
        spec["root"] = {"path": rootfs, "readonly": False}
        spec["process"]["terminal"] = False
        spec["process"]["args"] = cfg["Entrypoint"] + [
            'echo "$GREETING"; cat /hello.txt /etc/motd; pwd; ls /opq; test -e /gone || echo gone-is-gone;'
            ' echo written > /new-file']
        spec["process"]["env"] = cfg["Env"]
        spec["process"]["cwd"] = cfg["WorkingDir"]
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        p = subprocess.run([BERTH, "--root", state, "run", "--bundle", bundle, cid],
                           capture_output=True, text=True, timeout=60)
        subprocess.run([BERTH, "--root", state, "delete", "--force", cid], capture_output=True)
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines() == ["hello from berth", "hello", "welcome to a berth test image", "/data",
                                         "c", "gone-is-gone"]
        # The write went to this container's upper dir.
        assert os.path.exists(store.path("containers", cid, "upper", "new-file"))
    finally:
        store.ctl("image", "unmount", rootfs)
    assert not os.path.exists(store.path("containers", cid))
