#!/usr/bin/python3
"""Throughput of Redis and PostgreSQL clients with and without probe's
conn signal, side by side.

A PostgreSQL cluster and a Redis server are started on 127.0.0.1 (free
ports, temporary directories). Each round runs every (workload, probe on /
off) pair once, the order rotating from round to round. probe runs
host-wide with every signal but conn switched off (taken from
--print-config, so signals added later are off too): what is measured is
this signal's cost.
Workloads:
  redis-keepalive   redis-benchmark -c 50 SET/GET on long-lived connections
  redis-reconnect   redis-benchmark -k 0: a new connection for every request,
                    the worst case for a connection tracer
  pgbench-select    pgbench -S -c 8: long-lived connections
  pgbench-connect   pgbench -S -C -c 8: a new connection per transaction
  connect-churn     tests/fixtures/connector -c -L: connect, accept and close
                    in one loop on loopback, no server in between: the
                    per-connection cost alone (connects/s from its own timing)
Prints per-workload medians with min and max, the ratio of medians, and the
median over rounds of the per-round ratio (the machine is shared, so rounds
differ). Also the probe's own CPU time per second of workload.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import PgRedis, cpu_s, free_port, pg_bin

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("PROBE_BUILD", "build"))
PROBE = os.path.join(BUILD, "probe")
CONNECTOR = os.path.join(BUILD, "fixtures", "connector")
ROUNDS = int(os.environ.get("ROUNDS", "7"))
SECS = int(os.environ.get("SECS", "8"))            # pgbench -T
REQS = int(os.environ.get("REQS", "200000"))       # redis-benchmark -n, keepalive
REQS_K0 = int(os.environ.get("REQS_K0", "20000"))  # redis-benchmark -n, reconnecting
CHURN = int(os.environ.get("CHURN", "20000"))      # connector -c -n
ONLY = [w for w in os.environ.get("ONLY", "").split(",") if w]  # workload names





class Servers(PgRedis):
    """The database servers, and a port for the connector's churn loop."""

    def __init__(self):
        super().__init__("probe-bench-conn-", "-c", "max_connections=50")
        self.churn_port = free_port()


def redis_cmd(srv, keepalive):
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.redis_port), "-c", "50",
            "-n", str(REQS if keepalive else REQS_K0), "-k", "1" if keepalive else "0",
            "-t", "set,get", "-q"]


def redis_rps(out):
    vals = [float(v) for v in re.findall(r"([\d.]+) requests per second", out)]
    if not vals:
        raise RuntimeError("no requests per second in:\n" + out)
    return statistics.mean(vals)        # mean of SET and GET


def pgbench_cmd(srv, connect):
    return [pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(srv.pg_port), "-U", "postgres",
            "-c", "8", "-j", "2", "-T", str(SECS), "-S", "-n", *(["-C"] if connect else []),
            "postgres"]


def pgbench_tps(out):
    m = re.search(r"tps = ([\d.]+)", out)
    if not m:
        raise RuntimeError("no tps in:\n" + out)
    return float(m.group(1))


def churn_cmd(srv):
    return [CONNECTOR, "-c", "-L", "-n", str(CHURN), "127.0.0.1", str(srv.churn_port)]


def churn_rate(out):
    m = re.search(r"ns_per_connect=([\d.]+)", out)
    if not m:
        raise RuntimeError("no ns_per_connect in:\n" + out)
    return 1e9 / float(m.group(1))


WORKLOADS = [
    ("redis-keepalive", "req/s", lambda s: redis_cmd(s, True), redis_rps),
    ("redis-reconnect", "req/s", lambda s: redis_cmd(s, False), redis_rps),
    ("pgbench-select", "tps", lambda s: pgbench_cmd(s, False), pgbench_tps),
    ("pgbench-connect", "tps", lambda s: pgbench_cmd(s, True), pgbench_tps),
    ("connect-churn", "conn/s", churn_cmd, churn_rate),
]


def conn_only_config():
    """The embedded default with every signal's "enabled" off except conn's."""
    cfg = json.loads(subprocess.run([PROBE, "--print-config"], check=True, capture_output=True,
                                    text=True).stdout)
    for name, sig in cfg["signals"].items():
        if "enabled" in sig:
            sig["enabled"] = name == "conn"
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(cfg, f)
    f.close()
    return f.name


def one(srv, cmd, parse, config):
    probe = None
    if config:
        probe = subprocess.Popen([PROBE, "--config", config, "--json", "-i", "3600"],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        buf = ""
        while "probe: ready" not in buf:
            line = probe.stderr.readline()
            if not line:
                sys.exit("probe did not start:\n" + buf)
            buf += line
        cpu0 = cpu_s(probe.pid)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wall = time.time() - t0
    if r.returncode:
        raise RuntimeError(f"{cmd[0]} failed: {r.stderr}")
    cpu = None
    if probe:
        cpu = (cpu_s(probe.pid) - cpu0) / wall
        probe.send_signal(signal.SIGINT)
        probe.wait(timeout=60)
    return parse(r.stdout), cpu


def main():
    for path in (PROBE, CONNECTOR):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run 'make probe fixtures'")
    if ONLY:
        WORKLOADS[:] = [w for w in WORKLOADS if w[0] in ONLY]
    config = conn_only_config()
    srv = Servers()
    try:
        runs = [(w, on) for w in WORKLOADS for on in (False, True)]
        res = {(w[0], on): [] for w, on in runs}
        cpu = {w[0]: [] for w in WORKLOADS}
        for rnd in range(ROUNDS):
            k = rnd % len(runs)
            for (name, _, cmd, parse), on in runs[k:] + runs[:k]:
                v, c = one(srv, cmd(srv), parse, config if on else None)
                res[(name, on)].append(v)
                if c is not None:
                    cpu[name].append(c)
            print(f"round {rnd + 1}/{ROUNDS}: " + ", ".join(
                f"{n}{'+probe' if on else ''}={res[(n, on)][-1]:.0f}"
                for (n, _, _, _), on in runs), flush=True)
    finally:
        srv.close()
        os.unlink(config)
    print(f"\n{ROUNDS} alternating rounds, probe host-wide with only the conn signal on; "
          "the machine is shared, so compare medians and the paired ratio")
    print("kept = median with probe / median without; paired = median over rounds of that "
          "round's ratio; probe cpu = probe's CPU seconds per second of workload")
    print(f"{'workload':18} {'unit':6} {'without: median [min-max]':>30} "
          f"{'with probe: median [min-max]':>30} {'kept':>7} {'paired':>7} {'probe cpu':>9}")
    for name, unit, _, _ in WORKLOADS:
        a, b = res[(name, False)], res[(name, True)]
        kept = statistics.median(b) / statistics.median(a)
        paired = statistics.median(y / x for x, y in zip(a, b))
        sa = f"{statistics.median(a):.0f} [{min(a):.0f}-{max(a):.0f}]"
        sb = f"{statistics.median(b):.0f} [{min(b):.0f}-{max(b):.0f}]"
        print(f"{name:18} {unit:6} {sa:>30} {sb:>30} {kept * 100:6.1f}% {paired * 100:6.1f}% "
              f"{statistics.median(cpu[name]) * 100:8.2f}%")

if __name__ == "__main__":
    main()
