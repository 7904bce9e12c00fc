"""The http signal against real servers on 127.0.0.1: nginx (static files),
a Python http.server app with known sleeps and statuses, and a small C
server where exact control is needed; clients are a Python fixture (which
times its own requests), curl and wrk."""
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PROBE, ROOT, fixture, run, summary, free_port

PY = "/usr/bin/python3"
FIXSRC = os.path.join(ROOT, "tests", "fixtures")
SECRET = "SECRET-TOKEN-4242"


# ---------------------------------------------------------------- helpers

def wait_ready(proc, what, timeout=20):
    """First stdout line of a fixture: 'ready [PORT]'."""
    deadline = time.time() + timeout
    line = proc.stdout.readline()
    if not line.startswith("ready") or time.time() > deadline:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{what} did not start: {line!r}")
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 else None


class Procs:
    """Processes a test starts; killed and reaped at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.cleanup()


def c_server(procs, *args):
    p = procs.start([fixture("http_server"), *args])
    return p, wait_ready(p, "http_server")


def client(procs, port, mode, *args, before=0, host=None):
    """The client fixture, connected and waiting for 'go' on stdin."""
    cmd = [PY, os.path.join(FIXSRC, "http_client.py"), str(port), mode, *args, "--wait"]
    if before:
        cmd += ["--before", str(before)]
    if host:
        cmd += ["--host", host]
    p = procs.start(cmd)
    wait_ready(p, "http_client")
    return p


def go(cli, timeout=120):
    """Let a waiting client run; its JSON result."""
    cli.stdin.write("go\n")
    cli.stdin.flush()
    out, err = cli.communicate(timeout=timeout)
    assert cli.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def quantile(values, q):
    """The ceil(q*n)-th smallest value: the definition the probe's histogram uses."""
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def assert_close(got, want, what):
    """Within 5 % or 2 ms, whichever is larger."""
    bound = max(0.05 * want, 2_000_000)
    assert abs(got - want) <= bound, f"{what}: probe {got} ns, reference {want} ns"


def assert_percentiles(row, values, what):
    lat = row["latency_ns"]
    assert lat["count"] == len(values), what
    for q, key in ((0.50, "p50"), (0.95, "p95"), (0.99, "p99")):
        assert_close(lat[key], quantile(values, q), f"{what} {key}")


def server_rows(summ, comm=None):
    return {(r["method"], r["route"]): r for r in summ["http"]["server"]
            if not r.get("overflow") and (comm is None or r["comm"] == comm)}


def client_rows(summ, port, comm=None):
    """Client rows for calls to 127.0.0.1:port, by host."""
    return {r["host"]: r for r in summ["http"]["client"]
            if r.get("peer") == f"127.0.0.1:{port}" and (comm is None or r["comm"] == comm)}


def stop_probe(pr):
    code, out, err = pr.stop()
    assert code == 0, err
    return summary(out), out, err


def read_log(path):
    """The C server's and the app's own log: [(path, status, ns)]."""
    rows = []
    with open(path) as f:
        for line in f:
            p, st, ns = line.split()
            rows.append((p, int(st), int(ns)))
    return rows




def run_nginx(procs, prefix, server, http_extra=""):
    """nginx (Debian) on a free 127.0.0.1 port serving static files (index.html,
    static/app.js), its config in a temp dir. server(port, html): the server
    block's directives. A generator for fixtures: yields (process, port)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    html = os.path.join(d, "html")
    os.makedirs(os.path.join(html, "static"))
    for name, body in (("index.html", "<html>index</html>\n"),
                       ("static/app.js", "console.log('x');\n" * 50)):
        with open(os.path.join(html, name), "w") as f:
            f.write(body)
    for root, dirs, files in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    tmp = os.path.join(d, "tmp")
    os.makedirs(tmp)
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    {http_extra}
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/html;
    server {{
{server(port, html)}
    }}
}}
""")
    p = procs.start(["nginx", "-p", d, "-c", conf])
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline or p.poll() is not None:
                p.kill()
                raise AssertionError("nginx did not start: " + p.communicate()[1])
            time.sleep(0.05)
    yield p, port
    p.send_signal(signal.SIGQUIT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def nginx(procs):
    """nginx serving static files and a 503 on /fail, plain HTTP."""
    yield from run_nginx(procs, "probe-http-nginx-", lambda port, html: f"""\
        listen 127.0.0.1:{port};
        root {html};
        location = /fail {{ return 503; }}""", http_extra="sendfile on;\n    tcp_nopush on;")


def assert_no_secret(*texts):
    for t in texts:
        assert SECRET not in t
        assert "token=" not in t
        assert "#frag" not in t


# ---------------------------------------------------------------- tests

def test_check_reports_http_live():
    res = run([PROBE, "--check", "--json"])
    assert res.returncode == 0, res.stderr
    sig = {s["signal"]: s for s in json.loads(res.stdout)["signals"]}
    assert sig["http"]["state"] == "live", sig["http"]
    assert "recvfrom" in sig["http"]["hook"] and "raw_syscalls" not in sig["http"]["hook"]
    # what is not captured is said, not faked
    assert "TLS" in sig["http"]["why"]


def test_c_server_percentiles_server_and_client_side(probe_factory, procs, tmp_path):
    """Per-route percentiles against the server's own timing and the client's."""
    log = str(tmp_path / "server.log")
    srv, port = c_server(procs, "--log", log)
    # 100 requests sleeping 1..50 ms: one route, /work/{id}
    paths = [f"/work/{1 + (i * 7) % 50}" for i in range(100)]
    cli = client(procs, port, "keepalive", str(len(paths)), *paths)
    pr = probe_factory("--pid", f"{srv.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200] * 100

    srow = server_rows(summ)[("GET", "/work/{id}")]
    assert srow["requests"] == 100 and srow["status"] == {"2xx": 100}
    assert srow["comm"] == "http_server" and srow["exe"] == "http_server"
    own = [ns for p, st, ns in read_log(log) if p.startswith("/work/")]
    assert len(own) == 100
    assert_percentiles(srow, own, "server /work/{id}")

    crow = client_rows(summ, port)[f"127.0.0.1:{port}"]
    assert crow["requests"] == 100 and crow["method"] == "GET"
    assert_percentiles(crow, res["durations_ns"], "client")
    # nothing lost: every request had its response seen
    assert summ["http"]["stats"].get("orphan_responses", 0) == 0
    assert srv.poll() is None


def test_python_app_routes_errors_and_no_query_strings(probe_factory, procs, tmp_path):
    """Known sleeps and a known 200/404/500 mix; IDs and UUIDs collapse; queries vanish."""
    log = str(tmp_path / "app.log")
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), log])
    port = wait_ready(app, "http_app.py")
    paths = []
    for i in range(200):
        q = f"?token={SECRET}&page={i}" if i % 3 == 0 else ("#frag" if i % 3 == 1 else "")
        paths.append(f"/api/v1/books/{1000 + i}{q}")
        if i % 10 == 0:
            paths.append(f"/api/v1/toc/generate?token={SECRET}")
            paths.append(f"/api/v1/users/{i:08x}-e89b-12d3-a456-4266141740{i % 100:02d}")
        if i % 40 == 0:
            paths.append("/api/v1/fail")
    cli = client(procs, port, "keepalive", str(len(paths)), *paths)
    pr = probe_factory("--pid", f"{app.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert_no_secret(out, err)

    rows = server_rows(summ, comm="python3")
    assert set(rows) == {("GET", "/api/v1/books/{id}"), ("GET", "/api/v1/toc/generate"),
                         ("GET", "/api/v1/users/{uuid}"), ("GET", "/api/v1/fail")}, rows.keys()
    books = rows[("GET", "/api/v1/books/{id}")]
    n404 = sum(1 for i in range(200) if (1000 + i) % 10 == 7)
    n500 = sum(1 for i in range(200) if (1000 + i) % 10 == 9)
    assert (books["requests"], books["errors_4xx"], books["errors_5xx"]) == (200, n404, n500)
    # a server's error rate is 5xx only (a 4xx is the client's error)
    assert books["error_rate"] == pytest.approx(n500 / 200)
    assert books["status"] == {"2xx": 200 - n404 - n500, "4xx": n404, "5xx": n500}
    fail = rows[("GET", "/api/v1/fail")]
    assert (fail["requests"], fail["errors_5xx"], fail["error_rate"]) == (5, 5, 1)
    assert rows[("GET", "/api/v1/users/{uuid}")]["requests"] == 20

    toc = rows[("GET", "/api/v1/toc/generate")]
    own = [ns for p, st, ns in read_log(log) if p == "/api/v1/toc/generate"]
    assert toc["requests"] == 20 and len(own) == 20
    assert min(own) >= 120_000_000
    assert_percentiles(toc, own, "app /api/v1/toc/generate")
    # the slowest route comes first
    assert summ["http"]["server"][0]["route"] == "/api/v1/toc/generate"

    crow = client_rows(summ, port)[f"127.0.0.1:{port}"]
    assert crow["requests"] == len(paths)
    assert crow["errors_4xx"] == n404 and crow["errors_5xx"] == n500 + 5
    assert_percentiles(crow, res["durations_ns"], "client of the app")


def test_nginx_keepalive_1000_requests_and_error_mix(probe_factory, procs, nginx):
    """1,000 requests on one keep-alive connection to nginx: every one counted,
    static files (writev + sendfile), a 404 and a 503 in a known mix (nginx
    closes a keep-alive connection after a 500, so the 5xx here is a 503)."""
    ng, port = nginx
    paths = ["/index.html", "/static/app.js", "/missing.html", "/fail"]
    cli = client(procs, port, "keepalive", "1000", *paths)
    pr = probe_factory("--pid", f"{ng.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"].count(200) == 500

    rows = server_rows(summ, comm="nginx")
    want = {"/index.html": (250, 0, 0), "/static/app.js": (250, 0, 0),
            "/missing.html": (250, 250, 0), "/fail": (250, 0, 250)}
    got = {route: (r["requests"], r["errors_4xx"], r["errors_5xx"])
           for (m, route), r in rows.items()}
    assert got == want
    assert sum(r["requests"] for r in rows.values()) == 1000
    for r in rows.values():
        assert r["latency_ns"]["count"] == 250
        assert 0 < r["latency_ns"]["p50"] < 50_000_000
    crow = client_rows(summ, port)[f"127.0.0.1:{port}"]
    assert (crow["requests"], crow["errors_4xx"], crow["errors_5xx"]) == (1000, 250, 250)
    assert summ["http"]["stats"].get("orphan_responses", 0) == 0


def test_wrk_load_on_nginx_is_counted(probe_factory, nginx):
    """wrk drives nginx; the probe counts what nginx answered."""
    ng, port = nginx
    pr = probe_factory("--pid", str(ng.pid), "--json")
    conns = 8
    w = run(["wrk", "-t1", f"-c{conns}", "-d2s", f"http://127.0.0.1:{port}/index.html"],
            timeout=60)
    assert w.returncode == 0, w.stderr
    summ, out, err = stop_probe(pr)
    done = int(re.search(r"(\d+) requests in", w.stdout).group(1))
    row = server_rows(summ, comm="nginx")[("GET", "/index.html")]
    # wrk does not count the answers in flight when it stops: at most one per connection
    assert done <= row["requests"] <= done + conns, (done, row["requests"])
    sig = {s["signal"]: s for s in summ["signals"]}
    assert sig["http"]["live"]
    assert summ["http"]["stats"].get("ringbuf_drops", 0) == 0


def test_curl_calls_appear_as_client_calls_with_host_and_status(probe_factory, procs):
    srv, port = c_server(procs)
    pr = probe_factory("--json")        # host-wide: curl exists only briefly
    url = f"http://127.0.0.1:{port}"
    for path, host, n in (("/status/200", None, 5), ("/status/404", "books.example", 3),
                          ("/status/503", "api.example:8080", 2)):
        for _ in range(n):
            cmd = ["curl", "-s", "-o", "/dev/null", f"{url}{path}?token={SECRET}"]
            if host:
                cmd += ["-H", f"Host: {host}"]
            assert run(cmd).returncode == 0
    summ, out, err = stop_probe(pr)
    assert_no_secret(out, err)
    rows = client_rows(summ, port, comm="curl")
    got = {h: (r["requests"], r["errors_4xx"], r["errors_5xx"], r["status"])
           for h, r in rows.items()}
    assert got == {f"127.0.0.1:{port}": (5, 0, 0, {"2xx": 5}),
                   "books.example": (3, 3, 0, {"4xx": 3}),
                   "api.example:8080": (2, 0, 2, {"5xx": 2})}
    assert all(r["exe"] == "curl" for r in rows.values())


@pytest.mark.parametrize("mode", ["separate", "coalesce"])
def test_pipelined_requests(probe_factory, procs, mode):
    """Requests sent in one write; answers in separate writes or in one."""
    srv, port = c_server(procs, *(["--coalesce"] if mode == "coalesce" else []))
    paths = ["/status/200", "/work/3", "/status/404", "/status/200"]
    cli = client(procs, port, "pipeline", *paths)
    pr = probe_factory("--pid", f"{srv.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200, 200, 404, 200]
    rows = server_rows(summ)
    st = rows[("GET", "/status/{id}")]
    assert (st["requests"], st["errors_4xx"]) == (3, 1)
    assert rows[("GET", "/work/{id}")]["requests"] == 1
    crow = client_rows(summ, port)[f"127.0.0.1:{port}"]
    assert (crow["requests"], crow["errors_4xx"]) == (4, 1)
    stats = summ["http"]["stats"]
    assert stats.get("orphan_responses", 0) == 0 and stats.get("pipeline_overflow", 0) == 0


def test_keepalive_connection_opened_before_the_probe(probe_factory, procs):
    """A connection (and its socket) that existed before the probe started."""
    srv, port = c_server(procs)
    cli = client(procs, port, "keepalive", "10", "/status/200", before=3)
    pr = probe_factory("--pid", f"{srv.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200] * 10
    assert server_rows(summ)[("GET", "/status/{id}")]["requests"] == 10
    assert client_rows(summ, port)[f"127.0.0.1:{port}"]["requests"] == 10


@pytest.mark.parametrize("mode", ["--pid", "host-wide"])
def test_requests_right_after_ready_are_all_counted(probe_factory, procs, mode):
    """`probe: ready` means attached and counting: requests made the moment it
    is printed, on a connection opened then, are all seen."""
    srv, port = c_server(procs)
    args = ["--pid", str(srv.pid)] if mode == "--pid" else []
    pr = probe_factory(*args, "--json")
    cli = client(procs, port, "keepalive", "100", "/status/200")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200] * 100
    assert server_rows(summ, comm="http_server")[("GET", "/status/{id}")]["requests"] == 100


def raw_exchange(port, data, half_close=True):
    """Send bytes on a fresh connection; read what comes back until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
        return got


def test_garbage_is_counted_unparsed_never_a_request(probe_factory, procs):
    srv, port = c_server(procs)
    pr = probe_factory("--pid", str(srv.pid), "--json")
    # valid requests first: this port serves HTTP
    for _ in range(5):
        assert raw_exchange(port, b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n",
                            half_close=False).startswith(b"HTTP/1.1 200")
    # binary garbage: the server answers 400, which is not timed
    assert raw_exchange(port, b"\x01\x02\xff\xfe garbage \x80\x81\r\n\r\n").startswith(
        b"HTTP/1.1 400")
    # a half request, then the client is done: no answer
    assert raw_exchange(port, b"GET /half HT") == b""
    # an oversized request line: 414
    assert raw_exchange(port, b"GET /" + b"A" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(
        b"HTTP/1.1 414")
    # the connection closed inside the status line
    assert raw_exchange(port, b"GET /partial HTTP/1.1\r\nHost: x\r\n\r\n",
                        half_close=False) == b"HTTP/1.1 20"
    # closed mid-body, after a complete status line: a 200 that was answered
    assert raw_exchange(port, b"GET /cut HTTP/1.1\r\n\r\n", half_close=False).startswith(
        b"HTTP/1.1 200")
    # an oversized header field line: the request is real and its answer is a 431
    assert raw_exchange(port, b"GET /status/200 HTTP/1.1\r\nX-Big: " + b"B" * 20000 +
                        b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    summ, out, err = stop_probe(pr)
    assert srv.poll() is None, "the server died"

    stats = summ["http"]["stats"]
    # garbage, the half request, the oversized request line, the cut status line
    assert stats.get("unparsed") == 4, stats
    assert stats.get("orphan_responses", 0) == 0, stats
    rows = server_rows(summ)
    assert set(rows) == {("GET", "/status/{id}"), ("GET", "/cut")}, rows.keys()
    st = rows[("GET", "/status/{id}")]
    assert (st["requests"], st["errors_4xx"]) == (6, 1)
    assert st["status"] == {"2xx": 5, "4xx": 1}
    assert rows[("GET", "/cut")]["requests"] == 1
    assert "AAAAAAAA" not in out and "half" not in out and "partial" not in out


def test_text_view_slowest_route_first_without_queries(probe_factory, procs, tmp_path):
    log = str(tmp_path / "app.log")
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), log])
    port = wait_ready(app, "http_app.py")
    paths = [f"/api/v1/users/{i}?token={SECRET}" for i in range(20)]
    paths += [f"/api/v1/toc/generate?token={SECRET}"] * 3
    cli = client(procs, port, "keepalive", str(len(paths)), *paths)
    pr = probe_factory("--pid", str(app.pid), "-i", "1")
    go(cli)
    time.sleep(1.5)
    code, out, err = pr.stop()
    assert code == 0, err
    assert_no_secret(out, err)
    final = out[out.rindex("=== probe summary"):]
    lines = final.splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith("HTTP SERVED"))
    assert lines[i + 1].split()[:3] == ["SERVICE", "ROUTE", "REQ/S"]
    first, second = lines[i + 2].split(), lines[i + 3].split()
    assert first[:3] == ["python3", "GET", "/api/v1/toc/generate"]
    assert second[:3] == ["python3", "GET", "/api/v1/users/{id}"]


def test_route_templates_win_and_routes_are_capped(probe_factory, procs, tmp_path):
    cfg = tmp_path / "probe.json"
    cfg.write_text(json.dumps({"signals": {"http": {
        "routes": ["/api/v1/users/:name", "/static/**"], "max_routes": 4}}}))
    srv, port = c_server(procs)
    paths = ["/api/v1/users/alice", "/api/v1/users/bob", "/static/a/b.css", "/static/x.js",
             "/alpha", "/beta", "/gamma", "/delta", "/gamma"]
    cli = client(procs, port, "keepalive", str(len(paths)), *paths)
    pr = probe_factory("--config", str(cfg), "--pid", str(srv.pid), "--json")
    go(cli)
    summ, out, err = stop_probe(pr)
    got = {route: r["requests"] for (m, route), r in server_rows(summ).items()}
    # four routes per service; the rest share {overflow}, counted
    assert got == {"/api/v1/users/:name": 2, "/static/**": 2, "/alpha": 1, "/beta": 1,
                   "{overflow}": 3}
    assert summ["http"]["stats"]["route_overflow"] == 3


def test_client_calls_do_not_push_the_services_own_routes_out(probe_factory, procs, tmp_path):
    """The python app and a python client are one service (comm and executable
    alike): the client's calls to six paths fill the cap of the calls it makes,
    not the cap of the routes the app serves."""
    cfg = tmp_path / "probe.json"
    cfg.write_text(json.dumps({"signals": {"http": {"max_routes": 2}}}))
    app = procs.start([PY, os.path.join(FIXSRC, "http_app.py"), str(tmp_path / "app.log")])
    aport = wait_ready(app, "http_app.py")
    srv, port = c_server(procs)
    calls = ["/a1", "/b2", "/c3", "/d4", "/e5", "/f6"]
    cli = client(procs, port, "keepalive", str(len(calls)), *calls)
    served = client(procs, aport, "keepalive", "2", "/api/v1/users/x", "/api/v1/fail")
    pr = probe_factory("--config", str(cfg), "--pid", f"{app.pid},{cli.pid}", "--json")
    go(cli)
    go(served)
    summ, out, err = stop_probe(pr)
    got = {route: r["requests"] for (m, route), r in server_rows(summ, "python3").items()}
    assert got == {"/api/v1/users/x": 1, "/api/v1/fail": 1}, got
    routes = {r["route"]: r["requests"] for r in summ["http"]["provider_routes"]
              if r["host"] == f"127.0.0.1:{port}"}
    assert routes == {"/a1": 1, "/b2": 1, "{overflow}": 4}, routes


def test_route_longer_than_the_kept_prefix_is_marked_and_counted(probe_factory, procs):
    """A 200-byte target is cut at 128 bytes in the kernel: its route ends in
    /{truncated} (the partial last segment dropped) and never merges with the
    route of its own 128-byte prefix; every cut request is counted."""
    long = "".join(f"/seg{chr(97 + i % 26)}abcd" for i in range(23))[:200]
    assert len(long) == 200
    prefix = long[:128]                       # a whole target of exactly 128 bytes
    kept = prefix[:prefix.rindex("/")]        # what the cut route keeps
    short = long[:100]
    paths = [long] * 3 + [long + f"?token={SECRET}"] * 2 + [prefix] * 2 + \
            [short + "?q=" + "x" * 200]       # long only with its query: not cut
    srv, port = c_server(procs)
    cli = client(procs, port, "keepalive", str(len(paths)), *paths)
    pr = probe_factory("--pid", str(srv.pid), "--json")
    go(cli)
    summ, out, err = stop_probe(pr)
    assert_no_secret(out, err)
    got = {route: r["requests"] for (m, route), r in server_rows(summ).items()}
    assert got == {kept + "/{truncated}": 5, prefix: 2, short: 1}, got
    assert summ["http"]["stats"]["route_cut"] == 5


def pin(pid, cpu):
    """Every thread of pid onto one CPU."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {cpu})


def test_route_cap_follows_request_order_across_cpus(probe_factory, procs, tmp_path):
    """Which routes win the cap is the order they were served in, not the order
    the per-CPU rings are read in: while the probe is paused, the server answers
    its first routes on CPU 1 and its later ones on CPU 0, so the one drain
    after the pause finds the later records in the ring it reads first."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    cfg = tmp_path / "probe.json"
    cfg.write_text(json.dumps({"signals": {"http": {"max_routes": 2}}}))
    srv, port = c_server(procs)
    first = client(procs, port, "keepalive", "2", "/first-a", "/first-b")
    later = client(procs, port, "keepalive", "2", "/later-a", "/later-b")
    pr = probe_factory("--config", str(cfg), "--pid", str(srv.pid), "--json")
    pin(srv.pid, 1)
    os.kill(pr.proc.pid, signal.SIGSTOP)
    try:
        go(first)
        pin(srv.pid, 0)
        go(later)
    finally:
        os.kill(pr.proc.pid, signal.SIGCONT)
    summ, out, err = stop_probe(pr)
    got = {route: r["requests"] for (m, route), r in server_rows(summ).items()}
    assert got == {"/first-a": 1, "/first-b": 1, "{overflow}": 2}
    assert summ["http"]["stats"]["route_overflow"] == 2


def test_bad_route_template_is_a_config_error(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"signals": {"http": {"routes": ["api/no-slash"]}}}))
    res = run([PROBE, "--config", str(cfg), "--check"])
    assert res.returncode == 78
    assert "signals.http.routes" in res.stderr and "api/no-slash" in res.stderr
