#!/usr/bin/python3
"""bench_tls.py: HTTPS nginx + wrk on loopback, with and without the probe,
beside a bpftrace peer, alternating, in one run. Called by
scripts/bench-tls.sh; see there.

Configurations, each run once per round (the order rotates every round):
  none      nothing attached
  probe     the probe host-wide with every signal off but http (and proc):
            syscall hooks plus the libssl uprobes, plaintext parsed and
            one record per request
  bpftrace  uprobe SSL_write, uprobe + uretprobe SSL_read, counting per
            process (no payload copy): the floor of any uprobe-based peer

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
    html = os.path.join(d, "html")
    tmp = os.path.join(d, "tmp")
    os.makedirs(html)
    os.makedirs(tmp)
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=bench.test"], check=True,
                   capture_output=True)
    with open(os.path.join(html, "index.html"), "w") as f:
        f.write(("<p>probe bench</p>" * 40)[:612])
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
worker_cpu_affinity 01;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/html;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        root {html};
        location / {{ }}
    }}
}}
""")
    p = subprocess.Popen(["nginx", "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            bh.socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            if time.time() > deadline or p.poll() is not None:
                p.kill()
                sys.exit("bench: nginx did not start: " + p.communicate()[1].decode())
            time.sleep(0.05)


def libssl_of(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = re.search(r"(/\S*/libssl\.so[.0-9]*)$", line.strip())
            if m:
                return m.group(1)
    sys.exit(f"bench: pid {pid} maps no libssl")


def start_bpftrace(lib, log):
    script = (f"uprobe:{lib}:SSL_write {{ @w[pid] = count(); }}\n"
              f"uprobe:{lib}:SSL_read {{ @rb[tid] = arg1; }}\n"
              f"uretprobe:{lib}:SSL_read /@rb[tid]/ {{ @r[pid] = count(); delete(@rb[tid]); }}\n")
    out = open(log, "w")
    p = subprocess.Popen(["bpftrace", "-e", script], stdout=out, stderr=subprocess.STDOUT)
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
    with open(http_cfg, "w") as f:
        json.dump(cfg, f)
    lib = libssl_of(bh.workers(ng.pid)[0])
    configs = ["none", "probe", "bpftrace"]
    res = {name: [] for name in configs}
    try:
        bh.wrk(port, 2, url=url)    # warm-up, not counted
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for name in order:
                log = os.path.join(d, f"{name}-{r}")
                p = None
                if name == "probe":
                    p = bh.start_probe(a.probe, ["--config", http_cfg], log)
                elif name == "bpftrace":
                    p = start_bpftrace(lib, log)
                watch = bh.workers(ng.pid) + ([p.pid] if p else [])
                w = bh.wrk(port, a.seconds, watch, url=url)
                extra = ""
                if name == "probe":
                    w["seen"], w["lost"] = bh.stop_probe(p, log)
                    extra = f"  probe saw {w['seen']} (lost {w['lost']})"
                elif name == "bpftrace":
                    extra = f"  bpftrace counted {stop_bpftrace(p, log)} SSL_write calls"
                res[name].append(w)
                print(f"round {r} {name:8s} {w['rps']:9.0f} req/s  p50 {w['p50']:.3f} ms  "
                      f"p99 {w['p99']:.3f} ms  cpu {w['cpu_us']:.1f} us/req (nginx "
                      f"{w['server_us']:.1f}, wrk {w['wrk_us']:.1f}){extra}", flush=True)
                time.sleep(1)
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
    print(f"{'config':8s} {'req/s':>9s} {'[min-max]':>17s} {'ratio':>6s} {'paired':>7s} "
          f"{'p99 ms':>7s} {'p99 ratio':>9s} {'cpu us/req':>10s} {'+us/req':>8s} {'kept':>5s}")
    for name in configs:
        v = res[name]
        rps = statistics.median(x["rps"] for x in v)
        p99 = statistics.median(x["p99"] for x in v)
        cpu = statistics.median(x["cpu_us"] for x in v)
        paired = statistics.median(x["rps"] / b["rps"] for x, b in zip(v, base))
        print(f"{name:8s} {rps:9.0f} [{min(x['rps'] for x in v):7.0f}-"
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
