"""TLS plaintext through libssl uprobes, against real peers on 127.0.0.1:
nginx with a self-signed certificate (server side), curl and Python's ssl
(client side, with SNI names mapped to 127.0.0.1), a client that loads
libssl only after the probe started, and a TLS server answering garbage."""
import json
import os
import re
import shutil
import signal
import tempfile
import time

import pytest

from conftest import FIXTURES, PROBE, bpf_links, run
from test_http import FIXSRC, PY, Procs, go, run_nginx, stop_probe, wait_ready

OPENAI = "api.openai.test"
ANTHROPIC = "api.anthropic.test"


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.cleanup()


@pytest.fixture(scope="module")
def cert():
    """A self-signed certificate for the test names, made with openssl."""
    if not shutil.which("openssl"):
        pytest.fail("openssl missing: scripts/setup.sh installs it")
    d = tempfile.mkdtemp(prefix="probe-tls-cert-")
    os.chmod(d, 0o755)
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    res = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
               "-out", crt, "-days", "2", "-subj", f"/CN={OPENAI}",
               "-addext", f"subjectAltName=DNS:{OPENAI},DNS:{ANTHROPIC},IP:127.0.0.1"])
    assert res.returncode == 0, res.stderr
    for f in (crt, key):
        os.chmod(f, 0o644)
    yield crt, key
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def nginx_tls(procs, cert):
    """nginx (Debian) serving HTTPS on 127.0.0.1: static files, a 503, a JSON API."""
    crt, key = cert
    yield from run_nginx(procs, "probe-tls-nginx-", lambda port, html: f"""\
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        root {html};
        location = /fail {{ return 503; }}
        location /v1/ {{ return 200 '{{"ok":true}}'; }}""")


def tls_client(procs, port, name, n, *paths, late=0.0, raw=False):
    cmd = [PY, os.path.join(FIXSRC, "tls_client.py"), str(port), name, str(n), *paths, "--wait"]
    if late:
        cmd += ["--late", str(late)]
    if raw:
        cmd += ["--raw"]
    p = procs.start(cmd)
    wait_ready(p, "tls_client")
    return p


def server_rows(summ, comm):
    return {(r["method"], r["route"]): r for r in summ["http"]["server"]
            if not r.get("overflow") and r["comm"] == comm}


def client_rows(summ, host, comm=None):
    return [r for r in summ["http"]["client"]
            if r["host"] == host and (comm is None or r["comm"] == comm)]


def provider_routes(summ, host, comm=None):
    return {(r["method"], r["route"]): r for r in summ["http"]["provider_routes"]
            if r["host"] == host and (comm is None or r["comm"] == comm)}


def handshakes(summ, host=None, comm=None, role="client"):
    return [r for r in summ["tls"]["handshakes"]
            if r["role"] == role and (host is None or r["host"] == host)
            and (comm is None or r["comm"] == comm)]


def libssl_mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        return any(re.search(r"/libssl\.so", line) for line in f)


# ---------------------------------------------------------------- tests

def tls_on(tmp_path):
    """A config that turns TLS capture on host-wide (off there by default)."""
    cfg = tmp_path / "tls.json"
    cfg.write_text('{"signals": {"http": {"tls": true}}}')
    return str(cfg)


def test_check_reports_tls_attached(procs, tmp_path):
    """--check attaches for real: with a process mapping libssl, the http
    signal says how many libraries its uprobes are on; host-wide only when
    asked, and without asking it says why not."""
    holder = procs.start([PY, "-c", "import ssl, sys; print('ready', flush=True); "
                          "sys.stdin.readline()"])
    wait_ready(holder, "python3 with ssl")
    assert libssl_mapped(holder.pid)
    res = run([PROBE, "--check", "--json"])
    assert res.returncode == 0, res.stderr
    sig = {s["signal"]: s for s in json.loads(res.stdout)["signals"]}
    assert "TLS: off host-wide" in sig["http"]["why"], sig["http"]["why"]
    res = run([PROBE, "--check", "--json", "--config", tls_on(tmp_path)])
    assert res.returncode == 0, res.stderr
    sig = {s["signal"]: s for s in json.loads(res.stdout)["signals"]}
    assert sig["http"]["state"] == "live", sig["http"]
    assert re.search(r"TLS: uprobes on [1-9]\d* file", sig["http"]["why"]), \
        sig["http"]["why"]


def test_nginx_https_routes_statuses_counted_once(probe_factory, procs, nginx_tls):
    """HTTPS to nginx from Python's ssl: server routes and statuses exactly as
    for plain HTTP, each request counted once (not again as ciphertext), and
    the client's calls carry the SNI name with per-route figures."""
    ng, port = nginx_tls
    paths = ["/index.html", "/static/app.js", "/missing.html", "/fail",
             "/v1/chat/completions", "/v1/models/4242"]
    n = 240
    cli = tls_client(procs, port, OPENAI, n, *paths)
    pr = probe_factory("--pid", f"{ng.pid},{cli.pid}", "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"].count(200) == 160 and res["statuses"].count(404) == 40

    rows = server_rows(summ, "nginx")
    got = {route: (r["requests"], r["errors_4xx"], r["errors_5xx"])
           for (m, route), r in rows.items()}
    assert got == {"/index.html": (40, 0, 0), "/static/app.js": (40, 0, 0),
                   "/missing.html": (40, 40, 0), "/fail": (40, 0, 40),
                   "/v1/chat/completions": (40, 0, 0), "/v1/models/{id}": (40, 0, 0)}, got
    for r in rows.values():
        assert r["latency_ns"]["count"] == 40
        assert 0 < r["latency_ns"]["p50"] < 100_000_000
    # the ciphertext on the same sockets was neither parsed nor counted
    stats = summ["http"]["stats"]
    assert stats.get("unparsed", 0) == 0 and stats.get("orphan_responses", 0) == 0, stats

    crows = client_rows(summ, OPENAI, comm="python3")
    assert len(crows) == 1, summ["http"]["client"]
    c = crows[0]
    assert (c["requests"], c["errors_4xx"], c["errors_5xx"]) == (n, 40, 40)
    assert c["peer"] == f"127.0.0.1:{port}"
    assert c["latency_ns"]["count"] == n and c["latency_ns"]["p99"] > 0
    pr_ = provider_routes(summ, OPENAI, comm="python3")
    assert pr_[("GET", "/v1/models/{id}")]["requests"] == 40
    assert pr_[("GET", "/fail")]["status"] == {"5xx": 40}

    hs = handshakes(summ, OPENAI, comm="python3")
    assert len(hs) == 1 and hs[0]["handshakes"] == 1 and hs[0]["failures"] == 0, hs
    assert 0 < hs[0]["handshake_ns"]["p95"] < 2_000_000_000
    srv_hs = handshakes(summ, comm="nginx", role="server")
    assert sum(h["handshakes"] for h in srv_hs) == 1, srv_hs
    assert summ["tls"]["stats"].get("ringbuf_drops", 0) == 0


def test_curl_provider_named_by_sni(probe_factory, nginx_tls, tmp_path):
    """curl --resolve: the provider is the name curl sent as SNI, with its
    statuses, routes and handshake time (host-wide, TLS turned on)."""
    ng, port = nginx_tls
    pr = probe_factory("--json", "--config", tls_on(tmp_path))
    urls = [f"https://{ANTHROPIC}:{port}/v1/messages/{i}" for i in range(5)]
    urls += [f"https://{ANTHROPIC}:{port}/fail", f"https://{ANTHROPIC}:{port}/nope"]
    cmd = ["curl", "-sk", "--resolve", f"{ANTHROPIC}:{port}:127.0.0.1", "-w", "%{http_code}\\n"]
    for u in urls:
        cmd += ["-o", "/dev/null", u]
    res = run(cmd, timeout=30)
    assert res.stdout.split() == ["200"] * 5 + ["503", "404"], res
    time.sleep(1.5)
    summ, out, err = stop_probe(pr)
    rows = client_rows(summ, ANTHROPIC, comm="curl")
    assert len(rows) == 1, summ["http"]["client"]
    r = rows[0]
    assert (r["requests"], r["errors_4xx"], r["errors_5xx"]) == (7, 1, 1)
    assert r["status"] == {"2xx": 5, "4xx": 1, "5xx": 1}
    routes = provider_routes(summ, ANTHROPIC, comm="curl")
    assert routes[("GET", "/v1/messages/{id}")]["requests"] == 5
    hs = handshakes(summ, ANTHROPIC, comm="curl")
    assert len(hs) == 1 and hs[0]["handshakes"] == 1, hs
    # nginx saw the same seven requests, each once
    srv = server_rows(summ, "nginx")
    assert srv[("GET", "/v1/messages/{id}")]["requests"] == 5


def test_libssl_loaded_after_probe_start_is_traced(probe_factory, procs, nginx_tls):
    """A followed process maps libssl only after the probe started (Python
    imports ssl late: a dlopen): its libssl is attached on the next rescan."""
    ng, port = nginx_tls
    cli = tls_client(procs, port, OPENAI, 20, "/v1/late/1", late=2.5)
    assert not libssl_mapped(cli.pid)
    pr = probe_factory("--pid", str(cli.pid), "--json")
    res = go(cli)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200] * 20
    assert f"pid {cli.pid}" in err and "libssl" in err, err
    rows = client_rows(summ, OPENAI, comm="python3")
    assert len(rows) == 1 and rows[0]["requests"] == 20, summ["http"]["client"]
    # only the target is followed: nginx's side is not
    assert not server_rows(summ, "nginx")


def test_gnutls_client_wget(probe_factory, procs, nginx_tls, tmp_path):
    """wget (Debian's links GnuTLS, not OpenSSL) as the client, in its own
    mount namespace whose /etc/hosts maps the provider name to 127.0.0.1:
    its requests are named by the SNI it sent, each counted once, with
    statuses and handshakes. A process holding libgnutls while the probe
    starts gets the file attached for every process (host-wide), so each
    short-lived wget is covered from its start."""
    ng, port = nginx_tls
    holder = procs.start([PY, "-c", "import ctypes, sys; ctypes.CDLL('libgnutls.so.30'); "
                          "print('ready', flush=True); sys.stdin.readline()"])
    wait_ready(holder, "python3 holding libgnutls")
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 {OPENAI}\n")
    pr = probe_factory("--json", "--config", tls_on(tmp_path))
    codes = []
    for p in ["/v1/chat/1", "/v1/chat/2", "/v1/chat/3", "/fail"]:
        res = run(["unshare", "-m", "sh", "-c", f"mount --bind {hosts} /etc/hosts && exec wget "
                   f"-q --no-check-certificate -O /dev/null https://{OPENAI}:{port}{p}"],
                  timeout=30)
        codes.append(res.returncode)
    time.sleep(1.5)
    summ, out, err = stop_probe(pr)
    assert codes == [0, 0, 0, 8], codes   # wget: 8 is an HTTP error status
    assert "libgnutls.so" in err, err
    rows = client_rows(summ, OPENAI, comm="wget")
    assert len(rows) == 1, summ["http"]["client"]
    assert rows[0]["requests"] == 4 and rows[0]["status"] == {"2xx": 3, "5xx": 1}, rows
    routes = provider_routes(summ, OPENAI, comm="wget")
    assert routes[("GET", "/v1/chat/{id}")]["requests"] == 3, routes
    hs = handshakes(summ, OPENAI, comm="wget")
    assert len(hs) == 1 and hs[0]["handshakes"] == 4, hs
    srv = server_rows(summ, "nginx")
    assert srv[("GET", "/v1/chat/{id}")]["requests"] == 3


def test_tls_server_sending_garbage(probe_factory, procs, cert):
    """A TLS server answering binary bytes, then a malformed status line, then
    closing before the handshake: no crash, nothing counted as a request; the
    malformed answer counted unparsed and the binary one unanswered, on both
    sides (server and client are followed), the aborted handshake a failure."""
    crt, key = cert
    srv = procs.start([PY, os.path.join(FIXSRC, "tls_garbage_server.py"), crt, key])
    port = wait_ready(srv, "tls_garbage_server")
    cli = tls_client(procs, port, OPENAI, 3, "/a", "/b", "/c", raw=True)
    pr = probe_factory("--pid", f"{srv.pid},{cli.pid}", "--json")
    res = go(cli)
    time.sleep(1.5)
    summ, out, err = stop_probe(pr)
    assert res["raw"][0].startswith("000102") and res["raw"][1].startswith(b"HTTP/1.1 2xx".hex())
    assert res["raw"][2].startswith("error"), res
    assert not client_rows(summ, OPENAI), summ["http"]["client"]
    assert not [r for r in summ["http"]["server"] if r["comm"] == "python3"]
    stats = summ["http"]["stats"]
    assert stats.get("unparsed") == 2, stats
    assert stats.get("unanswered") == 2, stats
    hs = handshakes(summ, OPENAI, comm="python3")
    assert sum(h["handshakes"] for h in hs) == 2, hs
    assert sum(h["failures"] for h in hs) == 1, hs
    assert srv.poll() is None


@pytest.mark.parametrize("sites", ["callee", "exported"])
def test_read_write_sites_count_exactly(probe_factory, procs, nginx_tls, tmp_path, sites):
    """Debian 12's OpenSSL 3.0: SSL_read and SSL_read_ex (SSL_write and
    SSL_write_ex) both call one internal function whose entry the kernel
    emulates; by default the probe sits there instead of on the four
    wrappers (whose `sub $N,%rsp` entry is single-stepped), and -v says so.
    curl (libcurl) calls SSL_read/SSL_write, Python's ssl module
    SSL_read_ex/SSL_write_ex, nginx SSL_read/SSL_write: every request of
    both clients is counted exactly once on each side, at the callee as at
    the wrappers' entries (signals.http.tls_sites: exported)."""
    ng, port = nginx_tls
    cfg = tmp_path / "tls.json"
    cfg.write_text(json.dumps({"signals": {"http": {"tls": True, "tls_sites": sites}}}))
    n = 60
    cli = tls_client(procs, port, OPENAI, n, "/v1/sites/1", "/fail")
    pr = probe_factory("-v", "--json", "--config", str(cfg))
    res = go(cli)
    urls = [f"https://{ANTHROPIC}:{port}/v1/sites/{i}" for i in range(7)]
    cmd = ["curl", "-sk", "--resolve", f"{ANTHROPIC}:{port}:127.0.0.1", "-w", "%{http_code}\\n"]
    for u in urls:
        cmd += ["-o", "/dev/null", u]
    got = run(cmd, timeout=30)
    assert got.stdout.split() == ["200"] * 7, got
    time.sleep(1.5)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200, 503] * (n // 2)

    lines = [ln for ln in err.splitlines() if "probe: tls:" in ln and "libssl.so.3" in ln
             and "reads:" in ln]
    assert lines, err
    if sites == "callee":
        assert re.search(r"reads: SSL_read/SSL_read_ex via their common callee 0x[0-9a-f]+ "
                         r"entry \+0: push %r\d+ \(emulated\)", lines[0]), lines[0]
        assert re.search(r"writes: SSL_write/SSL_write_ex via their common callee 0x[0-9a-f]+ "
                         r"entry \+0: push %r\d+ \(emulated\)", lines[0]), lines[0]
        assert "at their common callees" in err
    else:
        assert "reads: SSL_read/SSL_read_ex at their entries" in lines[0], lines[0]
        assert "single-stepped" in lines[0], lines[0]

    py = client_rows(summ, OPENAI, comm="python3")
    assert len(py) == 1, summ["http"]["client"]
    assert (py[0]["requests"], py[0]["errors_5xx"]) == (n, n // 2), py
    cu = client_rows(summ, ANTHROPIC, comm="curl")
    assert len(cu) == 1 and cu[0]["requests"] == 7 and cu[0]["status"] == {"2xx": 7}, cu
    srv = server_rows(summ, "nginx")
    assert srv[("GET", "/v1/sites/{id}")]["requests"] == n // 2 + 7, srv
    assert srv[("GET", "/fail")]["requests"] == n // 2, srv
    assert summ["http"]["stats"].get("unparsed", 0) == 0, summ["http"]["stats"]


# A followed parent that, on "go", starts short-lived HTTPS clients one after
# another: each child execs, loads libssl as it starts, makes its requests
# 0.3 s later and exits, all well within the periodic rescan's second.
SPAWNER = """
import json, subprocess, sys
client, port, name, n, kids = sys.argv[1:6]
print("ready", flush=True)
sys.stdin.readline()
statuses = []
for i in range(int(kids)):
    r = subprocess.run([sys.executable, client, port, name, n, f"/v1/spawned/{i}",
                        "--late", "0.3"], capture_output=True, text=True, timeout=30)
    statuses += json.loads(r.stdout)["statuses"]
print(json.dumps({"statuses": statuses}), flush=True)
"""


def test_children_traced_from_their_start(probe_factory, procs, nginx_tls):
    """--pid on a parent whose children are short-lived HTTPS clients: each
    child's libssl is attached as it starts (the kernel reports the fork and
    exec of a followed process at once), so all their requests are seen,
    where a rescan every second would see few or none."""
    ng, port = nginx_tls
    kids, n = 3, 5
    parent = procs.start([PY, "-c", SPAWNER, os.path.join(FIXSRC, "tls_client.py"), str(port),
                          OPENAI, str(n), str(kids)])
    wait_ready(parent, "spawner")
    pr = probe_factory("--pid", str(parent.pid), "--json")
    res = go(parent)
    summ, out, err = stop_probe(pr)
    assert res["statuses"] == [200] * (kids * n)
    rows = client_rows(summ, OPENAI, comm="python3")
    assert len(rows) == 1 and rows[0]["requests"] == kids * n, (summ["http"]["client"],
                                                               err.splitlines())
    hs = handshakes(summ, OPENAI, comm="python3")
    assert len(hs) == 1 and hs[0]["handshakes"] == kids, hs
    # every section writes its latency objects with the one writer
    keys = {"count", "p50", "p90", "p95", "p99", "max", "mean"}
    assert set(hs[0]["handshake_ns"]) == set(rows[0]["latency_ns"]) == keys
    # found as each child started, not by the periodic rescan
    assert summ["tls"]["stats"].get("found_at_process_start", 0) == kids, summ["tls"]["stats"]


def test_openssl_linked_into_executable(probe_factory, procs, nginx_tls, tmp_path):
    """A client with OpenSSL linked into its executable (libssl.a, as
    Node.js's official builds have it) maps no libssl.so: its SSL_read and
    SSL_write are found in the executable itself, under --pid and
    host-wide, and its requests are named, counted and timed like any
    other TLS client's."""
    ng, port = nginx_tls
    exe = os.path.join(FIXTURES, "tls_static_client")
    for mode in ("--pid", "host-wide"):
        cli = procs.start([exe, str(port), OPENAI, "12", "/v1/chat/1", "/v1/chat/2", "/fail"])
        wait_ready(cli, "tls_static_client")
        assert not libssl_mapped(cli.pid)
        pr = probe_factory(*(["--pid", str(cli.pid), "--json"] if mode == "--pid" else
                             ["--json", "--config", tls_on(tmp_path)]))
        res = go(cli)
        time.sleep(1.5)
        summ, out, err = stop_probe(pr)
        assert res["statuses"] == [200, 200, 503] * 4, res
        assert re.search(r"tls: attached \d+ probes to \S*tls_static_client", err), err
        rows = [r for r in summ["http"]["client"]
                if r["host"] == OPENAI and "tls_static_client".startswith(r["comm"])]
        assert len(rows) == 1, (mode, summ["http"]["client"])
        assert rows[0]["requests"] == 12 and rows[0]["status"] == {"2xx": 8, "5xx": 4}, rows
        hs = [h for h in handshakes(summ, OPENAI)
              if "tls_static_client".startswith(h["comm"])]
        assert len(hs) == 1 and hs[0]["handshakes"] == 1, (mode, hs)


def tls_links():
    """Links of tls_probe (other tests may run beside this one), by id: how
    many probe sites each holds (a perf-event uprobe 1, a uprobe_multi link
    all of its sites)."""
    progs = json.loads(run(["bpftool", "-j", "prog", "show"]).stdout or "[]")
    mine = {str(p["id"]) for p in progs if p.get("name", "") == "tls_probe"}
    return {i: int(l.get("uprobe_cnt", 1)) for i, l in bpf_links().items()
            if l.get("prog_id") in mine}


def test_tls_links_per_process_and_released(probe_factory, procs):
    """--pid on a process that maps libssl: its probes (9 with Debian's
    libssl3 at its callee sites) are on links the probe holds, two where
    the kernel has uprobe_multi (entries, returns), and every one of them is
    gone after SIGTERM."""
    holder = procs.start([PY, "-c", "import ssl, sys; print('ready', flush=True); "
                          "sys.stdin.readline()"])
    wait_ready(holder, "python3 with ssl")
    feats = json.loads(run([PROBE, "--check", "--json"]).stdout)["features"]
    before = set(tls_links())
    pr = probe_factory("--pid", str(holder.pid), "--json")
    now = {i: n for i, n in tls_links().items() if i not in before}
    assert sum(now.values()) == 9, now
    assert len(now) == (2 if feats["uprobe_multi"]["available"] else 9), now
    code, out, err = pr.stop(signal.SIGTERM)
    assert code == 0, err
    assert not set(now) & set(tls_links()), "TLS links left behind after SIGTERM"
