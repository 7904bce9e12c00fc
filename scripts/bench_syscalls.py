#!/usr/bin/python3
"""Added cost per syscall of the syscall signal, measured side by side.

The syscall rows run the syscall signal alone (the other signals off); the
"full default" row is the probe's --pid mode with every signal on. The two
floor rows attach tests/bench/hook_floor.bpf.c instead of the probe: the
same tp_btf enter/exit pair with empty bodies, and with only the two clock
reads any latency measurement needs, so the signal's own cost is the
difference to them, measured in the same run.

The peer row runs bpftrace (Debian) with scripts/bt/syscount-lat.bt: calls
and total latency per syscall host-wide from raw_syscalls enter+exit, what
the signal's host-wide exact mode does. Every tracer is measured only once
ready (`probe: ready`; bpftrace's "Attaching N probes" plus 1 s).

Each round runs every configuration once, in rotating order, on the same
getppid loop; the loop times itself. Prints per-configuration medians
(with min and max), the added ns per call and the ratio to no probe.

Sampled latency costs more while sys_enter is attached (1 s of every 10 s)
than between, so its rows run for two whole periods (SAMPLED_RUN, 20 s),
against a no-probe run of the same length, instead of a fixed call count
that would land on one part of the cycle or the other.
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
FLOOR = os.path.join(BUILD, "bench", "hook_floor")
ROUNDS = int(os.environ.get("ROUNDS", "7"))
ITERS = os.environ.get("ITERS", "3000000")
SAMPLED_RUN = os.environ.get("SAMPLED_RUN", "20s")


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


# (name, config or None for no probe, host-wide, loop length)
CONFIGS = [
    ("no probe", None, False, ITERS),
    ("counts+errno, latency off", config(latency="off"), False, ITERS),
    ("counts+errno, latency exact", config(latency="exact"), False, ITERS),
    ("host-wide, latency exact", config(enabled=True, latency="exact"), True, ITERS),
    ("full default --pid (every signal)", config(others=True), False, ITERS),
    ("floor: empty tp_btf enter+exit", "floor:empty", False, ITERS),
    ("peer: bpftrace syscount-lat (host-wide)", "bt:syscount-lat.bt", True, ITERS),
    ("floor: + two clock reads", "floor:clock", False, ITERS),
    (f"no probe, {SAMPLED_RUN} run", None, False, SAMPLED_RUN),
    ("counts+errno, latency sampled 1s/10s",
     config(latency="sampled", sample_period_s=10, sample_on_s=1), False, SAMPLED_RUN),
]
BASE = {ITERS: "no probe", SAMPLED_RUN: f"no probe, {SAMPLED_RUN} run"}


def wait_ready(p):
    buf = ""
    deadline = time.time() + 30
    while "probe: ready" not in buf:
        if time.time() > deadline or p.poll() is not None:
            raise RuntimeError("probe did not start:\n" + buf + p.stderr.read())
        buf += p.stderr.readline()


def one(cfg, hostwide, length):
    loop = subprocess.Popen([LOOP, length], stdout=subprocess.PIPE, text=True)
    assert loop.stdout.readline().startswith("ready")
    probe = None
    if cfg and cfg.startswith("bt:"):
        script = os.path.join(ROOT, "scripts", "bt", cfg[3:])
        probe = subprocess.Popen(["bpftrace", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        seen = ""
        while "Attaching" not in seen:      # it may warn first (RLIMIT_MEMLOCK)
            line = probe.stdout.readline()
            if not line:
                raise RuntimeError("bpftrace did not start: " + seen)
            seen += line
        time.sleep(1)
    elif cfg and cfg.startswith("floor:"):
        probe = subprocess.Popen([FLOOR, cfg.split(":")[1], str(loop.pid)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = probe.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError("hook_floor did not start: " + probe.stderr.read())
    elif cfg:
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
        probe.communicate(timeout=30)
    return float(out.split("ns_per_call=")[1])


def main():
    for path in (PROBE, LOOP, FLOOR):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run 'make probe bench'")
    res = {name: [] for name, _, _, _ in CONFIGS}
    for r in range(ROUNDS):
        order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
        for name, cfg, hw, length in order:
            res[name].append(one(cfg, hw, length))
        print(f"round {r + 1}/{ROUNDS}: " +
              ", ".join(f"{res[n][-1]:.0f}" for n, _, _, _ in CONFIGS), flush=True)
    print(f"\ngetppid loop, {ITERS} calls (sampled rows: {SAMPLED_RUN}), {ROUNDS} alternating "
          "rounds; ns per call")
    print("ratio = median / median of the no-probe row of the same length; paired = median over "
          "rounds of the ratio to that round's no-probe run (cancels slow rounds on a shared "
          "machine)")
    print(f"{'configuration':40} {'median':>8} {'min':>8} {'max':>8} {'added':>8} {'ratio':>6} "
          f"{'paired':>7}")
    for name, _, _, length in CONFIGS:
        v, b = res[name], res[BASE[length]]
        med, base = statistics.median(v), statistics.median(b)
        paired = statistics.median(x / y for x, y in zip(v, b))
        print(f"{name:40} {med:8.0f} {min(v):8.0f} {max(v):8.0f} {med - base:+8.0f} "
              f"{med / base:6.2f} {paired:7.2f}")
    for row, floor in (("counts+errno, latency off", "floor: empty tp_btf enter+exit"),
                       ("counts+errno, latency exact", "floor: + two clock reads")):
        over = statistics.median(x - f for x, f in zip(res[row], res[floor]))
        print(f"{row}: {over:+.0f} ns per call over '{floor}' (median of per-round "
              "differences)")
    for _, cfg, _, _ in CONFIGS:
        if cfg and not cfg.startswith(("floor:", "bt:")):
            os.unlink(cfg)


if __name__ == "__main__":
    main()
