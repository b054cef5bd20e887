#!/usr/bin/python3
"""berth, runc and crun under real engines (issue 6), in one run:

    sudo bench/engines.sh [--rounds R] [--per-round N] [--runtimes berth,runc,crun]

1. `podman run --rm --network none IMAGE true`  (podman 4.3 + conmon)
2. `ctr run --rm --runc-binary RT IMAGE ID true` (containerd 1.6, runc v2 shim)

Each engine runs in a private sandbox (tests/engines/engines.py: its own
root, state, socket and configuration; the image is the engine tests' busybox
image).  Each round runs N containers per runtime, the runtimes taking turns
container by container in an order that rotates, so noise hits them alike;
the figure per runtime is the wall time of one command, min and median over
all rounds, with the ratio of each median to berth's.

`--network none` for podman: the CNI bridge set-up is podman's own work and
the noisiest part of its run; it does not involve the runtime.

crun 1.8.1 refuses this host's cgroup v1 "hybrid" layout.  On such a host
a helper process holds a mount namespace (`unshare -m --propagation slave`:
the engines' later mounts still reach it) with /sys/fs/cgroup/unified
unmounted, and the engines are given a wrapper as crun that runs
`nsenter -t HELPER -m -- /usr/bin/crun ARGS`.  The hop is timed alone and
the wrapper counts its calls, so the "crun-net" row subtracts hop x calls
per container.  (Running the whole engine inside such a namespace instead
makes podman wait 20 s for every container's exit, whatever the runtime.)
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "engines"))

import engines  # noqa: E402
import oci_image  # noqa: E402

HYBRID_V2 = "/sys/fs/cgroup/unified"


def hybrid_host():
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == HYBRID_V2 for line in f)


class CrunWrapper:
    """A script that runs crun in a new mount namespace without the hybrid
    cgroup2 mount (see the module's docstring)."""

    HOP = f"exec /usr/bin/unshare -m --propagation slave /bin/sh -c 'umount {HYBRID_V2} && exec \"$0\" \"$@\"'"

    def __init__(self, work):
        self.calls = os.path.join(work, "crun-calls")
        self.path = os.path.join(work, "crun")
        with open(self.path, "w") as f:
            f.write(f"#!/bin/sh\necho >> {self.calls}\n{self.HOP} /usr/bin/crun \"$@\"\n")
        os.chmod(self.path, 0o755)

    def hop_ns(self, n=50):
        """Median extra cost of one call through the wrapper."""
        probe = os.path.join(os.path.dirname(self.path), "hop-probe")
        with open(probe, "w") as f:
            f.write(f"#!/bin/sh\necho >> /dev/null\n{self.HOP} /bin/true\n")
        os.chmod(probe, 0o755)
        bare, wrapped = [], []
        for _ in range(n):
            bare.append(timed(["/bin/true"]))
            wrapped.append(timed([probe]))
        return statistics.median(wrapped) - statistics.median(bare)

    def count(self):
        try:
            with open(self.calls) as f:
                return sum(1 for _ in f)
        except OSError:
            return 0



def timed(argv, env=None):
    t0 = time.perf_counter_ns()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    ns = time.perf_counter_ns() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return ns


def report(title, samples, names, crun_net=None):
    print(f"\n{title}")
    print(f"  {'runtime':8} {'min ms':>8} {'median ms':>10} {'x berth':>8}")
    base = statistics.median(samples["berth"]) if "berth" in samples else None
    for name in names:
        med = statistics.median(samples[name])
        ratio = f"{med / base:8.2f}" if base else ""
        print(f"  {name:8} {min(samples[name]) / 1e6:8.1f} {med / 1e6:10.1f} {ratio}")
    if crun_net is not None and "crun" in samples:
        samples["crun-net"] = [ns - crun_net for ns in samples["crun"]]
        names = [*names, "crun-net"]
        med = statistics.median(samples["crun-net"])
        ratio = f"{med / base:8.2f}" if base else ""
        print(f"  {'crun-net':8} {min(samples['crun-net']) / 1e6:8.1f} {med / 1e6:10.1f} {ratio}"
              f"   (crun less {crun_net / 1e6:.2f} ms of wrapper per container)")
    if base:
        others = [statistics.median(samples[n]) for n in names if not n.startswith("berth")
                  and (n != "crun" or "crun-net" not in samples)]
        if others:
            best = min(others)
            verdict = "met" if base <= best else "NOT met"
            print(f"  target berth <= fastest other: {base / 1e6:.1f} vs {best / 1e6:.1f} ms -> {verdict}")
            if "berth-ro" in samples:
                ro = statistics.median(samples["berth-ro"])
                print(f"  berth-ro (read-only install): {ro / 1e6:.1f} ms -> "
                      f"{'met' if ro <= best else 'NOT met'}")


def bench(label, names, rounds, per_round, command, env=None, wrapper=None):
    samples = {n: [] for n in names}
    order = list(names)
    calls_before = wrapper.count() if wrapper else 0
    for r in range(rounds):
        for i in range(per_round):
            for name in order:
                samples[name].append(timed(command(name, f"{r}-{i}"), env))
            order = order[1:] + order[:1]
    crun_net = None
    if wrapper and "crun" in samples:
        per_container = (wrapper.count() - calls_before) / len(samples["crun"])
        crun_net = per_container * wrapper.hop
        print(f"\n(crun through the wrapper: {per_container:.1f} calls per container, "
              f"{wrapper.hop / 1e6:.2f} ms per call)")
    report(label, samples, names, crun_net)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--runtimes", default="berth,berth-ro,runc,crun",
                    help="berth-ro: a copy of berth made immutable (chattr +i), installed as the README advises")
    ap.add_argument("--berth", default=os.environ.get("BERTH", os.path.join(REPO, "build", "src", "cli", "berth")))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/engines.py: run as root")
    # Short: conmon's socket paths under podman's tmp_dir must fit in 108
    # bytes, or every container waits out a 20 s timeout.
    work = tempfile.mkdtemp(prefix="bbe-", dir="/tmp")
    berth_ro = os.path.join(work, "ro", "berth")
    paths = {"berth": os.path.realpath(args.berth), "berth-ro": berth_ro, "runc": "/usr/sbin/runc",
             "crun": "/usr/bin/crun"}
    if "berth-ro" in args.runtimes.split(","):
        # berth skips its sealed-memfd copy when its binary cannot be written.
        os.makedirs(os.path.dirname(berth_ro))
        shutil.copy2(paths["berth"], berth_ro)
        subprocess.run(["chattr", "+i", berth_ro], check=True)
    names = [n for n in args.runtimes.split(",") if os.access(paths[n], os.X_OK)]
    runtimes = {n: paths[n] for n in names}
    print(f"engines bench: {args.rounds} rounds x {args.per_round} containers per runtime; runtimes: "
          + ", ".join(f"{n} ({p})" for n, p in runtimes.items()))
    wrapper = None
    if "crun" in runtimes and hybrid_host():
        wrapper = CrunWrapper(work)
        wrapper.hop = wrapper.hop_ns()
        runtimes["crun"] = wrapper.path
        print(f"crun runs through {wrapper.path} (a mount namespace without {HYBRID_V2}): "
              f"{wrapper.hop / 1e6:.2f} ms per call, subtracted in the crun-net rows")
    archive = os.path.join(work, "image.tar")
    oci_image.write_archive(archive, engines.IMAGE)
    os.makedirs(os.path.join(work, "p"))
    podman = engines.Podman(os.path.join(work, "p"), subnet_octet=250, runtimes=runtimes)
    ctr = None
    try:
        podman.setup(archive)
        for n in names:  # warm up: first runs page everything in
            timed(podman.argv("--runtime", n, "run", "--rm", "--network", "none", engines.IMAGE, "true"), podman.env)
        bench("podman run --rm --network none IMAGE true", names, args.rounds, args.per_round,
              lambda n, _i: podman.argv("--runtime", n, "run", "--rm", "--network", "none", engines.IMAGE, "true"),
              podman.env, wrapper)

        os.makedirs(os.path.join(work, "c"))
        ctr = engines.Containerd(os.path.join(work, "c"))
        ctr.setup(archive)

        def ctr_run(n, i):
            return ctr.argv("run", "--rm", "--runc-binary", runtimes[n], "--runc-root", ctr.runc_root,
                            engines.IMAGE, f"bench-{n}-{i}", "true")
        for n in names:
            timed(ctr_run(n, "warm"))
        bench("ctr run --rm IMAGE ID true (runc v2 shim)", names, args.rounds, args.per_round, ctr_run,
              wrapper=wrapper)
    finally:
        if ctr:
            ctr.teardown()
        podman.teardown()
        if os.path.exists(berth_ro):
            subprocess.run(["chattr", "-i", berth_ro])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
