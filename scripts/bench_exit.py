#!/usr/bin/python3
"""bench_exit.py: how long probe takes to exit, and where that time goes.

For each mode (host-wide, --pid on a sleeping process, --pid on a sleeping
process that maps libssl (its TLS uprobes attached), --pid --leaks on a
process that allocates), launches the probe N times with /metrics on (the
default 127.0.0.1:9464, scraped once while it runs) and a webhook alert sink
(a local receiver that answers 200), waits for `probe: ready`, lets it run,
then stops it with SIGINT, and measures from the signal to the process's
exit (wait4). With -v the probe prints each exit step's time ("probe: exit
+X ms: ..."), so the median of each step is printed beside the total: when
the summary was out, when every signal was stopped, and per signal how long
its stop took. Also measures the end of -d (from the ready line plus the
duration to exit), and the start-up: from the launch to `probe: ready`
(under --leaks that includes attaching the allocator's uprobes). --modes
picks modes ("--pid --leaks" alone, say), --no-peer skips bpftrace, and
--probe compares another build. Run as root from the repository root after
`make probe`, under the integration lock; the machine's load moves every
figure.
"""
import argparse
import http.server
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

STEP = re.compile(r"^probe: exit \+([\d.]+) ms: (.*)$")
SIG = re.compile(r"^probe: exit: (\S+)\s+stopped in\s+([\d.]+) ms")


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def launch(probe, args, duration=None):
    """(seconds from SIGINT or the end of -d to exit, {step: ms}, {signal: ms},
    seconds from the launch to `probe: ready`)."""
    cmd = [probe, "-v", *args] + (["-d", str(duration)] if duration else [])
    t_launch = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stderr:
        lines.append(line)
        if line.startswith("probe: ready"):
            break
    else:
        sys.exit("probe never said it was ready:\n" + "".join(lines[-20:]))
    t_ready = time.monotonic()
    try:
        urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=5).read()
    except OSError as e:
        print(f"  (scrape failed: {e})")
    if duration:
        t0 = t_ready + duration
    else:
        time.sleep(1.5)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    os.wait4(p.pid, 0)
    took = time.monotonic() - t0
    steps, sigs = {}, {}
    for line in rest.splitlines():
        m = STEP.match(line)
        if m:
            steps[m.group(2)] = float(m.group(1))
        m = SIG.match(line)
        if m:
            sigs[m.group(1)] = float(m.group(2))
    return took, steps, sigs, t_ready - t_launch


# The trace events the probe held as perf events under --pid (bpftool perf
# list) before its sched, sock and tcp hooks moved to tp_btf, as a peer with
# empty bodies: what any tracer on them waits for when it lets go. The probe
# now holds only the 16 syscalls:* ones that way (they have no raw form).
PEER_EVENTS = ["syscalls:sys_enter_" + n for n in
               ("connect", "sendmsg", "sendto", "write", "writev")] + \
              ["syscalls:sys_exit_" + n for n in
               ("accept", "accept4", "connect", "brk", "mmap", "mremap", "munmap", "read",
                "readv", "recvfrom", "recvmsg")] + \
              ["sched:sched_process_fork", "sched:sched_process_exec", "sched:sched_process_exit",
               "sock:inet_sock_set_state", "tcp:tcp_retransmit_skb", "tcp:tcp_receive_reset",
               "tcp:tcp_send_reset"]


def peer():
    """bpftrace on the same trace events: seconds from SIGINT to its exit."""
    prog = ",\n".join("tracepoint:" + e for e in PEER_EVENTS) + " { }\n"
    p = subprocess.Popen(["bpftrace", "-e", prog], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    line = ""
    for _ in range(5):  # a warning about RLIMIT_MEMLOCK may come first
        line = p.stdout.readline()
        if line.startswith("Attaching") or not line:
            break
    if not line.startswith("Attaching"):
        p.kill()
        p.wait()
        return None
    time.sleep(1.5)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    p.stdout.read()
    os.wait4(p.pid, 0)
    return time.monotonic() - t0


def med(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", default="./probe")
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--peer-only", action="store_true", help="only the bpftrace row")
    ap.add_argument("--modes", default="host-wide,--pid,--pid tls,--pid --leaks",
                    help="comma-separated modes to run (default: all four)")
    ap.add_argument("--no-peer", action="store_true", help="skip the bpftrace row")
    a = ap.parse_args()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{srv.server_address[1]}/"
    sleeper = subprocess.Popen(["sleep", "3600"])
    tls = subprocess.Popen(["/usr/bin/python3", "-c", "import ssl, time\ntime.sleep(3600)"])
    # an allocating process for --leaks: the allocator's uprobes are attached
    alloc = subprocess.Popen(["/usr/bin/python3", "-c",
                              "import time\nwhile True:\n    x=[str(i) for i in range(2000)]\n"
                              "    time.sleep(0.01)\n"])
    modes = [
        ("host-wide", []),
        ("--pid", ["--pid", str(sleeper.pid)]),
        ("--pid tls", ["--pid", str(tls.pid)]),
        ("--pid --leaks", ["--pid", str(alloc.pid), "--leaks"]),
    ]
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f}; {a.n} launches per mode; "
              "/metrics on and scraped, webhook sink on")
        chosen = a.modes.split(",")
        for name, args in ([] if a.peer_only else [m for m in modes if m[0] in chosen]):
            args = args + ["--webhook", hook]
            runs = [launch(a.probe, args) for _ in range(a.n)]
            took = [r[0] for r in runs]
            druns = [launch(a.probe, args, duration=2) for _ in range(a.n)]
            dur = [r[0] for r in druns]
            ready = [r[3] for r in runs + druns]
            print(f"{name:14s} SIGINT->exit median {med(took):.3f} s "
                  f"[{min(took):.3f}-{max(took):.3f}]; end of -d->exit median {med(dur):.3f} s "
                  f"[{min(dur):.3f}-{max(dur):.3f}]; launch->ready median {med(ready):.3f} s "
                  f"[{min(ready):.3f}-{max(ready):.3f}]")
            keys = []
            for r in runs:
                keys += [k for k in r[1] if k not in keys]
            print("  steps (median ms after the stop): " +
                  "; ".join(f"{k} +{med([r[1][k] for r in runs if k in r[1]]):.1f}"
                            for k in keys))
            sk = []
            for r in runs:
                sk += [k for k in r[2] if k not in sk]
            print("  each signal's stop (median ms, run side by side): " +
                  ", ".join(f"{k} {med([r[2][k] for r in runs if k in r[2]]):.0f}"
                            for k in sk))
        bt = [] if a.no_peer else [peer() for _ in range(a.n)]
        bt = [x for x in bt if x is not None]
        if bt:
            print(f"{'bpftrace peer':14s} SIGINT->exit median {med(bt):.3f} s "
                  f"[{min(bt):.3f}-{max(bt):.3f}] (empty programs on the same "
                  f"{len(PEER_EVENTS)} trace events)")
        elif not a.no_peer:
            print("bpftrace peer: did not start")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        for p in (sleeper, tls, alloc):
            p.kill()
            p.wait()
        srv.shutdown()


if __name__ == "__main__":
    main()
