#!/usr/bin/python3
"""bench_startup.py: how long probe takes from launch to `probe: ready`.

Launches the probe N times in each mode (host-wide on its defaults, --pid on
a sleeping process, and --check), and prints the median, min and max wall
time from exec to the ready line (for --check, to the end of its report),
the median time to exit, and the median CPU time the probe process used
(the verifier runs in its context, so kernel CPU time is mostly
verification). Run as root from the repository root after `make probe`.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def launch(probe, args, until_ready):
    """Seconds to the ready line (or, for --check, to the end of its report
    on stdout), seconds to exit, user and system CPU seconds."""
    t0 = time.monotonic()
    if until_ready:
        p = subprocess.Popen([probe] + args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        stream = p.stderr
    else:
        p = subprocess.Popen([probe] + args, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        stream = p.stdout
    ready = None
    lines = []
    for line in stream:
        lines.append(line)
        if until_ready and line.startswith("probe: ready"):
            ready = time.monotonic() - t0
            p.send_signal(2)
            break
        if not until_ready and "signal(s) live" in line:
            ready = time.monotonic() - t0
    for line in stream:
        lines.append(line)
    _, status, ru = os.wait4(p.pid, 0)
    done = time.monotonic() - t0
    if ready is None:
        sys.exit("probe never said it was ready:\n" + "".join(lines[-20:]))
    return ready, done, ru.ru_utime, ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", default="./probe")
    ap.add_argument("-n", type=int, default=5)
    a = ap.parse_args()
    sleeper = subprocess.Popen(["sleep", "600"])
    modes = [
        ("host-wide", [], True),
        ("--pid", ["--pid", str(sleeper.pid)], True),
        ("--check", ["--check"], False),
    ]
    res = {m[0]: [] for m in modes}
    try:
        for _ in range(a.n):
            for name, args, until in modes:
                res[name].append(launch(a.probe, args, until))
    finally:
        sleeper.kill()
        sleeper.wait()
    print(f"{'mode':<10} {'ready median':>12} {'min':>7} {'max':>7} {'exit median':>12} "
          f"{'user cpu':>9} {'sys cpu':>8}   (n={a.n}, seconds)")
    for name, _, _ in modes:
        r = res[name]
        w = [x[0] for x in r]
        print(f"{name:<10} {statistics.median(w):12.3f} {min(w):7.3f} {max(w):7.3f} "
              f"{statistics.median(x[1] for x in r):12.3f} "
              f"{statistics.median(x[2] for x in r):9.3f} {statistics.median(x[3] for x in r):8.3f}")
    print("ready: `probe: ready` on stderr; for --check, its report's last line. exit: the "
          "process gone (detaching each tracepoint waits ~40 ms for the kernel, one at a time).")


if __name__ == "__main__":
    main()
