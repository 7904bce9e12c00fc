#!/usr/bin/python3
"""bench_http.py: nginx + wrk on loopback, with and without the probe,
alternating, in one run. Called by scripts/bench-http.sh; see there.

Configurations, each run once per round (the order rotates every round):
  none      nothing attached
  floor     empty programs of the same type on the same tracepoints as the
            socket capture (tests/bench/http_floor.bpf.c): what the kernel
            charges to run any program there, the least a tracer on these
            hooks can cost
  least     the least an HTTP timer there does (tests/bench/http_least.bpf.c):
            a lookup and a 16-byte copy per call, the clock at a request
            and at its status line, a 32-byte record per request; no
            parsing. What it keeps bounds what any such tracer keeps here
  http      the probe host-wide with every signal off but http (and proc,
            which is always on)
  default   the probe host-wide on its embedded defaults
  bpftrace  the peer: bpftrace (Debian) running scripts/bt/http-latency.bt,
            nginx request latency from the same syscall tracepoints
Every tracer is measured only after it is ready (`probe: ready`, bpftrace's
"Attaching N probes"), plus 2 s.

nginx (Debian nginx-light): 1 worker on CPU 0, a 612-byte static file,
keep-alive, sendfile on, access_log off; wrk on CPU 1, 1 thread, 32
connections. The probe is started, given 2 s after its ready line, and
stopped with SIGINT after wrk; its summary says how many requests it saw.
After the rounds, one more run of the http-only probe with the kernel's
bpf_stats on gives the run time of each of its BPF programs per call and
per request (bpf_stats itself adds a little to every program run, so it is
not on during the timed rounds).

Besides req/s and p99, each run reports the CPU time nginx's worker, wrk
and the probe spent per request. On a machine shared with other work the
throughput mostly measures the scheduler's share; CPU per request does
not.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_s, free_port, start_nginx  # noqa: E402


def start_http_nginx(d, port):
    """Plain HTTP: the body goes out with sendfile, as a static server's does."""
    return start_nginx(d, port, http="sendfile on;\n    tcp_nopush on;")


def http_only_config(probe, path):
    """The default config with every signal but http switched off."""
    cfg = json.loads(subprocess.run([probe, "--print-config"], capture_output=True,
                                    text=True, check=True).stdout)
    for name, sig in cfg.get("signals", {}).items():
        if isinstance(sig, dict) and "enabled" in sig:
            sig["enabled"] = name == "http"
    with open(path, "w") as f:
        json.dump(cfg, f)


def start_probe(probe, args, log):
    p = subprocess.Popen([probe, "--json", *args], stdout=open(log + ".out", "w"),
                         stderr=open(log + ".err", "w"))
    deadline = time.time() + 60
    while "probe: ready" not in open(log + ".err").read():
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            p.wait()
            sys.exit("bench: probe did not start:\n" + open(log + ".err").read())
        time.sleep(0.1)
    time.sleep(2)
    return p


def start_bpftrace(script, log):
    p = subprocess.Popen(["bpftrace", script], stdout=open(log + ".out", "w"),
                         stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while "Attaching" not in open(log + ".out").read():
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            p.wait()
            sys.exit("bench: bpftrace did not start:\n" + open(log + ".out").read())
        time.sleep(0.1)
    time.sleep(2)
    return p


def start_floor(path, log):
    """The floor's empty programs, attached once they print "ready"."""
    p = subprocess.Popen([path], stdout=open(log + ".out", "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while "ready" not in open(log + ".out").read():
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            p.wait()
            sys.exit("bench: the floor did not start:\n" + open(log + ".out").read())
        time.sleep(0.05)
    time.sleep(2)
    return p


def stop_floor(p, log):
    """Stops the floor or least row: (requests it timed, None), or (None, None)."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    m = re.search(r"records: (\d+)", open(log + ".out").read())
    return (int(m.group(1)) if m else None), None


def stop_bpftrace(p, log):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    m = re.search(r"@requests: (\d+)", open(log + ".out").read())
    return (int(m.group(1)) if m else None), None


def progs():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    return json.loads(out.stdout or "[]")


def prog_stats(ids):
    """{program name: (run count, run time ns)} over the programs with these ids."""
    res = {}
    for p in progs():
        if p["id"] not in ids:
            continue
        n, t = res.get(p["name"], (0, 0))
        res[p["name"]] = (n + p.get("run_cnt", 0), t + p.get("run_time_ns", 0))
    return res


def bpf_stats_run(name, start, stop, port, secs, url=None):
    """One run of a tracer (start() -> process, stop(process)) with bpf_stats on,
    wrk on port (or url): its BPF programs' cost per call and per request."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    old = open(path).read().strip()
    with open(path, "w") as f:
        f.write("1")
    try:
        old_ids = {x["id"] for x in progs()}
        p = start()
        ids = {x["id"] for x in progs()} - old_ids     # the tracer's programs
        before = prog_stats(ids)
        w = wrk(port, secs, url=url)
        after = prog_stats(ids)
        stop(p)
    finally:
        with open(path, "w") as f:
            f.write(old)
    print(f"\n== bpf_stats, {name}, one {secs} s run ({w['n']} requests, {w['rps']:.0f} req/s;"
          f" bpf_stats itself adds to each run)")
    print(f"{'program':24s} {'calls/req':>9s} {'ns/call':>8s} {'ns/req':>7s}")
    total = 0.0
    for name in sorted(after, key=lambda k: -(after[k][1] - before.get(k, (0, 0))[1])):
        n = after[name][0] - before.get(name, (0, 0))[0]
        t = after[name][1] - before.get(name, (0, 0))[1]
        if not n:
            continue
        total += t / w["n"]
        print(f"{name:24s} {n / w['n']:9.2f} {t / n:8.0f} {t / w['n']:7.0f}")
    print(f"{'all':24s} {'':9s} {'':8s} {total:7.0f}  (both sides: nginx and wrk are traced)")


def stop_probe(p, log):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    seen = lost = None
    for line in reversed(open(log + ".out").read().strip().splitlines()):
        obj = json.loads(line)
        if obj.get("type") == "summary":
            seen = sum(r["requests"] for r in obj.get("http", {}).get("server", [])
                       if r.get("comm") == "nginx")
            lost = sum(s["lost"] for s in obj.get("probe", []) if s["signal"] == "http")
            break
    return seen, lost


def to_ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def workers(master):
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def wrk(port, secs, watch=(), url=None):
    """One wrk run. watch: pids whose CPU time is added to wrk's own; url:
    another target than the plain-HTTP one (bench_tls.py: https)."""
    before = [cpu_s(p) for p in watch]
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{secs}s",
                              "--latency", url or f"http://127.0.0.1:{port}/index.html"],
                             stdout=out, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        out.seek(0)
        out = out.read()
    spent = [cpu_s(p) - b for p, b in zip(watch, before)]
    cpu = ru.ru_utime + ru.ru_stime + sum(spent)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = to_ms(*re.search(r"\s50%\s+([0-9.]+)(us|ms|s)\b", out).groups())
    p99 = to_ms(*re.search(r"\s99%\s+([0-9.]+)(us|ms|s)\b", out).groups())
    n = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "n": n, "cpu_us": cpu / n * 1e6,
            "wrk_us": (ru.ru_utime + ru.ru_stime) / n * 1e6,
            "server_us": (spent[0] if spent else 0) / n * 1e6}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--floor", default=None, help="tests/bench/http_floor, built")
    ap.add_argument("--least", default=None, help="tests/bench/http_least, built")
    ap.add_argument("--bpftrace", default=os.path.join(os.path.dirname(__file__), "bt",
                                                      "http-latency.bt"))
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix="probe-bench-http-")
    port = free_port()
    ng = start_http_nginx(d, port)
    http_cfg = os.path.join(d, "http-only.json")
    http_only_config(a.probe, http_cfg)
    configs = [("none", None)]
    if a.floor and os.access(a.floor, os.X_OK):
        configs.append(("floor", "floor"))
    else:
        print("bench: no floor row (build it: make bench)", flush=True)
    if a.least and os.access(a.least, os.X_OK):
        configs.append(("least", "least"))
    else:
        print("bench: no least row (build it: make bench)", flush=True)
    configs += [("http", ["--config", http_cfg]), ("default", [])]
    if shutil.which("bpftrace"):
        configs.append(("bpftrace", "bt"))
    res = {name: [] for name, _ in configs}
    try:
        wrk(port, 2)    # warm-up, not counted
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for name, args in order:
                log = os.path.join(d, f"{name}-{r}")
                if args == "bt":
                    p = start_bpftrace(a.bpftrace, log)
                elif args in ("floor", "least"):
                    p = start_floor(a.floor if args == "floor" else a.least, log)
                else:
                    p = start_probe(a.probe, args, log) if args is not None else None
                watch = workers(ng.pid) + ([p.pid] if p else [])
                w = wrk(port, a.seconds, watch)
                if args == "bt":
                    w["seen"], w["lost"] = stop_bpftrace(p, log)
                elif args in ("floor", "least"):
                    w["seen"], w["lost"] = stop_floor(p, log)
                elif p:
                    w["seen"], w["lost"] = stop_probe(p, log)
                res[name].append(w)
                extra = (f"  timed {w['seen']}" if args == "least" else
                         f"  bpftrace saw {w['seen']}" if args == "bt" else
                         f"  probe saw {w['seen']} (lost {w['lost']})" if p and args != "floor"
                         else "")
                print(f"round {r} {name:8s} {w['rps']:9.0f} req/s  p50 {w['p50']:.3f} ms  "
                      f"p99 {w['p99']:.3f} ms  cpu {w['cpu_us']:.1f} us/req (nginx "
                      f"{w['server_us']:.1f}, wrk {w['wrk_us']:.1f}){extra}", flush=True)
                time.sleep(1)
        if shutil.which("bpftool"):
            log = os.path.join(d, "bpf-stats")
            bpf_stats_run("http only", lambda: start_probe(a.probe, ["--config", http_cfg], log),
                          lambda p: stop_probe(p, log), port, a.seconds)
            if "least" in res:
                bpf_stats_run("least", lambda: start_floor(a.least, log + "-least"),
                              lambda p: stop_floor(p, log + "-least"), port, a.seconds)
    finally:
        ng.send_signal(signal.SIGQUIT)
        try:
            ng.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ng.kill()
            ng.wait()
        shutil.rmtree(d, ignore_errors=True)

    base = res["none"]
    base_rps = statistics.median(x["rps"] for x in base)
    base_p99 = statistics.median(x["p99"] for x in base)
    print(f"\n== medians over {a.rounds} alternating rounds of {a.seconds} s "
          f"(shared machine: min-max shown)")
    base_cpu = statistics.median(x["cpu_us"] for x in base)
    floor_cpu = (statistics.median(x["cpu_us"] for x in res["floor"]) if "floor" in res
                 else None)
    print(f"{'config':8s} {'req/s':>9s} {'[min-max]':>17s} {'ratio':>6s} {'paired':>7s} "
          f"{'p99 ms':>7s} {'[min-max]':>15s} {'p99 ratio':>9s} {'cpu us/req':>10s} "
          f"{'kept':>5s} {'+ns/req':>8s} {'>floor':>7s}")
    for name, _ in configs:
        v = res[name]
        rps = statistics.median(x["rps"] for x in v)
        p99 = statistics.median(x["p99"] for x in v)
        cpu = statistics.median(x["cpu_us"] for x in v)
        paired = statistics.median(x["rps"] / b["rps"] for x, b in zip(v, base))
        print(f"{name:8s} {rps:9.0f} [{min(x['rps'] for x in v):7.0f}-"
              f"{max(x['rps'] for x in v):7.0f}] {rps / base_rps:6.3f} {paired:7.3f} "
              f"{p99:7.3f} [{min(x['p99'] for x in v):6.3f}-{max(x['p99'] for x in v):6.3f}] "
              f"{p99 / base_p99:9.3f} {cpu:10.2f} {base_cpu / cpu:5.3f} "
              f"{(cpu - base_cpu) * 1000:8.0f} "
              f"{(cpu - floor_cpu) * 1000 if floor_cpu is not None else float('nan'):7.0f}")
    print("ratio: median req/s over the median without the probe; paired: median of the "
          "per-round ratios.\ncpu us/req: CPU time of nginx's worker, wrk and the probe "
          "process per request (BPF time is charged to the traced processes); kept: the "
          "throughput that cost allows when the CPUs are the limit, robust to other load "
          "on the machine; +ns/req: CPU added per request (nginx, wrk and the tracer), the "
          "figure that carries over to other machines; >floor: the same above the floor "
          "row, the tracer's own work.")


if __name__ == "__main__":
    main()
