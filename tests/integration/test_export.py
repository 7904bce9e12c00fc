"""Export to Prometheus and OTLP, checked by real clients on 127.0.0.1:
promtool (Debian's prometheus package) on a scrape taken while every signal
has data, a real Prometheus server scraping probe and answering a PromQL
histogram_quantile query, gzip and plain scrapes, label escaping, a crawler's
10,000 distinct paths against the caps, and an OTLP receiver written here
(decoding what probe pushes; down, or answering 400/413/503)."""
import gzip
import http.server
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from conftest import ROOT, fixture, free_port, run, wait_port
from test_conn import Redis
from test_http import FIXSRC, PY, client, go, nginx, procs, wait_ready  # noqa: F401

RULES = os.path.join(ROOT, "deploy", "prometheus", "probe-runbook.rules.yml")


# ---------------------------------------------------------------- helpers

def write_config(tmp_path, export=None, signals=None):
    cfg = {"export": export or {}}
    if signals:
        cfg["signals"] = signals
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def scrape(port, encoding=None, auth=None, timeout=10):
    """(status, headers, body text) of GET /metrics."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if encoding:
        req.add_header("Accept-Encoding", encoding)
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            if r.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return r.status, r.headers, raw.decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def samples(text):
    """{(name, frozenset(labels)): value} from exposition text (probe's own escaping)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, labels = head, {}
        if "{" in head:
            name, rest = head.split("{", 1)
            labels = parse_labels(rest[:-1])
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def parse_labels(s):
    labels, i = {}, 0
    while i < len(s):
        eq = s.index("=", i)
        key = s[i:eq]
        assert s[eq + 1] == '"', s
        j, val = eq + 2, []
        while s[j] != '"':
            if s[j] == "\\":
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[j + 1]])
                j += 2
            else:
                val.append(s[j])
                j += 1
        labels[key] = "".join(val)
        i = j + 2 if j + 1 < len(s) and s[j + 1] == "," else j + 1
    return labels


def select(smp, name, **match):
    return {dict(k[1]).get("http_route", ""): v for k, v in smp.items()
            if k[0] == name and all(dict(k[1]).get(a) == b for a, b in match.items())}


def start_probe(probe_factory, tmp_path, *args, export=None, signals=None):
    port = free_port()
    cfg = write_config(tmp_path, export, signals)
    pr = probe_factory("-c", cfg, "--listen", f"127.0.0.1:{port}", "-i", "3600", *args,
                       timeout=60)
    assert f"/metrics on 127.0.0.1:{port}" in pr.stderr, pr.stderr
    return pr, port


def stop(pr):
    code, out, err = pr.stop()
    assert code == 0, err
    return out, err


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")




REDIS_CLIENT = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", port))
def cmd(*a):
    out = f"*{len(a)}\r\n" + "".join(f"${len(x)}\r\n{x}\r\n" for x in a)
    s.sendall(out.encode())
    return s.recv(65536)
for i in range(n):
    cmd("SET", f"k{i}", "v")
    cmd("GET", f"k{i}")
    cmd("GET", "missing")
s.close()
print("{}", flush=True)
"""


# ---------------------------------------------------------------- tests

def test_promtool_passes_a_scrape_with_every_signal(probe_factory, procs, tmp_path):
    """HTTP, database, connects, syscalls, memory growth and the allocator all have data."""
    redis = Redis()
    try:
        app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
        aport = wait_ready(app, "http_app.py")
        paths = [f"/api/v1/books/{i}" for i in range(60)] + ["/api/v1/toc/generate"] * 3
        cli = client(procs, aport, "keepalive", str(len(paths)), *paths)
        rcli = procs.start([PY, "-c", REDIS_CLIENT, str(redis.port), "50"])
        wait_ready(rcli, "redis client")
        alloc = procs.start([fixture("steady_alloc")])
        time.sleep(0.3)
        # --leaks: under --pid the allocator is traced only when asked
        pr, port = start_probe(probe_factory, tmp_path, "--leaks", "--pid",
                               f"{app.pid},{cli.pid},{rcli.pid},{redis.proc.pid},{alloc.pid}")
        go(cli)
        rcli.stdin.write("go\n")
        rcli.stdin.flush()
        rcli.communicate(timeout=60)
        time.sleep(2.5)     # one collect round for the map-read signals

        def complete():
            st, _, text = scrape(port)
            assert st == 200
            have = {n for (n, _) in samples(text)}
            need = {"http_server_request_duration_seconds_count",
                    "http_client_request_duration_seconds_count",
                    "db_client_operation_duration_seconds_count",
                    "probe_tcp_connect_attempts_total",
                    "probe_syscall_calls_total",
                    "probe_process_memory_rss_bytes",
                    "probe_alloc_calls_total",
                    "probe_events_lost_total", "probe_signal_live",
                    "probe_self_cpu_time_seconds_total", "probe_self_memory_rss_bytes",
                    "probe_self_startup_duration_seconds"}
            return text if need <= have else None

        text = wait_for(complete, 30, "every signal in the scrape")
        path = tmp_path / "scrape.txt"
        path.write_text(text)
        r = run(["promtool", "check", "metrics"], input=text)
        assert r.returncode == 0, r.stdout + r.stderr
        smp = samples(text)
        live = {dict(k[1])["signal"]: v for k, v in smp.items() if k[0] == "probe_signal_live"}
        for sig in ("http", "conn", "syscalls", "memgrowth", "alloc", "proc"):
            assert live.get(sig) == 1, live
        # the database family carries the OpenTelemetry attributes
        db = [dict(k[1]) for k in smp if k[0] == "db_client_operation_duration_seconds_count"]
        assert any(d.get("db_system_name") == "redis" and d.get("server_port") == str(redis.port)
                   and d.get("db_operation_name") in ("GET", "SET") for d in db), db
        stop(pr)
    finally:
        redis.close()


def test_prometheus_scrapes_probe_and_histogram_quantile_finds_the_slow_route(
        probe_factory, procs, tmp_path):
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
    aport = wait_ready(app, "http_app.py")
    pr, port = start_probe(probe_factory, tmp_path, "--pid", str(app.pid))
    pport = free_port()
    tsdb = tempfile.mkdtemp(prefix="probe-prom-")
    conf = os.path.join(tsdb, "prometheus.yml")
    with open(conf, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: probe
    static_configs:
      - targets: ['127.0.0.1:{port}']
""")
    prom = procs.start(["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={tsdb}/data",
                        f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"])
    try:
        wait_port(pport, 60)
        # traffic for ~8 s across many scrapes: /toc/generate sleeps 120 ms, books 10 ms
        paths = []
        for i in range(40):
            paths += ["/api/v1/toc/generate"] + [f"/api/v1/books/{i * 10 + k}" for k in range(4)]
        cli = client(procs, aport, "keepalive", str(len(paths)), *paths)
        go(cli)
        time.sleep(3)

        def query(q):
            url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
            assert body["status"] == "success", body
            return body["data"]["result"]

        q = ("histogram_quantile(0.95, sum by (le, http_route) "
             "(rate(http_server_request_duration_seconds_bucket[1m])))")
        res = wait_for(lambda: [x for x in query(q) if x["value"][1] != "NaN"] or None, 30,
                       "a quantile from Prometheus")
        by_route = {x["metric"]["http_route"]: float(x["value"][1]) for x in res}
        slowest = max(by_route, key=by_route.get)
        assert slowest == "/api/v1/toc/generate", by_route
        # 120 ms lies in the (0.1, 0.25] bucket; histogram_quantile interpolates inside it
        assert 0.1 < by_route[slowest] <= 0.25, by_route
        assert by_route["/api/v1/books/{id}"] <= 0.025, by_route
        # the README's runbook queries run against this Prometheus without error
        with open(RULES) as f:
            exprs = [ln.split("expr:", 1)[1].strip() for ln in f if "expr:" in ln]
        assert len(exprs) >= 4
        for e in exprs:
            query(e.strip("'\""))
        stop(pr)
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        shutil.rmtree(tsdb, ignore_errors=True)


def test_runbook_rules_pass_promtool():
    r = run(["promtool", "check", "rules", RULES])
    assert r.returncode == 0, r.stdout + r.stderr


def test_gzip_and_plain_identical_and_labels_escaped(probe_factory, procs, tmp_path):
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
    aport = wait_ready(app, "http_app.py")
    pr, port = start_probe(probe_factory, tmp_path, "--pid", str(app.pid))
    # a raw request whose path holds a double quote and a backslash
    with socket.create_connection(("127.0.0.1", aport)) as s:
        s.sendall(b'GET /esc/a"b\\c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        while s.recv(4096):
            pass

    def escaped():
        st, hdr, text = scrape(port)
        return text if '/esc/a\\"b\\\\c' in text else None

    wait_for(escaped, 20, "the escaped route")
    st1, h1, plain = scrape(port)
    st2, h2, unzipped = scrape(port, encoding="gzip")
    assert st1 == st2 == 200
    assert h1.get("Content-Encoding") is None
    assert h2.get("Content-Encoding") == "gzip"
    assert h1["Content-Type"].startswith("text/plain; version=0.0.4")
    # both within a second: the same snapshot, byte for byte
    assert plain == unzipped
    smp = samples(plain)
    routes = select(smp, "http_server_request_duration_seconds_count")
    assert routes.get('/esc/a"b\\c') == 1, routes
    r = run(["promtool", "check", "metrics"], input=plain)
    assert r.returncode == 0, r.stdout + r.stderr
    stop(pr)


def test_10000_paths_stay_under_the_caps_and_overflow_is_counted(probe_factory, procs, nginx,
                                                                  tmp_path):
    """A crawler asks nginx for 10,000 distinct paths (all 404) on one connection."""
    ng, nport = nginx

    def word(i):
        s = ""
        for _ in range(4):
            s += chr(ord("a") + i % 26)
            i //= 26
        return s

    paths = [f"/crawl/{word(i)}" for i in range(10000)]
    assert len(set(paths)) == 10000
    cli = client(procs, nport, "keepalive", str(len(paths)), *paths)
    pr, port = start_probe(probe_factory, tmp_path, "--pid", f"{ng.pid},{cli.pid}",
                           export={"max_series_per_service": 50})
    go(cli, timeout=300)

    def counted():
        # requests reach the store as their records come (every 100 ms), the
        # capture's problem counters once a second: wait for both
        _, _, text = scrape(port)
        smp = samples(text)
        total = sum(v for k, v in smp.items()
                    if k[0] == "http_server_request_duration_seconds_count")
        capped = any(k[0] == "probe_http_capture_problems_total" and
                     dict(k[1]).get("reason") == "route_overflow" for k in smp)
        return smp if total >= 10000 and capped else None

    smp = wait_for(counted, 60, "10,000 requests and the route cap's count in the scrape")
    series = [dict(k[1]) for k in smp if k[0] == "http_server_request_duration_seconds_count"]
    own = [s for s in series if s.get("service_name") == "nginx"]
    overflow = [s for s in series if s.get("overflow") == "true"]
    assert len(own) <= 50, len(own)
    assert len(overflow) == 1
    dropped = sum(v for k, v in smp.items() if k[0] == "probe_series_dropped_total"
                  and dict(k[1])["family"] == "http_server")
    assert dropped > 0
    # the signal's own per-service route cap sent the rest to {overflow}, counted too
    problems = {dict(k[1])["reason"]: v for k, v in smp.items()
                if k[0] == "probe_http_capture_problems_total"}
    assert problems.get("route_overflow", 0) > 0, problems
    # every request is still counted: none lost to the caps
    assert sum(v for k, v in smp.items()
               if k[0] == "http_server_request_duration_seconds_count") == 10000
    stop(pr)


class Receiver:
    """An OTLP/HTTP receiver on 127.0.0.1: decodes each body, answers from a script."""

    def __init__(self, answers=None):
        self.bodies, self.statuses, self.lock = [], [], threading.Lock()
        self.answers = list(answers or [])
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with outer.lock:
                    outer.bodies.append((self.path, self.headers.get("Content-Type"),
                                         json.loads(raw)))
                    status = outer.answers.pop(0) if outer.answers else 200
                    outer.statuses.append(status)
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def metrics_of(body):
    out = {}
    for rm in body["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                out[m["name"]] = m
    return out


def test_otlp_receiver_decodes_the_push(probe_factory, procs, tmp_path):
    rcv = Receiver()
    try:
        app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
        aport = wait_ready(app, "http_app.py")
        pr, port = start_probe(probe_factory, tmp_path, "--pid", str(app.pid), export={
            "otlp": {"endpoint": f"http://127.0.0.1:{rcv.port}/v1/metrics", "interval_s": 1}})
        cli = client(procs, aport, "keepalive", "20", *["/api/v1/books/1"] * 20)
        go(cli)

        def pushed():
            with rcv.lock:
                for path, ctype, body in rcv.bodies:
                    m = metrics_of(body)
                    h = m.get("http.server.request.duration")
                    if h and sum(int(p["count"]) for p in h["histogram"]["dataPoints"]) >= 20:
                        return path, ctype, body, m
            return None

        path, ctype, body, m = wait_for(pushed, 30, "a push with the requests")
        assert path == "/v1/metrics" and ctype == "application/json"
        res = {a["key"]: a["value"]["stringValue"]
               for a in body["resourceMetrics"][0]["resource"]["attributes"]}
        assert res["service.name"] == "probe" and res["host.name"] == socket.gethostname()
        h = m["http.server.request.duration"]
        assert h["unit"] == "s" and h["histogram"]["aggregationTemporality"] == 2
        dp = h["histogram"]["dataPoints"][0]
        attrs = {a["key"]: a["value"]["stringValue"] for a in dp["attributes"]}
        assert attrs["http.route"] == "/api/v1/books/{id}"
        assert len(dp["bucketCounts"]) == len(dp["explicitBounds"]) + 1
        assert int(dp["startTimeUnixNano"]) < int(dp["timeUnixNano"])
        ev = m["probe.events"]["sum"]
        assert ev["isMonotonic"] and ev["aggregationTemporality"] == 2
        with rcv.lock:
            assert all(metrics_of(b) for _, _, b in rcv.bodies)   # never an empty body
        stop(pr)
    finally:
        rcv.close()


def test_otlp_receiver_down_queue_bounded_drops_counted(probe_factory, tmp_path):
    dead = free_port()      # nothing listens here
    pr, port = start_probe(probe_factory, tmp_path, export={
        "otlp": {"endpoint": f"http://127.0.0.1:{dead}/v1/metrics", "interval_s": 0.3,
                 "queue": 3, "timeout_s": 1}})

    def dropped():
        smp = samples(scrape(port)[2])
        d = {dict(k[1])["reason"]: v for k, v in smp.items() if k[0] == "probe_otlp_dropped_total"}
        return smp if d.get("queue_full", 0) >= 2 else None

    smp = wait_for(dropped, 40, "queue_full drops")
    queued = [v for k, v in smp.items() if k[0] == "probe_otlp_queue"]
    assert queued and queued[0] <= 3
    outcomes = {dict(k[1])["outcome"]: v for k, v in smp.items()
                if k[0] == "probe_otlp_requests_total"}
    assert outcomes["sent"] == 0 and outcomes["retried"] >= 1
    assert pr.proc.poll() is None     # still running
    stop(pr)


def test_otlp_400_413_dropped_503_retried_no_crash(probe_factory, tmp_path):
    rcv = Receiver(answers=[400, 413, 503])
    try:
        pr, port = start_probe(probe_factory, tmp_path, export={
            "otlp": {"endpoint": f"http://127.0.0.1:{rcv.port}/v1/metrics",
                     "interval_s": 0.5, "queue": 4}})

        def settled():
            with rcv.lock:
                return len(rcv.statuses) >= 5 and rcv.statuses.count(200) >= 2

        wait_for(settled, 40, "five answers")

        def counted():
            smp = samples(scrape(port)[2])
            o = {dict(k[1])["outcome"]: v for k, v in smp.items()
                 if k[0] == "probe_otlp_requests_total"}
            return smp if o.get("sent", 0) >= 2 else None

        smp = wait_for(counted, 10, "sent counted")
        d = {dict(k[1])["reason"]: v for k, v in smp.items() if k[0] == "probe_otlp_dropped_total"}
        o = {dict(k[1])["outcome"]: v for k, v in smp.items()
             if k[0] == "probe_otlp_requests_total"}
        assert d["rejected"] == 2, d       # 400 and 413: dropped, never retried
        assert o["retried"] >= 1, o        # 503 with Retry-After: retried
        with rcv.lock:
            # the body answered 503 came again, unchanged
            i = rcv.statuses.index(503)
            assert rcv.bodies[i + 1][2] == rcv.bodies[i][2]
        assert pr.proc.poll() is None
        stop(pr)
    finally:
        rcv.close()


def test_bearer_token_file_and_bad_listen(probe_factory, tmp_path):
    tok = tmp_path / "token"
    tok.write_text("t0k3n\n")
    pr, port = start_probe(probe_factory, tmp_path, export={"bearer_token_file": str(tok)})
    assert scrape(port)[0] == 401
    assert scrape(port, auth="Bearer wrong")[0] == 401
    st, _, text = scrape(port, auth="Bearer t0k3n")
    assert st == 200 and "probe_self_cpu_time_seconds_total" in text
    stop(pr)
    r = run([os.path.join(ROOT, "build", "probe"), "--listen", "nonsense", "-d", "1"])
    assert r.returncode == 78 and "export.listen" in r.stderr, r.stderr
    r = run([os.path.join(ROOT, "build", "probe"), "-c",
             write_config(tmp_path, {"bearer_token_file": str(tmp_path / "missing")}), "-d", "1"])
    assert r.returncode == 78 and "missing" in r.stderr, r.stderr


def test_stalled_scrapers_block_neither_the_loop_nor_other_scrapes(probe_factory, procs,
                                                                   tmp_path):
    """Three scrapers send half a request and stall; another scrapes at once, traffic
    is counted in full, and the stalled connections are closed after the timeout."""
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
    aport = wait_ready(app, "http_app.py")
    pr, port = start_probe(probe_factory, tmp_path, "--pid", str(app.pid),
                           export={"timeout_s": 2, "max_connections": 6})
    stalled = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")    # no end of headers
        stalled.append(s)
    t = time.time()
    st, _, _ = scrape(port, timeout=5)
    assert st == 200 and time.time() - t < 2
    cli = client(procs, aport, "keepalive", "200", *["/api/v1/users/1"] * 200)
    go(cli)

    def counted():
        smp = samples(scrape(port)[2])
        n = sum(v for k, v in smp.items() if k[0] == "http_server_request_duration_seconds_count"
                and dict(k[1]).get("http_route") == "/api/v1/users/{id}")
        return smp if n >= 200 else None

    smp = wait_for(counted, 20, "200 requests")
    lost = {dict(k[1])["signal"]: v for k, v in smp.items() if k[0] == "probe_events_lost_total"}
    assert lost["http"] == 0, lost
    for s in stalled:       # closed by the server within 10 s, or socket.timeout fails the test
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass        # an error answer, if any, then the close
        except ConnectionResetError:
            pass
        s.close()
    assert pr.proc.poll() is None
    stop(pr)
