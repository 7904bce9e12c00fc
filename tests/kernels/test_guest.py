"""What tests/kernels/run.sh runs inside each kernel (or on the host kernel):
`probe --check --json`, then one host-wide probe run during which a known
syscall mix, HTTP requests to the C server fixture, refused connects, a
Redis exchange over RESP and a leaking fixture happen, each asserted
exactly from the one summary. One probe start covers every scenario
because under emulation the verifier makes each start cost tens of seconds.

Run as root with Debian's interpreter, from the repository root:
    /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/kernels/test_guest.py
"""
import importlib.util
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(ROOT, "tests", "integration", "conftest.py"))
itc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(itc)
PROBE, fixture, summary = itc.PROBE, itc.fixture, itc.summary
free_port, wait_port, resp, read_reply = itc.free_port, itc.wait_port, itc.resp, itc.read_reply
PY = "/usr/bin/python3"

# Under TCG the verifier alone takes tens of seconds per program set.
READY_TIMEOUT_S = 400
READS, OPENS, CLOSES = 500, 40, 30
HTTP_REQS = 40            # a multiple of 4
REFUSED = 5
HITS, MISSES = 12, 5
LEAK_RATE = 1 << 20        # bytes/s
HORIZON_S = 16
LEAK_DEADLINE_S = 120      # flagged within this long of the leak's start

# Each signal and what a kernel without it must say instead of "live".
SIGNALS = ("proc", "syscalls", "http", "conn", "memgrowth", "alloc")


def kernel():
    return os.uname().release


@pytest.fixture(scope="module")
def check():
    r = subprocess.run([PROBE, "--check", "--json"], capture_output=True, text=True,
                       timeout=READY_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def signals_of(obj):
    return {s["signal"]: s for s in obj["signals"]}


@pytest.mark.parametrize("name", SIGNALS)
def test_check_signal_live_or_says_why(check, name):
    """Each signal is live, or off/unavailable with a reason; failed is a failure."""
    s = signals_of(check)[name]
    if name == "syscalls" and s["state"] == "off":
        # host-wide raw_syscalls is opt-in: the reason names the key
        assert "signals.syscalls.enabled" in s["why"], s
        return
    assert s["state"] == "live", f"{name} on {kernel()}: {s['state']}: {s['why']}"


def test_check_under_pid_loads_what_pid_adds():
    """Under --pid the http signal also loads TLS's hooks on process starts
    (tp_btf sched_process_{fork,exec}) and the syscalls signal is on: both
    live, or saying why."""
    r = subprocess.run([PROBE, "--check", "--json", "--pid", str(os.getpid())],
                       capture_output=True, text=True, timeout=READY_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    sig = signals_of(json.loads(r.stdout))
    for name in ("http", "syscalls"):
        assert sig[name]["state"] == "live", f"{name} on {kernel()}: {sig[name]}"
    assert "TLS:" in sig["http"]["why"], sig["http"]


def test_check_says_kprobe_and_fentry_unused(check):
    """No signal prefers kprobes or fentry, so there is no second mode to run;
    where the kernel has them (Debian's 6.1, 6.12) --check says they are unused."""
    for hook in ("kprobe", "fentry"):
        f = check["features"][hook]
        if f["available"]:
            assert "no signal uses it" in f["detail"], f


class Scenario:
    """One host-wide probe run and every workload, started and reaped here."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.errors = []
        cfg = {"interval_s": 2, "signals": {
            "syscalls": {"enabled": True},
            "memgrowth": {"horizon_s": HORIZON_S, "min_growth_bytes": 1 << 20,
                          "tier2_max_pids": 32},
        }}
        self.cfg = os.path.join(tmp, "probe.json")
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()

    def run(self):
        # Servers and the fixtures that wait for a go first, the probe after.
        mix = self.start([fixture("syscall_mix"), str(READS), str(OPENS), str(CLOSES)])
        srv = self.start([fixture("http_server")])
        line = srv.stdout.readline()
        assert line.startswith("ready "), line
        self.http_port = http_port = int(line.split()[1])
        cli = self.start([PY, os.path.join(ROOT, "tests", "fixtures", "http_client.py"),
                          str(http_port), "keepalive", str(HTTP_REQS), "/work/1", "/work/2",
                          "/status/404", "/work/3", "--wait"])
        assert cli.stdout.readline().startswith("ready"), "http_client not ready"
        refused_port = free_port()
        conn = self.start([fixture("connector"), "-w", "-n", str(REFUSED), "127.0.0.1",
                           str(refused_port)])
        assert conn.stdout.readline().startswith("ready pid="), "connector not ready"
        self.redis_port = free_port()
        rdir = tempfile.mkdtemp(prefix="redis-", dir=self.tmp)
        self.start(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", rdir])
        wait_port(self.redis_port, timeout=60)   # slow under emulation

        probe = itc.Probe("--json", "-c", self.cfg, timeout=READY_TIMEOUT_S)
        try:
            self.pids = {"mix": mix.pid, "http_server": srv.pid, "http_client": cli.pid,
                         "connector": conn.pid, "self": os.getpid()}
            leak = self.start([fixture("leak_malloc"), "-r", str(LEAK_RATE), "-c", "100"])
            assert leak.stdout.readline().startswith("ready pid="), "leak_malloc not ready"
            self.pids["leak"] = leak.pid
            leak_start = time.time()

            mix.send_signal(signal.SIGUSR1)
            mix.communicate(timeout=120)
            assert mix.returncode == 0, "syscall_mix failed"

            cli.stdin.write("go\n")
            cli.stdin.flush()
            out, err = cli.communicate(timeout=300)
            assert cli.returncode == 0, err
            self.http_result = json.loads(out.strip().splitlines()[-1])

            conn.stdin.write("go\n")
            conn.stdin.flush()
            out, _ = conn.communicate(timeout=120)
            self.conn_out = out

            self.redis_exchange()
            self.leak_lines = self.wait_leak(probe, leak.pid, leak_start)
        finally:
            code, out, err = probe.stop(timeout=120)
        assert code == 0, err
        self.summary = summary(out)
        self.probe_stderr = err
        return self

    def redis_exchange(self):
        s = socket.create_connection(("127.0.0.1", self.redis_port))
        f = s.makefile("rb")
        for i in range(HITS):
            s.sendall(resp(b"SET", b"k:%d" % i, b"v" * (i + 1)))
            assert read_reply(f) == b"+OK\r\n"
        for i in range(HITS):
            s.sendall(resp(b"GET", b"k:%d" % i))
            assert read_reply(f).startswith(b"$")
        for i in range(MISSES):
            s.sendall(resp(b"GET", b"absent:%d" % i))
            assert read_reply(f) == b"$-1\r\n"
        s.close()

    def wait_leak(self, probe, pid, since):
        """Interval lines until the leak is flagged or the deadline passes."""
        fd = probe.proc.stdout.fileno()
        buf, lines = b"", []
        while time.time() - since < LEAK_DEADLINE_S:
            r, _, _ = select.select([fd], [], [], 2)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                obj = json.loads(line)
                lines.append(obj)
                if any(m["pid"] == pid and m["suspect"] for m in obj.get("memgrowth", [])):
                    return lines
        return lines


@pytest.fixture(scope="module")
def scenario():
    tmp = tempfile.mkdtemp(prefix="probe-kernels-")
    s = Scenario(tmp)
    try:
        yield s.run()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_syscall_mix_exact(scenario):
    rows = {r["syscall"]: r for r in scenario.summary.get("syscalls", [])
            if r["pid"] == scenario.pids["mix"]}
    assert rows, "no syscall rows for syscall_mix"
    assert rows["read"]["calls"] == READS and rows["read"]["errors"] == 0
    assert rows["openat"]["calls"] == OPENS + 1          # + /dev/zero itself
    assert rows["openat"]["errno"] == {"ENOENT": OPENS}
    assert rows["close"]["calls"] == CLOSES
    assert rows["close"]["errno"] == {"EBADF": CLOSES}


def test_http_server_and_client_exact(scenario):
    # the client cycles over /work/1, /work/2, /status/404, /work/3
    quarter = HTTP_REQS // 4
    want = [200, 200, 404, 200] * quarter
    assert scenario.http_result["statuses"] == want
    http = scenario.summary.get("http", {})
    srv = [r for r in http.get("server", []) if r.get("comm") == "http_server"]
    assert srv, f"no server rows: {http}"
    by_route = {(r["method"], r["route"]): r for r in srv}
    work, status = by_route[("GET", "/work/{id}")], by_route[("GET", "/status/{id}")]
    assert work["requests"] == 3 * quarter and work["status"] == {"2xx": 3 * quarter}
    assert status["requests"] == quarter and status["status"] == {"4xx": quarter}
    cli = [r for r in http.get("client", []) if r.get("peer") == f"127.0.0.1:{scenario.http_port}"]
    assert sum(r["requests"] for r in cli) == HTTP_REQS, cli


def test_refused_connects_exact(scenario):
    summ = [l for l in scenario.conn_out.splitlines() if l.startswith("summary")]
    assert summ and f"fail={REFUSED}" in summ[0], scenario.conn_out
    rows = [r for r in scenario.summary.get("connections", [])
            if r.get("pid") == scenario.pids["connector"]]
    assert len(rows) == 1, rows
    c = rows[0]["connects"]
    assert c["attempts"] == REFUSED and c["failed"] == REFUSED
    assert c["failures"]["refused"] == REFUSED
    assert c["errno"] == {"ECONNREFUSED": REFUSED}


def test_redis_exchange_exact(scenario):
    rows = {r["op"]: r for r in scenario.summary.get("db_queries", [])
            if r["pid"] == scenario.pids["self"]}
    assert rows, scenario.summary.get("db_queries")
    assert rows["SET"]["queries"] == HITS and rows["SET"]["errors"] == 0
    g = rows["GET"]
    assert g["queries"] == HITS + MISSES
    assert g["hits"] == HITS and g["misses"] == MISSES


def test_leak_flagged(scenario):
    pid = scenario.pids["leak"]
    flagged = [l["elapsed_s"] for l in scenario.leak_lines
               if any(m["pid"] == pid and m["suspect"] for m in l.get("memgrowth", []))]
    assert flagged, f"leak_malloc not flagged within {LEAK_DEADLINE_S}s on {kernel()}"
    row = [m for m in scenario.leak_lines[-1]["memgrowth"] if m["pid"] == pid][0]
    assert 0.8 * LEAK_RATE <= row["growth_bytes_per_s"] <= 1.3 * LEAK_RATE, row


def test_health_counts_events_and_no_loss(scenario):
    """Every live signal saw events and lost none (a signal that failed to
    load fails its own check test above, not this one)."""
    live = {s["signal"] for s in scenario.summary["signals"] if s["live"]}
    health = {h["signal"]: h for h in scenario.summary["probe"]}
    for name in {"http", "conn", "memgrowth", "proc"} & live:
        assert health[name]["events"] > 0, health
    for h in health.values():
        assert h["lost"] == 0, f"{h} on {kernel()}"


def probe_links(pid):
    """{link_type: count} of the BPF links process pid holds (its fdinfo)."""
    kinds = {}
    fddir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("link_type:"):
                k = line.split(":", 1)[1].strip()
                kinds[k] = kinds.get(k, 0) + 1
    return kinds


def test_leaks_traces_the_allocator_either_way(check):
    """--pid --leaks on a leaking fixture: the allocator's probes attach as
    --check said they would (one uprobe_multi link per program where the
    kernel has a working one, Linux 6.6+; else a uprobe per site, as on 6.1),
    the leaking function holds the most outstanding bytes, and the probe
    exits cleanly. A second probe start, so it costs another verifier pass."""
    multi = check["features"]["uprobe_multi"]["available"]
    rel = tuple(int(x) for x in kernel().split("-")[0].split(".")[:2])
    if rel < (6, 6):
        assert not multi, check["features"]["uprobe_multi"]
    elif rel >= (6, 10) and check["features"]["uprobe"]["available"]:
        # the link type since 6.6, its pid filter right for every thread since 6.10
        assert multi, check["features"]["uprobe_multi"]
    leak = subprocess.Popen([fixture("alloc_leak"), "malloc", str(1 << 16), "-w"],
                            stdout=subprocess.PIPE, text=True)
    probe = None
    try:
        assert leak.stdout.readline().startswith("ready"), "alloc_leak not ready"
        probe = itc.Probe("--pid", str(leak.pid), "--leaks", "--json", "-v", "-i", "2",
                          timeout=READY_TIMEOUT_S)
        how = "3 uprobe_multi links" if multi else "a uprobe per site"
        assert f"tracing pid {leak.pid} (alloc_leak), " in probe.stderr, probe.stderr[-3000:]
        assert f"({how})" in probe.stderr, probe.stderr[-3000:]
        links = probe_links(probe.proc.pid)
        if multi:
            # free, allocator entries, returns, and the calibration probe
            # (6.18's fdinfo says uretprobe_multi for the returns)
            assert sum(n for k, n in links.items() if k.endswith("probe_multi")) >= 4, links
        else:
            assert not any(k.endswith("probe_multi") for k in links), links
        leak.send_signal(signal.SIGUSR1)
        time.sleep(10)
        code, out, err = probe.stop(timeout=120)
    finally:
        if probe:
            probe.kill()
        leak.kill()
        leak.communicate()
    assert code == 0, err[-3000:]
    summ = summary(out)
    rows = [s for s in summ.get("alloc", {}).get("sites", []) if s["pid"] == leak.pid]
    assert rows, summ.get("alloc")
    top = max(rows, key=lambda s: s["bytes"])
    assert top["site"].startswith("leak_by_malloc+"), rows[:3]
    assert top["bytes"] >= 4 * (1 << 16), top
