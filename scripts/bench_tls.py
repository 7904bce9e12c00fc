#!/usr/bin/python3
"""bench_tls.py: HTTPS nginx + wrk on loopback, with and without the probe,
beside a bpftrace peer, alternating, in one run. Called by
scripts/bench-tls.sh; see there.

Configurations, each run once per round (the order rotates every round):
  none      nothing attached
  probe     the probe host-wide with every signal off but http (and proc):
            syscall hooks plus the libssl uprobes, plaintext parsed and
            one record per request; reads and writes probed at the common
            callee of SSL_read/SSL_read_ex and SSL_write/SSL_write_ex when
            the library has one (the default, signals.http.tls_sites)
  probe-exp the same with signals.http.tls_sites "exported": the probes on
            the exported wrappers' entries (single-stepped in OpenSSL 3.0)
  bpftrace  uprobe SSL_write, uprobe + uretprobe SSL_read, counting per
            process (no payload copy): what an sslsniff-style peer pays
  bt-callee the same counting script at the probe's callee sites (the
            addresses its --check names): the peer on equal footing
  floor     empty bpftrace programs at the callee sites (uprobe on the
            write callee, uprobe + uretprobe on the read callee): the
            traps alone, what any tool at these sites pays at least
The callee configurations are left out when the probe found no callee.
After the rounds, one run each of probe and floor with the kernel's
bpf_stats on prints every BPF program's calls and ns per request.

Both nginx's worker and wrk (also linked against libssl) are traced in the
probe and bpftrace runs. The measuring and the table come from
bench_http.py (same wrk pinning, CPU per request and medians).
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
import bench_http as bh  # noqa: E402


def start_nginx_tls(d, port):
    """HTTPS with a fresh self-signed certificate: the body goes through
    SSL_write (no sendfile)."""
    os.makedirs(d, exist_ok=True)
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=bench.test"], check=True,
                   capture_output=True)
    return bh.start_nginx(d, port, listen=" ssl",
                          server=f"ssl_certificate {crt};\n        ssl_certificate_key {key};")


def libssl_of(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = re.search(r"(/\S*/libssl\.so[.0-9]*)$", line.strip())
            if m:
                return m.group(1)
    sys.exit(f"bench: pid {pid} maps no libssl")


def callee_sites(probe, cfg):
    """(read site, write site) the probe chose in nginx's libssl, as
    addresses in the file, from its --check lines; None without callees."""
    r = subprocess.run([probe, "--check", "--config", cfg], capture_output=True, text=True)
    got = []
    for what in ("read", "write"):
        m = re.search(rf"SSL_{what}/SSL_{what}_ex via their common callee (0x[0-9a-f]+) "
                      r"(?:entry )?\+(\d+):", r.stderr)
        if not m:
            return None
        got.append(int(m.group(1), 16) + int(m.group(2)))
    return tuple(got)


def bt_script(lib, kind, sites):
    if kind == "bpftrace":
        w, r = f"{lib}:SSL_write", f"{lib}:SSL_read"
    else:
        w, r = f"{lib}:{sites[1]:#x}", f"{lib}:{sites[0]:#x}"
    if kind == "floor":
        return f"uprobe:{w} {{ }}\nuprobe:{r} {{ }}\nuretprobe:{r} {{ }}\n"
    return (f"uprobe:{w} {{ @w[pid] = count(); }}\n"
            f"uprobe:{r} {{ @rb[tid] = arg1; }}\n"
            f"uretprobe:{r} /@rb[tid]/ {{ @r[pid] = count(); delete(@rb[tid]); }}\n")


def start_bpftrace(lib, log, kind="bpftrace", sites=None):
    script = bt_script(lib, kind, sites)
    out = open(log, "w")
    # --unsafe: the callee sites are addresses no symbol names (stripped
    # library); the probe's decoder put them on instruction boundaries
    p = subprocess.Popen(["bpftrace", "--unsafe", "-e", script], stdout=out,
                         stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while "Attaching" not in open(log).read():
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            p.wait()
            sys.exit("bench: bpftrace did not start:\n" + open(log).read())
        time.sleep(0.1)
    time.sleep(2)
    return p


def stop_bpftrace(p, log):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    writes = sum(int(n) for n in re.findall(r"@w\[\d+\]: (\d+)", open(log).read()))
    return writes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix="probe-bench-tls-")
    port = bh.free_port()
    ng = start_nginx_tls(d, port)
    url = f"https://127.0.0.1:{port}/index.html"
    http_cfg = os.path.join(d, "http-only.json")
    bh.http_only_config(a.probe, http_cfg)
    with open(http_cfg) as f:       # host-wide, TLS capture is opt-in
        cfg = json.load(f)
    cfg["signals"]["http"]["tls"] = True
    cfg["signals"]["http"]["tls_sites"] = "callee"
    with open(http_cfg, "w") as f:
        json.dump(cfg, f)
    exp_cfg = os.path.join(d, "http-exported.json")
    cfg["signals"]["http"]["tls_sites"] = "exported"
    with open(exp_cfg, "w") as f:
        json.dump(cfg, f)
    lib = libssl_of(bh.workers(ng.pid)[0])
    sites = callee_sites(a.probe, http_cfg)
    configs = ["none", "probe", "probe-exp", "bpftrace"]
    if sites:
        print(f"callee sites in {lib}: read {sites[0]:#x}, write {sites[1]:#x}")
        configs += ["bt-callee", "floor"]
    else:
        print(f"no common callee found in {lib}: the callee rows are left out")
    res = {name: [] for name in configs}
    try:
        bh.wrk(port, 2, url=url)    # warm-up, not counted
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for name in order:
                log = os.path.join(d, f"{name}-{r}")
                p = None
                if name in ("probe", "probe-exp"):
                    p = bh.start_probe(a.probe, ["--config", http_cfg if name == "probe"
                                                 else exp_cfg], log)
                elif name in ("bpftrace", "bt-callee", "floor"):
                    p = start_bpftrace(lib, log, name, sites)
                watch = bh.workers(ng.pid) + ([p.pid] if p else [])
                w = bh.wrk(port, a.seconds, watch, url=url)
                extra = ""
                if name in ("probe", "probe-exp"):
                    w["seen"], w["lost"] = bh.stop_probe(p, log)
                    extra = f"  probe saw {w['seen']} (lost {w['lost']})"
                elif name in ("bpftrace", "bt-callee"):
                    extra = f"  bpftrace counted {stop_bpftrace(p, log)} write calls"
                elif name == "floor":
                    stop_bpftrace(p, log)
                res[name].append(w)
                print(f"round {r} {name:8s} {w['rps']:9.0f} req/s  p50 {w['p50']:.3f} ms  "
                      f"p99 {w['p99']:.3f} ms  cpu {w['cpu_us']:.1f} us/req (nginx "
                      f"{w['server_us']:.1f}, wrk {w['wrk_us']:.1f}){extra}", flush=True)
                time.sleep(1)
        if sites:
            log = os.path.join(d, "stats-probe")
            bh.bpf_stats_run("probe (callee sites)",
                             lambda: bh.start_probe(a.probe, ["--config", http_cfg], log),
                             lambda p: bh.stop_probe(p, log), port, a.seconds, url=url)
            log = os.path.join(d, "stats-floor")
            bh.bpf_stats_run("floor (empty bpftrace programs at the callee sites)",
                             lambda: start_bpftrace(lib, log, "floor", sites),
                             lambda p: stop_bpftrace(p, log), port, a.seconds, url=url)
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
    base_cpu = statistics.median(x["cpu_us"] for x in base)
    print(f"\n== medians over {a.rounds} alternating rounds of {a.seconds} s "
          f"(shared machine: min-max shown)")
    print(f"{'config':9s} {'req/s':>9s} {'[min-max]':>17s} {'ratio':>6s} {'paired':>7s} "
          f"{'p99 ms':>7s} {'p99 ratio':>9s} {'cpu us/req':>10s} {'+us/req':>8s} {'kept':>5s}")
    for name in configs:
        v = res[name]
        rps = statistics.median(x["rps"] for x in v)
        p99 = statistics.median(x["p99"] for x in v)
        cpu = statistics.median(x["cpu_us"] for x in v)
        paired = statistics.median(x["rps"] / b["rps"] for x, b in zip(v, base))
        print(f"{name:9s} {rps:9.0f} [{min(x['rps'] for x in v):7.0f}-"
              f"{max(x['rps'] for x in v):7.0f}] {rps / base_rps:6.3f} {paired:7.3f} "
              f"{p99:7.3f} {p99 / base_p99:9.3f} {cpu:10.2f} {cpu - base_cpu:8.2f} "
              f"{base_cpu / cpu:5.3f}")
    print("ratio: median req/s over the median without a tracer; paired: median of the "
          "per-round ratios.\ncpu us/req: CPU time of nginx's worker, wrk and the tracer's "
          "process per request (BPF time is charged to the traced processes); +us/req: "
          "that minus no tracer; kept: the throughput that cost allows when the CPUs are "
          "the limit.")


if __name__ == "__main__":
    main()
