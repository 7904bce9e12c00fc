#!/usr/bin/python3
"""Added cost per syscall of the syscall signal, measured side by side.

The syscall rows run the syscall signal alone (the other signals off); the
last row is the probe's full default --pid mode, every signal on.

Each round runs every configuration once, in rotating order, on the same
getppid loop; the loop times itself. Prints per-configuration medians
(with min and max), the added ns per call and the ratio to no probe.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("PROBE_BUILD", "build"))
PROBE = os.path.join(BUILD, "probe")
LOOP = os.path.join(BUILD, "bench", "syscall_loop")
ROUNDS = int(os.environ.get("ROUNDS", "7"))
ITERS = int(os.environ.get("ITERS", "3000000"))


OTHERS_OFF = {name: {"enabled": False} for name in ("http", "conn", "memgrowth", "alloc")}


def config(others=False, **syscalls):
    """The syscall signal alone (others=False), or with the rest of the defaults."""
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    signals = {"syscalls": syscalls}
    if not others:
        signals.update(OTHERS_OFF)
    json.dump({"signals": signals}, f)
    f.close()
    return f.name


CONFIGS = [
    ("no probe", None, False),
    ("counts+errno, latency off", config(latency="off"), False),
    # one period = the whole loop: the duty cycle's on-share is what costs
    ("counts+errno, latency sampled 1s/10s", config(latency="sampled", sample_period_s=10,
                                                    sample_on_s=1), False),
    ("counts+errno, latency exact", config(latency="exact"), False),
    ("host-wide, latency exact", config(enabled=True, latency="exact"), True),
    ("full default --pid (every signal)", config(others=True), False),
]


def wait_ready(p):
    buf = ""
    deadline = time.time() + 30
    while "probe: ready" not in buf:
        if time.time() > deadline or p.poll() is not None:
            raise RuntimeError("probe did not start:\n" + buf + p.stderr.read())
        buf += p.stderr.readline()


def one(cfg, hostwide):
    loop = subprocess.Popen([LOOP, str(ITERS)], stdout=subprocess.PIPE, text=True)
    assert loop.stdout.readline().startswith("ready")
    probe = None
    if cfg:
        args = [PROBE, "--config", cfg, "--json", "-i", "3600"]
        if not hostwide:
            args += ["--pid", str(loop.pid)]
        probe = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_ready(probe)
    loop.send_signal(signal.SIGUSR1)
    out = loop.stdout.read()
    loop.wait()
    if probe:
        probe.send_signal(signal.SIGINT)
        probe.wait(timeout=30)
    return float(out.split("ns_per_call=")[1])


def main():
    for path in (PROBE, LOOP):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run 'make probe bench'")
    res = {name: [] for name, _, _ in CONFIGS}
    for r in range(ROUNDS):
        order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
        for name, cfg, hw in order:
            res[name].append(one(cfg, hw))
        print(f"round {r + 1}/{ROUNDS}: " +
              ", ".join(f"{n.split(',')[-1].strip()}={res[n][-1]:.0f}" for n, _, _ in CONFIGS),
              flush=True)
    base = statistics.median(res["no probe"])
    print(f"\ngetppid loop, {ITERS} calls, {ROUNDS} alternating rounds; ns per call")
    print("ratio = median / median of no probe; paired = median over rounds of the ratio to "
          "that round's no-probe run (cancels slow rounds on a shared machine)")
    print(f"{'configuration':40} {'median':>8} {'min':>8} {'max':>8} {'added':>8} {'ratio':>6} "
          f"{'paired':>7}")
    for name, _, _ in CONFIGS:
        v = res[name]
        med = statistics.median(v)
        paired = statistics.median(x / b for x, b in zip(v, res["no probe"]))
        print(f"{name:40} {med:8.0f} {min(v):8.0f} {max(v):8.0f} {med - base:+8.0f} "
              f"{med / base:6.2f} {paired:7.2f}")
    for _, cfg, _ in CONFIGS:
        if cfg:
            os.unlink(cfg)


if __name__ == "__main__":
    main()
