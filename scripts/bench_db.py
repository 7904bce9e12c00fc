#!/usr/bin/python3
"""Throughput of Redis and PostgreSQL clients with and without probe, side by
side, for the database query capture (the socket capture: bpf/sockets.bpf.c
with lib/pgsql.bpf.h and lib/redis.bpf.h).

A PostgreSQL cluster and a Redis server are started on 127.0.0.1 (free
ports, temporary directories). Each round runs every (workload, probe on /
off) pair once, alternating, the order rotating from round to round.
MODE=default (the default) runs probe host-wide with its default config,
as a user would; MODE=sockets switches every signal off but the socket
capture (the http signal, which also reads the database records), to see
the query capture's own cost.
Workloads:
  redis-getset     redis-benchmark -c 50 -t set,get, no pipelining (mean of both req/s)
  pgbench-simple   pgbench -S -c 8 -M simple
  pgbench-extended pgbench -S -c 8 -M extended
Prints per-workload medians with min and max, the ratio of medians, and the
median over rounds of the per-round ratio. The machine is shared: rounds
differ, hence several of them and medians.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

from benchlib import PgRedis, pg_bin

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("PROBE_BUILD", "build"))
PROBE = os.path.join(BUILD, "probe")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SECS = int(os.environ.get("SECS", "6"))            # pgbench -T
REQS = int(os.environ.get("REQS", "100000"))       # redis-benchmark -n
MODE = os.environ.get("MODE", "default")
ONLY = [w for w in os.environ.get("ONLY", "").split(",") if w]  # workload names


def redis_rps(out):
    vals = [float(v) for v in re.findall(r"([\d.]+) requests per second", out)]
    if not vals:
        raise RuntimeError("no requests per second in:\n" + out)
    return statistics.mean(vals), 2 * REQS


def pgbench_tps(out):
    m = re.search(r"tps = ([\d.]+)", out)
    n = re.search(r"actually processed: (\d+)", out)
    if not m or not n:
        raise RuntimeError("no tps in:\n" + out)
    return float(m.group(1)), int(n.group(1))


def pgbench_cmd(srv, mode):
    return [pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(srv.pg_port), "-U", "postgres",
            "-c", "8", "-j", "2", "-T", str(SECS), "-S", "-n", "-M", mode, "postgres"]


WORKLOADS = [
    ("redis-getset", "req/s",
     lambda s: ["redis-benchmark", "-h", "127.0.0.1", "-p", str(s.redis_port), "-c", "50",
                "-n", str(REQS), "-t", "set,get", "-q"], redis_rps),
    ("pgbench-simple", "tps", lambda s: pgbench_cmd(s, "simple"), pgbench_tps),
    ("pgbench-extended", "tps", lambda s: pgbench_cmd(s, "extended"), pgbench_tps),
]


WORKLOADS = [w for w in WORKLOADS if not ONLY or w[0] in ONLY]


def probe_args():
    if MODE == "default":
        return []
    cfg = json.loads(subprocess.run([PROBE, "--print-config"], check=True, capture_output=True,
                                    text=True).stdout)
    for name, sig in cfg["signals"].items():
        if "enabled" in sig:
            sig["enabled"] = name == "http"
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(cfg, f)
    f.close()
    return ["--config", f.name]


def one(srv, cmd, parse, args):
    probe = None
    if args is not None:
        probe = subprocess.Popen([PROBE, *args, "--json", "-i", "3600"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        buf = ""
        while "probe: ready" not in buf:
            line = probe.stderr.readline()
            if not line:
                sys.exit("probe exited before ready:\n" + buf)
            buf += line
    try:
        # The client's CPU time per operation: BPF programs on its syscalls
        # run in its context and are charged to it, and other load on a
        # shared machine disturbs CPU time far less than throughput.
        with tempfile.TemporaryFile("w+") as out:
            c = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
            _, status, ru = os.wait4(c.pid, 0)
            c.returncode = os.waitstatus_to_exitcode(status)
            if c.returncode:
                raise RuntimeError(f"{cmd[0]} exited {c.returncode}")
            out.seek(0)
            rate, ops = parse(out.read())
        return rate, (ru.ru_utime + ru.ru_stime) * 1e6 / ops
    finally:
        if probe:
            probe.send_signal(signal.SIGINT)
            probe.communicate(timeout=60)


def main():
    args = probe_args()
    srv = PgRedis("probe-bench-db-")
    res = {w[0]: {"off": [], "on": []} for w in WORKLOADS}
    cpu = {w[0]: {"off": [], "on": []} for w in WORKLOADS}
    try:
        for rnd in range(ROUNDS):
            runs = [(w, side) for w in WORKLOADS for side in ("off", "on")]
            k = rnd % len(runs)
            for (name, _, cmd, parse), side in runs[k:] + runs[:k]:
                v, us = one(srv, cmd(srv), parse, args if side == "on" else None)
                res[name][side].append(v)
                cpu[name][side].append(us)
                print(f"round {rnd + 1}/{ROUNDS} {name:17s} probe {side:3s} {v:12.1f} "
                      f"client {us:7.2f} us CPU/op", flush=True)
    finally:
        srv.close()
    print(f"\nmode={MODE} rounds={ROUNDS} (shared machine: medians of alternating rounds)")
    print(f"{'workload':17s} {'unit':6s} {'off median':>12s} {'on median':>12s} "
          f"{'ratio':>7s} {'per-round':>9s}  off min..max / on min..max")
    for name, unit, _, _ in WORKLOADS:
        off, on = res[name]["off"], res[name]["on"]
        mo, mn = statistics.median(off), statistics.median(on)
        pr = statistics.median(b / a for a, b in zip(off, on))
        print(f"{name:17s} {unit:6s} {mo:12.1f} {mn:12.1f} {mn / mo:7.3f} {pr:9.3f}  "
              f"{min(off):.0f}..{max(off):.0f} / {min(on):.0f}..{max(on):.0f}")
    print(f"\n{'workload':17s} client CPU us/op: {'off median':>10s} {'on median':>10s} "
          f"{'added':>7s}")
    for name, _, _, _ in WORKLOADS:
        off, on = statistics.median(cpu[name]["off"]), statistics.median(cpu[name]["on"])
        print(f"{name:17s} {'':16s} {off:10.2f} {on:10.2f} {on - off:7.2f}")


if __name__ == "__main__":
    main()
