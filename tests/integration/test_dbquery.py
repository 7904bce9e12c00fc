"""Database query latency (client side) from the socket capture, against real
PostgreSQL and Redis servers started here on 127.0.0.1 (free ports,
temporary directories; the server fixtures are test_conn's)."""
import json
import os
import shutil
import socket
import subprocess

import pytest

from conftest import PROBE, free_port, read_reply, resp, run, wait_port
from test_conn import Lines, Redis, pg_bin, postgres  # noqa: F401


def write_config(tmp_path, ports=None):
    """The embedded default with the socket capture (http signal) and conn on."""
    cfg = json.loads(run([PROBE, "--print-config"]).stdout)
    for name, sig in cfg["signals"].items():
        if "enabled" in sig:
            sig["enabled"] = name in ("http", "conn")
    if ports is not None:
        cfg["signals"]["conn"]["ports"] = ports
    path = tmp_path / "db.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def host_probe(probe_factory, tmp_path, ports=None):
    return Lines(probe_factory("--json", "-i", "1", "--config", write_config(tmp_path, ports)))


def db_rows(summ, pid):
    return {r["op"]: r for r in summ["db_queries"] if r["pid"] == pid}


@pytest.fixture
def redis():
    r = Redis()
    yield r
    r.close()


def pgbench(port, tmp_path, *args):
    cmd = [pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-n",
           *args, "postgres"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=str(tmp_path))
    out, err = p.communicate(timeout=180)
    assert p.returncode == 0, err
    done = [l for l in out.splitlines() if "number of transactions actually processed" in l]
    assert done, out
    n = int(done[0].split(":")[1].split("/")[0])
    return p.pid, n, out


def log_latencies_us(tmp_path, pid):
    """Per-transaction latencies (us) from pgbench --log files."""
    lat = []
    for name in os.listdir(tmp_path):
        if name.startswith(f"pgbench_log.{pid}"):
            for line in open(os.path.join(tmp_path, name)):
                lat.append(int(line.split()[2]))
    return sorted(lat)


def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))]


def wait_db(lines, pid, op, n, timeout=20):
    return lines.wait_for(lambda o: db_rows(o, pid).get(op, {}).get("queries", 0) >= n,
                          timeout=timeout)


@pytest.mark.parametrize("mode", ["simple", "extended"])
def test_pgbench_select_only_count_and_p95(probe_factory, tmp_path, postgres, mode):
    # the port is not in the table: found by the startup packet
    lines = host_probe(probe_factory, tmp_path, {"postgresql": []})
    pid, n, out = pgbench(postgres, tmp_path, "-c", "4", "-j", "2", "-t", "1000", "-M", mode,
                          "-b", "select-only", "--log")
    summ = lines.stop()
    rows = db_rows(summ, pid)
    assert "SELECT" in rows, summ["db_queries"]
    r = rows["SELECT"]
    assert r["kind"] == "postgresql" and r["comm"] == "pgbench"
    assert r["dest"] == f"127.0.0.1:{postgres}"
    # select-only: one SELECT per transaction (pgbench also counts the
    # branches once at start with a SELECT of its own)
    assert abs(r["queries"] - n) <= 0.01 * n, (r["queries"], n)
    assert r["errors"] == 0
    assert summ["db_stats"].get("unparsed", 0) == 0, summ["db_stats"]
    # pgbench's per-transaction latency is the one SELECT plus libpq and
    # pgbench's own work around it: the probe's query time (write of the
    # query -> read of ReadyForQuery) sits just inside it
    lat = log_latencies_us(tmp_path, pid)
    assert len(lat) == n
    p95_bench = pct(lat, 0.95) * 1000
    p95_probe = r["latency_ns"]["p95"]
    print(f"{mode}: n={n} probe={r['queries']} p95 probe={p95_probe} pgbench={p95_bench}")
    assert abs(p95_probe - p95_bench) <= 0.10 * p95_bench, (p95_probe, p95_bench)


def test_pgbench_tpcb_statement_counts(probe_factory, tmp_path, postgres):
    lines = host_probe(probe_factory, tmp_path, {"postgresql": [postgres]})
    pid, n, _ = pgbench(postgres, tmp_path, "-c", "2", "-j", "2", "-t", "300", "-M", "simple")
    summ = lines.stop()
    rows = db_rows(summ, pid)
    # the same pid/comm/dest/kind as the connection rows: the two join
    conns = [c for c in summ["connections"] if c["pid"] == pid]
    assert conns and all(c["kind"] == "postgresql" for c in conns)
    assert {(c["comm"], c["dest"]) for c in conns} == \
        {(r["comm"], r["dest"]) for r in rows.values()}
    # tpcb-like: BEGIN; 3 UPDATE; SELECT; INSERT; END per transaction
    want = {"BEGIN": n, "UPDATE": 3 * n, "SELECT": n, "INSERT": n, "END": n}
    for op, k in want.items():
        assert op in rows, rows.keys()
        assert abs(rows[op]["queries"] - k) <= 0.01 * k, (op, rows[op]["queries"], k)
        assert rows[op]["kind"] == "postgresql"   # from the port table here


def test_pgbench_errors_counted(probe_factory, tmp_path, postgres):
    lines = host_probe(probe_factory, tmp_path)
    script = tmp_path / "bad.sql"
    script.write_text("SELECT * FROM no_such_table_here;\n")
    cmd = [pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(postgres), "-U", "postgres", "-n",
           "-c", "1", "-t", "5", "-f", str(script), "postgres"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.communicate(timeout=60)
    rows = db_rows(lines.stop(), p.pid)
    assert rows["SELECT"]["errors"] == rows["SELECT"]["queries"] >= 1


def test_redis_benchmark_counts(probe_factory, tmp_path, redis):
    n = 5000
    lines = host_probe(probe_factory, tmp_path, {"redis": []})
    b = subprocess.Popen(["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port),
                          "-t", "get,set", "-n", str(n), "-c", "10", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.communicate(timeout=120)
    assert b.returncode == 0
    rows = db_rows(lines.stop(), b.pid)
    assert rows["SET"]["queries"] == n, rows
    assert rows["GET"]["queries"] == n, rows
    assert rows["GET"]["kind"] == "redis"
    assert rows["SET"]["errors"] == rows["GET"]["errors"] == 0
    # SET ran first: every GET of key:__rand_int__ finds it
    assert rows["GET"]["hits"] == n and rows["GET"]["misses"] == 0
    assert rows["SET"]["hits"] == rows["SET"]["misses"] == 0






def test_redis_hit_ratio_exact(probe_factory, tmp_path, redis):
    hits, misses = 37, 13
    lines = host_probe(probe_factory, tmp_path)
    s = socket.create_connection(("127.0.0.1", redis.port))
    f = s.makefile("rb")
    for i in range(hits):
        s.sendall(resp(b"SET", b"present:%d" % i, b"v" * (i + 1)))
        assert read_reply(f) == b"+OK\r\n"
    for i in range(hits):
        s.sendall(resp(b"get", b"present:%d" % i))
        assert read_reply(f).startswith(b"$")
    for i in range(misses):
        s.sendall(resp(b"GET", b"absent:%d" % i))
        assert read_reply(f) == b"$-1\r\n"
    s.sendall(resp(b"INCR", b"present:0"))          # an error reply
    assert read_reply(f).startswith(b"-ERR")
    # pipelined: three commands in one write
    s.sendall(resp(b"GET", b"present:1") + resp(b"GET", b"absent:x") + resp(b"PING"))
    assert read_reply(f).startswith(b"$") and read_reply(f) == b"$-1\r\n"
    assert read_reply(f) == b"+PONG\r\n"
    s.close()
    rows = db_rows(lines.stop(), os.getpid())
    g = rows["GET"]
    assert g["queries"] == hits + misses + 2
    assert g["hits"] == hits + 1 and g["misses"] == misses + 1
    assert g["hit_ratio"] == pytest.approx((hits + 1) / (hits + misses + 2))
    assert rows["SET"]["queries"] == hits and rows["SET"]["errors"] == 0
    assert rows["INCR"]["errors"] == 1
    assert rows["PING"]["queries"] == 1


def test_garbage_to_db_ports_is_unparsed(probe_factory, tmp_path, postgres, redis):
    lines = host_probe(probe_factory, tmp_path,
                       {"postgresql": [postgres], "redis": [redis.port]})
    for port in (postgres, redis.port):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"\xde\xad\xbe\xefGARBAGE\r\n" * 4)
        s.settimeout(2)
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()
    summ = lines.wait_for(lambda o: o.get("db_stats", {}).get("unparsed", 0) >= 2)
    assert lines.probe.proc.poll() is None
    # the servers and the capture still work afterwards
    s = socket.create_connection(("127.0.0.1", redis.port))
    s.sendall(resp(b"GET", b"nothing"))
    assert s.recv(100) == b"$-1\r\n"
    s.close()
    summ = lines.stop()
    assert summ["db_stats"]["unparsed"] >= 2
    assert db_rows(summ, os.getpid())["GET"]["misses"] == 1


@pytest.fixture
def mariadb(tmp_path):
    """A MariaDB server in a temporary directory, root without a password,
    127.0.0.1 only, our child."""
    if not shutil.which("mariadbd") and not os.path.exists("/usr/sbin/mariadbd"):
        pytest.skip("mariadb-server not installed")
    data = tmp_path / "mysql"
    r = run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"], timeout=120)
    assert r.returncode == 0, r.stderr
    port = free_port()
    srv = subprocess.Popen(["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}",
                            "--user=root", f"--port={port}", "--bind-address=127.0.0.1",
                            f"--socket={tmp_path}/mysql.sock", "--skip-name-resolve",
                            f"--pid-file={tmp_path}/mysql.pid",
                            f"--log-error={tmp_path}/mysql.err"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def test_mysql_queries_counted_errors_and_detected(probe_factory, tmp_path, mariadb):
    n, q = 30, 400
    lines = host_probe(probe_factory, tmp_path, {"mysql": []})   # detected by the greeting
    sql = "DO 1;\n" * n + "DO no_such_function_here();\n"
    cli = subprocess.Popen(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(mariadb),
                            "-u", "root", "-f"], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    cli.communicate(sql, timeout=60)
    slap = subprocess.Popen(["mysqlslap", "--no-defaults", "-h", "127.0.0.1", "-P", str(mariadb),
                             "-u", "root", "--create-schema=mysql", "--query=SELECT 1",
                             f"--number-of-queries={q}", "--concurrency=2", "--iterations=1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = slap.communicate(timeout=120)
    assert slap.returncode == 0, err
    summ = lines.stop()
    rows = db_rows(summ, cli.pid)
    assert rows["DO"]["queries"] == n + 1 and rows["DO"]["errors"] == 1
    assert rows["DO"]["kind"] == "mysql"
    assert rows["DO"]["dest"] == f"127.0.0.1:{mariadb}"
    rows = db_rows(summ, slap.pid)
    assert rows["SELECT"]["queries"] == q and rows["SELECT"]["errors"] == 0
