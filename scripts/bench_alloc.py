#!/usr/bin/python3
"""Cost of the alloc signal (tier 3: allocator uprobes) on allocation-heavy
work, measured side by side, and its leak-detection delay.

Workloads (each times itself after SIGUSR1, so attaching is not timed):
  malloc   alloc_bench PAIRS: malloc+free pairs of 16 B..4 KiB: ns per pair
  python   /usr/bin/python3 dumping and parsing a 20k-record JSON document
           per iteration (about 10^5 libc mallocs a second): s per iteration

Configurations, run once per round in rotating order:
  no probe
  full         probe --pid WORKLOAD, signals.alloc.mode "full": every
               allocation tracked, a stack for byte-sampled ones (the default)
  sampled      mode "sampled": only byte-sampled allocations tracked
  full+stacks  full with sample_bytes 1: a stack for every allocation (what
               per-allocation stack tools do), for comparison
Every other signal is switched off in the probe's config, so the figures are
the allocator signal's alone. Prints medians [min, max], the ratio of
medians to no probe, the paired ratio (median over rounds of each round's
ratio), ns added per malloc+free pair, and the probe's own estimate of the
target's CPU cost next to what was measured.

Then the leak-detection delay: alloc_leak leaking 64 KiB/s from
leak_by_malloc, probe --pid on the embedded defaults (min_age_s 10,
horizon_s 30) in full and sampled mode: seconds from the start of the leak
until the site is a suspect, DELAY_ROUNDS times.

ROUNDS (default 5), PAIRS (default 200000), PY_ITERS (default 2) and
DELAY_ROUNDS (default 2) tune it; SECTIONS (default "malloc,python,delay")
picks what runs. The machine may be shared: read medians with their spread.
"""
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("PROBE_BUILD", "build"))
PROBE = os.path.join(BUILD, "probe")
BENCH = os.path.join(BUILD, "fixtures", "alloc_bench")
LEAK = os.path.join(BUILD, "fixtures", "alloc_leak")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
PAIRS = int(os.environ.get("PAIRS", "200000"))
PY_ITERS = int(os.environ.get("PY_ITERS", "2"))
DELAY_ROUNDS = int(os.environ.get("DELAY_ROUNDS", "2"))

PY_WORK = r"""
import json, os, signal, sys, time
iters = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready pid=%d" % os.getpid(), flush=True)
signal.sigwait({signal.SIGUSR1})
rows = [{"n": i, "user": "u%05d" % i, "labels": ["k" * (i % 40), "v" * (i % 600)],
         "text": "t" * (500 + i % 1800), "nums": list(range(i % 30))} for i in range(20000)]
t0 = time.perf_counter()
for _ in range(iters):
    back = json.loads(json.dumps(rows))
    s = ",".join(r["user"] + str(r["n"]) + r["text"][:80] for r in back)
print("ns_per_iter=%.0f" % ((time.perf_counter() - t0) * 1e9 / iters), flush=True)
"""

CONFIGS = {
    "full": {"mode": "full"},
    "sampled": {"mode": "sampled"},
    "full+stacks": {"mode": "full", "sample_bytes": 1},
}


def config_file(tmp, alloc):
    """The embedded default with every signal off except alloc (set as given)."""
    cfg = json.loads(subprocess.run([PROBE, "--print-config"], capture_output=True,
                                    text=True, check=True).stdout)
    sigs = {}
    for name, block in cfg["signals"].items():
        if name != "alloc" and "enabled" in block:
            sigs[name] = {"enabled": False}
    sigs["alloc"] = alloc
    path = os.path.join(tmp, "alloc-%d.json" % len(os.listdir(tmp)))
    with open(path, "w") as f:
        json.dump({"signals": sigs, "interval_s": 1}, f)
    return path


def start_workload(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError("workload did not start: %r" % line)
    return p


def start_probe(pid, cfg):
    p = subprocess.Popen([PROBE, "--pid", str(pid), "--config", cfg, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = b""
    deadline = time.time() + 60
    while b"probe: ready" not in err:
        r, _, _ = select.select([p.stderr], [], [], max(0, deadline - time.time()))
        chunk = os.read(p.stderr.fileno(), 65536) if r else b""
        if not chunk:
            p.kill()
            raise RuntimeError("probe not ready:\n" + err.decode(errors="replace"))
        err += chunk
    return p


def last_estimate(lines):
    """(estimated % of a CPU while traced, the probe's own measure of one hit in us)"""
    est = trap = None
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        for t in obj.get("alloc", {}).get("targets", []):
            if t.get("attached") and t.get("est_cpu_pct"):
                est = t["est_cpu_pct"]
            if t.get("trap_us"):
                trap = t["trap_us"]
    return est, trap


def run_once(cmd, key, cfg):
    """One timed run of the workload, under cfg (None: no probe)."""
    w = start_workload(cmd)
    pr = start_probe(w.pid, cfg) if cfg else None
    est = (None, None)
    try:
        w.send_signal(signal.SIGUSR1)
        out, _ = w.communicate(timeout=900)
    finally:
        if pr:
            # interval lines carry the estimate while the target is traced
            pr.send_signal(signal.SIGINT)
            o, _ = pr.communicate(timeout=60)
            est = last_estimate(o.decode(errors="replace").splitlines())
    for line in out.splitlines():
        if line.startswith(key + "="):
            return float(line.split("=")[1]), est
    raise RuntimeError("no %s in workload output: %r" % (key, out))


def fmt(vals, scale=1.0, unit=""):
    med = statistics.median(vals) * scale
    return "%10.1f%s [%.1f, %.1f]" % (med, unit, min(vals) * scale, max(vals) * scale)


def matrix(name, cmd, key, cfgs, per_pair):
    names = ["no probe"] + list(cfgs)
    res = {n: [] for n in names}
    est = {n: [] for n in names}
    traps = []
    for r in range(ROUNDS):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            v, (e, trap) = run_once(cmd, key, cfgs.get(n))
            res[n].append(v)
            if e is not None:
                est[n].append(e)
            if trap:
                traps.append(trap)
        print("  round %d/%d done" % (r + 1, ROUNDS), file=sys.stderr, flush=True)
    base = statistics.median(res["no probe"])
    print("\n%s (%d rounds, alternating; median [min, max])" % (name, ROUNDS))
    unit = "ns/pair" if per_pair else "s/iter"
    scale = 1.0 if per_pair else 1e-9
    print("  %-12s %-32s %8s %8s %14s %16s" % ("config", unit, "ratio", "paired",
                                               "added/pair" if per_pair else "added",
                                               "probe's estimate"))
    for n in names:
        med = statistics.median(res[n])
        paired = statistics.median(v / b for v, b in zip(res[n], res["no probe"]))
        added = med - base
        add_s = ("%11.0f ns" % added) if per_pair else ("%11.3f s" % (added * 1e-9))
        e = ("%5.1f%% CPU" % statistics.median(est[n])) if est[n] else "-"
        print("  %-12s %-32s %7.1fx %7.1fx %14s %16s" % (n, fmt(res[n], scale), med / base,
                                                         paired, add_s, e))
    if traps and per_pair:
        t = statistics.median(traps) * 1000
        # malloc entry and free (both emulated sites here) + a uretprobe (~1/4 hit, COSTS.md)
        print("  one probe hit, as the probe measured it at start: %.0f ns [%.0f, %.0f]; "
              "hooks alone ~ 2.25 hits = %.0f ns a pair" % (t, min(traps) * 1000,
                                                          max(traps) * 1000, 2.25 * t))
    return res


def delay(cfg, mode):
    """Seconds from the leak's start until the probe flags its site."""
    w = start_workload([LEAK, "malloc", "65536", "-w"])
    pr = start_probe(w.pid, cfg)
    t0 = time.time()
    w.send_signal(signal.SIGUSR1)
    buf = b""
    found = None
    try:
        while time.time() - t0 < 120 and found is None:
            r, _, _ = select.select([pr.stdout], [], [], 1)
            if not r:
                continue
            chunk = os.read(pr.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                obj = json.loads(line)
                for s in obj.get("alloc", {}).get("suspects", []):
                    if s["pid"] == str(w.pid) and s["site"].startswith("leak_by_malloc"):
                        found = time.time() - t0
    finally:
        pr.send_signal(signal.SIGINT)
        pr.communicate(timeout=60)
        w.send_signal(signal.SIGTERM)
        w.communicate(timeout=30)
    return found


SECTIONS = os.environ.get("SECTIONS", "malloc,python,delay").split(",")


def main():
    for path in (PROBE, BENCH, LEAK):
        if not os.path.exists(path):
            sys.exit("missing %s: build it first (scripts/bench-alloc.sh does)" % path)
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = {n: config_file(tmp, c) for n, c in CONFIGS.items()}
        print("probe: %s; rounds %d; the machine may be shared: read the spread" % (PROBE, ROUNDS))
        if "malloc" in SECTIONS:
            matrix("malloc+free pairs: alloc_bench %d" % PAIRS, [BENCH, str(PAIRS)],
                   "ns_per_pair", cfgs, True)
        with open(os.path.join(tmp, "py_work.py"), "w") as f:
            f.write(PY_WORK)
        if "python" in SECTIONS:
            matrix("python: /usr/bin/python3, JSON round-trips, %d iterations" % PY_ITERS,
                   ["/usr/bin/python3", os.path.join(tmp, "py_work.py"), str(PY_ITERS)],
                   "ns_per_iter", {n: cfgs[n] for n in ("full", "sampled")}, False)
        if "delay" not in SECTIONS:
            return
        print("\nleak-detection delay: 64 KiB/s from leak_by_malloc, defaults "
              "(min_age_s 10, horizon_s 30)")
        for mode in ("full", "sampled"):
            cfg = config_file(tmp, {"mode": mode})
            ds = [delay(cfg, mode) for _ in range(DELAY_ROUNDS)]
            shown = ", ".join("%.0f s" % d if d is not None else "not flagged in 120 s"
                              for d in ds)
            print("  %-8s %s" % (mode, shown))


if __name__ == "__main__":
    main()
