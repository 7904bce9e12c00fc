#!/usr/bin/python3
"""bench_export.py: scrape latency and probe CPU with 10,000 series.
Called by scripts/bench-export.sh; see there."""
import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import cpu_s, free_port, start_nginx

SERIES = 10000



def word(i):
    s = ""
    for _ in range(4):
        s += chr(ord("a") + i % 26)
        i //= 26
    return s


def crawl(port, n):
    """n distinct paths, one after the other on one keep-alive connection
    (the capture follows a bounded pipeline depth, so no pipelining)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for i in range(n):
            s.sendall(f"GET /crawl/{word(i)} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, buf = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"Content-Length: (\d+)", head, re.I)
            need = int(m.group(1)) if m else 0
            while len(buf) < need:
                buf += s.recv(65536)
            buf = buf[need:]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def scrape(port, gz):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if gz:
        req.add_header("Accept-Encoding", "gzip")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
    t = time.perf_counter() - t0
    text = gzip.decompress(raw).decode() if gz else raw.decode()
    return t, len(raw), text


def build_s(text):
    m = re.search(r"^probe_export_snapshot_duration_seconds (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--scrapes", type=int, default=10)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="probe-bench-export-")
    nport, mport = free_port(), free_port()
    cfg = os.path.join(d, "probe.json")
    with open(cfg, "w") as f:
        json.dump({"store": {"max_series": 20000},
                   "signals": {"http": {"max_routes": 20000},
                               "syscalls": {"enabled": False}},
                   "export": {"max_series_per_family": 0, "max_series_per_service": 0}}, f)
    ng = start_nginx(d, nport, pin=False)
    pr = subprocess.Popen([a.probe, "--pid", str(ng.pid), "-c", cfg, "-i", "3600",
                           "--listen", f"127.0.0.1:{mport}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        err = ""
        while "probe: ready" not in err:
            line = pr.stderr.readline()
            if not line:
                sys.exit("bench-export: probe exited:\n" + err)
            err += line
        print(f"bench-export: probe ready; crawling {SERIES} paths", file=sys.stderr)
        t = time.time()
        crawl(nport, SERIES)
        print(f"bench-export: crawled in {time.time() - t:.1f} s", file=sys.stderr)
        deadline = time.time() + 60
        while True:
            _, _, text = scrape(mport, False)
            n = len(re.findall(r"^http_server_request_duration_seconds_count\{", text, re.M))
            if n >= SERIES:
                break
            if time.time() > deadline:
                sys.exit(f"bench-export: only {n} series after 60 s")
            time.sleep(1)
        time.sleep(1.2)
        c0, t0 = cpu_s(pr.pid), time.time()
        time.sleep(10)
        idle = (cpu_s(pr.pid) - c0) / (time.time() - t0)
        rows = {}
        for name, gz, gap in (("plain", False, 1.2), ("gzip", True, 1.2),
                              ("plain, cached", False, 0)):
            lat, size, builds, cpu = [], 0, [], []
            for i in range(a.scrapes):
                if gap:
                    time.sleep(gap)     # past the 1 s reuse: every scrape builds anew
                else:
                    scrape(mport, gz)   # this one builds; the timed one reuses it
                c = cpu_s(pr.pid)
                t, size, text = scrape(mport, gz)
                cpu.append(cpu_s(pr.pid) - c)
                lat.append(t)
                builds.append(build_s(text))
            rows[name] = (statistics.median(lat), max(lat), size, statistics.median(builds),
                          statistics.mean(cpu))
        lines = len([ln for ln in text.splitlines() if not ln.startswith("#")])
        print(f"bench-export: {n} series of http_server_request_duration_seconds, "
              f"{lines} sample lines, {len(text) / 1e6:.1f} MB of text; probe RSS "
              f"{rss_mb(pr.pid):.0f} MB; {a.scrapes} scrapes each; machine load "
              f"{os.getloadavg()[0]:.2f} (2 cores, shared: read medians)")
        print(f"{'scrape':<15} {'median ms':>10} {'max ms':>9} {'bytes':>11} "
              f"{'build ms':>9} {'probe CPU ms':>13}")
        for name, (med, mx, size, b, c) in rows.items():
            print(f"{name:<15} {med * 1e3:>10.1f} {mx * 1e3:>9.1f} {size:>11} {b * 1e3:>9.1f} "
                  f"{c * 1e3:>13.0f}")
        print(f"{'idle':<15} {'-':>10} {'-':>9} {'-':>11} {'-':>9} "
              f"{idle * 100:>11.2f} %  (CPU share with no scrapes)")
        print("build ms: the snapshot's time on the event loop (the previous build, as "
              "exported); probe CPU: per scrape, all threads, /proc ticks (10 ms)")
    finally:
        pr.send_signal(signal.SIGINT)
        try:
            pr.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pr.kill()
            pr.wait()
        ng.send_signal(signal.SIGQUIT)
        try:
            ng.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ng.kill()
            ng.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
