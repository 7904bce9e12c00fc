#!/usr/bin/python3
"""Cost of the memgrowth signal (tiers 1 and 2) on allocation-heavy work,
measured side by side.

Workloads (each times itself, after SIGUSR1, so probe start-up is not timed):
  malloc   steady_alloc -p PAIRS -L 1000: malloc+free with a 20k-block working
           set of 16 B..4 KiB blocks, every 1000th block 256 KiB (so the heap
           and the mappings move): ns per malloc+free pair
  python   /usr/bin/python3 building, dumping and parsing a 20k-record JSON
           document per iteration (~114k mallocs/s): ns per iteration

Configurations, run once per round in rotating order:
  no probe
  tier 1           probe host-wide, tier 2 off
  tier 1+2         probe --pid WORKLOAD: tier 2 samples the workload from the
                   start (brk/mmap growth, first-touch faults)
Every other signal is switched off in the probe's config, so the figures are
memgrowth's alone. Prints medians (min, max), the ratio of medians to no
probe, the paired ratio (median over rounds of the ratio to that round's
no-probe run), for wall time and for the workload's CPU time (BPF programs
run in its context and are charged to it; CPU time is much less disturbed
by other work on a shared machine), the events memgrowth saw and the
probe's own CPU time.

With --delay it also measures the leak-detection delay: leak_malloc leaking
1 MiB/s from leak_session_cache, the probe host-wide on the embedded
defaults (HORIZON_S overrides the horizon): seconds until it is flagged
(tier 1) and until tier 2 names the function.

ROUNDS (default 9), PAIRS (default 50000000), PY_ITERS (default 8) tune it.
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
STEADY = os.path.join(BUILD, "fixtures", "steady_alloc")
LEAK = os.path.join(BUILD, "fixtures", "leak_malloc")
ROUNDS = int(os.environ.get("ROUNDS", "9"))
PAIRS = int(os.environ.get("PAIRS", "50000000"))
PY_ITERS = int(os.environ.get("PY_ITERS", "8"))

PY_WORK = r"""
import json, signal, sys, time
iters = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
signal.sigwait({signal.SIGUSR1})
t0 = time.perf_counter()
for _ in range(iters):
    data = [{"id": i, "name": "user%d" % i, "tags": ["a" * (i % 50), "b" * (i % 700)],
             "blob": "x" * (600 + i % 2000), "vals": list(range(i % 40))} for i in range(20000)]
    back = json.loads(json.dumps(data))
    joined = "|".join(str(r["id"]) + r["name"] + r["blob"][:100] for r in back)
print("ns_per_iter=%.0f" % ((time.perf_counter() - t0) * 1e9 / iters), flush=True)
"""


def make_config(tier2, horizon=None):
    """Every signal off but memgrowth, whose tier 2 is `tier2`."""
    default = json.loads(subprocess.run([PROBE, "--print-config"], capture_output=True,
                                        text=True, check=True).stdout)
    sigs = {}
    for name, block in default.get("signals", {}).items():
        if name != "memgrowth" and isinstance(block, dict) and "enabled" in block:
            sigs[name] = {"enabled": False}
    mg = {"enabled": True, "tier2": tier2}
    if horizon:
        mg["horizon_s"] = horizon
    sigs["memgrowth"] = mg
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"signals": sigs}, f)
    f.close()
    return f.name


def wait_ready(p):
    buf = ""
    deadline = time.time() + 30
    while "probe: ready" not in buf:
        if time.time() > deadline or p.poll() is not None:
            raise RuntimeError("probe did not start:\n" + buf)
        buf += p.stderr.readline()


def start_workload(kind, script):
    if kind == "malloc":
        args = [STEADY, "-w", "-p", str(PAIRS), "-L", "1000"]
    else:
        args = ["/usr/bin/python3", script, str(PY_ITERS)]
    w = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert w.stdout.readline().startswith("ready")
    return w


def one(kind, script, cfg, pid_mode):
    """Returns (ns per op, memgrowth events, probe CPU seconds)."""
    w = start_workload(kind, script)
    probe = None
    if cfg:
        args = [PROBE, "--config", cfg, "--json", "-i", "3600"]
        if pid_mode:
            args += ["--pid", str(w.pid)]
        probe = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        wait_ready(probe)
        # past the first map read, which opens the tier-2 gate for the workload
        time.sleep(1.5)
    w.send_signal(signal.SIGUSR1)
    out = w.stdout.read()
    # the workload's own CPU time: BPF programs run in its context and are
    # charged to it, and it is far less sensitive than wall time to the other
    # work on a shared machine
    _, status, ru = os.wait4(w.pid, 0)
    w.returncode = os.waitstatus_to_exitcode(status)
    w.stdout.close()
    wcpu = ru.ru_utime + ru.ru_stime
    faults = ru.ru_minflt + ru.ru_majflt	# each one passes through rss_stat
    events = lost = cpu = 0.0
    if probe:
        try:
            with open(f"/proc/{probe.pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            cpu = float("nan")	# it had already exited (--pid: its target did)
        if probe.poll() is None:
            probe.send_signal(signal.SIGINT)
        pout, _ = probe.communicate(timeout=60)
        summ = [json.loads(l) for l in pout.splitlines() if l.startswith("{")][-1]
        for row in summ.get("probe", []):
            if row.get("signal") == "memgrowth":
                events, lost = row.get("events", 0), row.get("lost", 0)
    key = "ns_per_pair=" if kind == "malloc" else "ns_per_iter="
    return float(out.split(key)[1].split()[0]), wcpu, (events, lost, faults), cpu


def table(title, unit, res, fmt):
    base = statistics.median(res["no probe"])
    print(f"{title} ({unit})")
    print(f"  {'configuration':16} {'median':>12} {'min':>12} {'max':>12} {'ratio':>7} "
          f"{'paired':>7}")
    for name, v in res.items():
        med = statistics.median(v)
        paired = statistics.median(x / b for x, b in zip(v, res["no probe"]))
        print(f"  {name:16} {fmt(med):>12} {fmt(min(v)):>12} {fmt(max(v)):>12} "
              f"{med / base:7.3f} {paired:7.3f}")


def bench(kind, script, configs):
    wall = {name: [] for name, _, _ in configs}
    wcpu = {name: [] for name, _, _ in configs}
    extra = {name: [] for name, _, _ in configs}
    for r in range(ROUNDS):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for name, cfg, pid_mode in order:
            ns, cpu_s, events, cpu = one(kind, script, cfg, pid_mode)
            wall[name].append(ns)
            wcpu[name].append(cpu_s)
            extra[name].append((events, cpu))
        print(f"{kind} round {r + 1}/{ROUNDS}: " +
              ", ".join(f"{n}={wall[n][-1]:.1f}/{wcpu[n][-1]:.2f}s" for n, _, _ in configs),
              flush=True)
    unit = "ns per malloc+free pair" if kind == "malloc" else "ns per iteration"
    print(f"\n{kind}: {ROUNDS} alternating rounds. ratio = median / median of no probe; "
          "paired = median over rounds of the ratio to that round's no-probe run")
    table("  wall time", unit, wall, lambda v: f"{v:.1f}")
    table("  workload CPU time (user + sys, BPF included)", "seconds per run", wcpu,
          lambda v: f"{v:.3f}")
    print(f"  {'configuration':16} {'faults':>9} {'events':>8} {'lost':>6} {'probe cpu':>10}   "
          "(per run: the workload's page faults, each an rss_stat firing; what memgrowth")
    print(f"  {'':16} {'':>9} {'':>8} {'':>6} {'':>10}    kept: rss changes, brk/mmap exits, "
          "stack samples; the probe's CPU, start-up included)")
    for name, _, _ in configs:
        ev = statistics.median(e[0][0] for e in extra[name])
        lost = statistics.median(e[0][1] for e in extra[name])
        flt = statistics.median(e[0][2] for e in extra[name])
        cpu = statistics.median(e[1] for e in extra[name])
        print(f"  {name:16} {flt:9.0f} {ev:8.0f} {lost:6.0f} {cpu:9.2f}s")
    print()


def detection_delay():
    horizon = os.environ.get("HORIZON_S")
    cfg = make_config("auto", float(horizon) if horizon else None)
    leak = subprocess.Popen([LEAK, "-r", "1048576", "-f", "leak_session_cache"],
                            stdout=subprocess.PIPE, text=True)
    assert leak.stdout.readline().startswith("ready")
    probe = subprocess.Popen([PROBE, "--config", cfg, "--json", "-i", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    flagged = named = None
    buf = b""
    deadline = time.time() + 900
    try:
        while named is None and time.time() < deadline:
            r, _, _ = select.select([probe.stdout], [], [], 5)
            if not r:
                continue
            chunk = os.read(probe.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                obj = json.loads(line)
                for row in obj.get("memgrowth", []):
                    if row["pid"] != str(leak.pid):
                        continue
                    if row["suspect"] and flagged is None:
                        flagged = obj["elapsed_s"]
                    stacks = row.get("leak", {}).get("stacks", [])
                    if stacks and any(f.startswith("leak_session_cache+")
                                      for f in stacks[0]["frames"]) and named is None:
                        named = obj["elapsed_s"]
    finally:
        probe.send_signal(signal.SIGINT)
        probe.wait(timeout=30)
        leak.terminate()
        leak.wait()
        os.unlink(cfg)
    print(f"leak-detection delay (1 MiB/s leak, horizon {horizon or 'default'} s): "
          f"flagged after {flagged} s (tier 1), leaking function on top after {named} s "
          "(tier 2 starts when flagged)")


def main():
    for path in (PROBE, STEADY, LEAK):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run 'make probe fixtures'")
    t1 = make_config("off")
    t12 = make_config("auto")
    configs = [("no probe", None, False), ("tier 1", t1, False), ("tier 1+2", t12, True)]
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PY_WORK)
        script = f.name
    print("shared machine: figures are medians of alternating rounds; noise between "
          "runs is a few percent", flush=True)
    try:
        bench("malloc", script, configs)
        bench("python", script, configs)
        if "--delay" in sys.argv[1:]:
            detection_delay()
    finally:
        for p in (t1, t12, script):
            os.unlink(p)


if __name__ == "__main__":
    main()
