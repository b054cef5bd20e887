"""A pull killed at random points leaves a consistent store: only whole,
verified blobs and snapshots under their names, an index naming only
complete images, temporaries that prune removes, and a next pull that
works."""

import hashlib
import json
import os
import random
import signal
import time

import pytest

import images

MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_image(registry_factory, session_tmp):
    lay = images.Layout(os.path.join(session_tmp, "layouts", "big"))
    layers = [(images.random_layer(6 * MB, seed), "gzip") for seed in range(4)]
    # Many small files too: unpack takes a while and has many steps.
    t = images.Tar()
    for i in range(3000):
        t.file(f"many/{i // 100}/f{i}", b"x" * (i % 300))
    layers.append((t.bytes(), "gzip"))
    lay.image(layers, ref="big")
    reg = registry_factory()
    return reg.push(lay.path, "big", "test/big:1")


def tree(path):
    out = {}
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_size)
    return out


def check_consistent(store, reference):
    blobs = set(store.blobs())
    for name in blobs:
        with open(store.path("blobs", "sha256", name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name, f"blob {name} is not what its name says"
    if os.path.exists(store.path("index.json")):
        with open(store.path("index.json")) as f:
            index = json.load(f)
        for name, entry in index["images"].items():
            d = entry["digest"][7:]
            assert d in blobs, f"{name}: manifest missing"
            with open(store.path("blobs", "sha256", d)) as f:
                m = json.load(f)
            for desc in [m["config"]] + m["layers"]:
                assert desc["digest"][7:] in blobs, f"{name}: blob {desc['digest']} missing"
    for snap in store.snapshots():
        if snap.startswith("tmp-"):
            continue
        assert tree(store.path("snapshots", snap)) == reference[snap], f"snapshot {snap} incomplete"
    assert os.listdir(store.path("containers")) == []


def test_pull_killed_at_random_points(big_image, store, tmp):
    ref = big_image
    # A reference pull, timed.
    scratch = store.__class__(os.path.join(tmp, "scratch"), tmp)
    t0 = time.monotonic()
    scratch.ctl("pull", ref)
    duration = time.monotonic() - t0
    reference = {s: tree(scratch.path("snapshots", s)) for s in scratch.snapshots()}

    rng = random.Random(int(os.environ.get("BERTH_KILL_SEED", "7")))
    killed = 0
    for i in range(12):
        # Start from an empty store every other round, so early points recur
        # and the 0.7 x duration bound below falls inside those pulls; the
        # rounds between start from what the killed pull left (faster).
        if i % 2 == 0:
            store.ctl("prune")
            assert store.blobs() == []
        p = store.popen("pull", ref)
        time.sleep(rng.uniform(0, duration * 0.7))
        if p.poll() is None:
            killed += 1
        p.send_signal(signal.SIGKILL)
        p.communicate()
        check_consistent(store, reference)
        if store.images():
            store.ctl("rmi", ref)  # next round starts with leftovers only
    assert killed >= 6, f"only {killed} pulls were killed mid-way (pull takes {duration:.2f}s)"

    store.ctl("pull", ref)
    check_consistent(store, reference)
    assert [i["name"] for i in store.images()] == [ref]
    store.ctl("prune")
    assert os.listdir(store.path("ingest")) == []
    assert not [s for s in store.snapshots() if s.startswith("tmp-")]
    assert sorted(store.snapshots()) == sorted(reference)
