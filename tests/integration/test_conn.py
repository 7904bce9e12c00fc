"""The conn signal against real servers and connects with known outcomes.

PostgreSQL and Redis are started here on 127.0.0.1 (free ports, temporary
directories); dropped and unreachable destinations live in network
namespaces the tests create and delete, so nothing leaves this machine and
no firewall rule outside a test namespace is touched."""
import glob
import json
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PROBE, fixture, run, summary, free_port, wait_port




def write_config(tmp_path, ports=None):
    """The embedded default with only the conn signal on (other signals'
    hooks are theirs to test, and they slow every start down), plus a port
    table override."""
    cfg = json.loads(run([PROBE, "--print-config"]).stdout)
    for name, sig in cfg["signals"].items():
        if "enabled" in sig:
            sig["enabled"] = name == "conn"
    if ports is not None:
        cfg["signals"]["conn"]["ports"] = ports
    path = tmp_path / "conn.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def rows(obj, pid):
    return [r for r in obj["connections"] if r.get("pid") == pid]


def row(obj, pid, dest):
    found = [r for r in rows(obj, pid) if r["dest"] == dest]
    assert len(found) == 1, (pid, dest, obj["connections"])
    return found[0]


class Lines:
    """JSON lines from a running probe's stdout, read without blocking forever."""

    def __init__(self, probe):
        self.probe = probe
        self.fd = probe.proc.stdout.fileno()
        self.buf = b""

    def wait_for(self, pred, timeout=30):
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                seen = json.loads(line)
                if pred(seen):
                    return seen
            r, _, _ = select.select([self.fd], [], [], max(0, deadline - time.time()))
            if r:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                self.buf += chunk
        raise AssertionError(f"condition not met in {timeout}s; last line: {seen}")

    def stop(self):
        """Stop the probe; its summary (what it printed after our reads)."""
        code, out, err = self.probe.stop()
        assert code == 0, err
        return summary(self.buf.decode() + out)


def start_connector(*args, ns=None):
    cmd = [fixture("connector"), *args]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready pid="), line
    # `ip netns exec` execs the command in place: the pid is the connector's
    assert int(line.split("=")[1]) == p.pid
    return p


def go(p):
    p.stdin.write("go\n")
    p.stdin.flush()


def finish(p, timeout=30):
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out
    lines = out.splitlines()
    summ = [l for l in lines if l.startswith("summary")][0].split()
    counts = dict(kv.split("=") for kv in summ[1:])
    return {k: int(v) for k, v in counts.items()}, lines


# ---------------------------------------------------------------- servers

def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip("PostgreSQL server binaries not installed")
    return found[-1]




@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster in a temporary directory, trust auth, 127.0.0.1 only.
    postgres runs in the foreground as our child (pg_ctl would detach it and
    leave nobody to reap it)."""
    pw = pwd.getpwnam("postgres")
    tmp = tempfile.mkdtemp(prefix="probe-pg-")
    os.chown(tmp, pw.pw_uid, pw.pw_gid)
    data = os.path.join(tmp, "data")
    as_pg = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd=tmp)
    r = subprocess.run([pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C"], capture_output=True, text=True,
                       timeout=120, **as_pg)
    assert r.returncode == 0, r.stderr
    port = free_port()
    srv = subprocess.Popen([pg_bin("postgres"), "-D", data, "-h", "127.0.0.1", "-p", str(port),
                            "-k", tmp, "-c", "fsync=off", "-c", "max_connections=40"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_pg)
    try:
        wait_port(port)
        r = run([pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                 "-i", "-s", "1", "-q", "postgres"], timeout=120)
        assert r.returncode == 0, r.stderr
        yield port
    finally:
        srv.send_signal(signal.SIGINT)      # fast shutdown
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


class Redis:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="probe-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no",
                                      "--dir", self.tmp], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def redis():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    r = Redis()
    yield r
    r.close()


@pytest.fixture
def netns():
    """A fresh network namespace with only loopback up; deleted afterwards
    (with every rule and sysctl the test set inside it)."""
    name = f"probe-conn-{os.getpid()}-{random.randrange(1 << 30)}"
    assert run(["ip", "netns", "add", name]).returncode == 0
    try:
        assert run(["ip", "-n", name, "link", "set", "lo", "up"]).returncode == 0
        yield name
    finally:
        run(["ip", "netns", "del", name])


def in_ns(ns, *cmd):
    r = run(["ip", "netns", "exec", ns, *cmd])
    assert r.returncode == 0, (cmd, r.stderr)


def host_probe(probe_factory, tmp_path, ports=None, *extra):
    return Lines(probe_factory("--json", "-i", "1", "--config", write_config(tmp_path, ports),
                               *extra))


# ------------------------------------------------------------------ tests

def test_check_reports_conn_live():
    r = run([PROBE, "--check", "--json"])
    sig = {s["signal"]: s for s in json.loads(r.stdout)["signals"]}
    assert sig["conn"]["live"], sig["conn"]
    assert "host-wide" in sig["conn"]["why"]      # on by default without --pid


def test_pgbench_clients_are_active_postgresql_connections(probe_factory, tmp_path, postgres):
    clients = 8
    lines = host_probe(probe_factory, tmp_path, {"postgresql": [postgres]})
    bench = subprocess.Popen([pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(postgres),
                              "-U", "postgres", "-c", str(clients), "-j", "2", "-T", "6", "-S",
                              "-n", "postgres"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    dest = f"127.0.0.1:{postgres}"
    try:
        live = lines.wait_for(lambda o: any(r["dest"] == dest and r["active"] == clients
                                            for r in rows(o, bench.pid)), timeout=20)
    finally:
        out, err = bench.communicate(timeout=60)
    assert bench.returncode == 0, err
    r = row(live, bench.pid, dest)
    assert r["kind"] == "postgresql"
    assert r["comm"] == "pgbench"
    # after pgbench is gone every connection is released
    lines.wait_for(lambda o: all(x["active"] == 0 for x in rows(o, bench.pid)), timeout=20)
    r = row(lines.stop(), bench.pid, dest)
    assert r["active"] == 0
    assert r["active_highest"] == clients
    assert r["connects"]["failed"] == 0
    assert r["connects"]["established"] == r["opens"] >= clients
    assert r["connects"]["attempts"] == r["opens"]
    assert r["closes"] == r["opens"]
    assert r["connect_ns"]["count"] == r["opens"]
    assert 0 < r["connect_ns"]["p95"] < 1_000_000_000
    assert r["lifetime_ns"]["count"] == r["closes"]
    assert r["connecting"] == 0


@pytest.mark.parametrize("host,mode", [("127.0.0.1", []), ("127.0.0.1", ["-B"]),
                                       ("::1", []), ("::1", ["-B"]),
                                       ("::ffff:127.0.0.1", [])],
                         ids=["ipv4-blocking", "ipv4-nonblocking", "ipv6-blocking",
                              "ipv6-nonblocking", "ipv4-mapped"])
def test_refused_counted_with_the_right_pid(probe_factory, tmp_path, host, mode):
    n = 7
    port = free_port()      # nothing listens there now
    mine = start_connector("-w", "-n", str(n), *mode, host, str(port))
    other = start_connector("-w", "-n", "3", host, str(port))
    pr = probe_factory("--pid", str(mine.pid), "--json", "--config", write_config(tmp_path))
    go(mine)
    go(other)
    counts, _ = finish(mine)
    finish(other)
    assert counts == {"ok": 0, "fail": n, "total_ok_us": 0, "ECONNREFUSED": n}
    code, out, err = pr.wait(timeout=30)    # stops once its target exits
    assert code == 0, err
    summ = summary(out)
    # an IPv4 peer reached from an IPv6 socket is the same destination
    plain = host.removeprefix("::ffff:")
    dest = f"[{plain}]:{port}" if ":" in plain else f"{plain}:{port}"
    r = row(summ, mine.pid, dest)
    assert r["comm"] == "connector"
    assert r["connects"]["attempts"] == n
    assert r["connects"]["failed"] == n
    assert r["connects"]["failures"] == {"refused": n, "timeout": 0, "unreachable": 0,
                                         "aborted": 0, "other": 0}
    assert r["connects"]["errno"] == {"ECONNREFUSED": n}
    assert r["connects"]["established"] == 0 and r["opens"] == 0
    assert r["active"] == 0 and r["connecting"] == 0
    assert rows(summ, other.pid) == []      # not followed


def test_dropped_syns_time_out_and_wait(probe_factory, tmp_path, netns):
    """SYNs to 127.0.0.1:5432-5433 inside the namespace are dropped: three
    parallel connects with one SYN retry each time out (about 3 s), and two
    abandoned after 300 ms count as aborted. 5432 keeps its default kind."""
    in_ns(netns, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "5432:5433", "--syn",
          "-j", "DROP")
    try:
        lines = host_probe(probe_factory, tmp_path)
        slow = start_connector("-w", "-p", "-n", "3", "-s", "1", "127.0.0.1", "5432", ns=netns)
        quit_ = start_connector("-w", "-B", "-a", "300", "-n", "2", "127.0.0.1", "5433",
                                ns=netns)
        go(slow)
        go(quit_)
        # while they wait: three connects pending towards one destination
        waiting = lines.wait_for(lambda o: any(r["connecting"] == 3
                                               for r in rows(o, slow.pid)), timeout=10)
        assert row(waiting, slow.pid, "127.0.0.1:5432")["active"] == 0
        counts, out = finish(slow)
        assert counts == {"ok": 0, "fail": 3, "total_ok_us": 0, "ETIMEDOUT": 3}, out
        counts, out = finish(quit_)
        assert counts["fail"] == 2 and counts["ECONNABORTED"] == 2, out
        summ = lines.stop()
    finally:
        in_ns(netns, "iptables", "-D", "INPUT", "-p", "tcp", "--dport", "5432:5433", "--syn",
              "-j", "DROP")
    r = row(summ, slow.pid, "127.0.0.1:5432")
    assert r["kind"] == "postgresql"
    assert r["connects"]["failures"] == {"refused": 0, "timeout": 3, "unreachable": 0,
                                         "aborted": 0, "other": 0}
    assert r["connects"]["errno"] == {"ETIMEDOUT": 3}
    assert r["connecting_highest"] == 3 and r["connecting"] == 0
    assert r["retransmits"] >= 3            # each SYN was sent again once
    r = row(summ, quit_.pid, "127.0.0.1:5433")
    assert r["connects"]["failures"]["aborted"] == 2
    assert r["connects"]["failed"] == 2
    assert r["connecting"] == 0


def test_unreachable_before_and_after_syn(probe_factory, tmp_path, netns):
    """Three ways to be unreachable: no route (ENETUNREACH in connect(), no
    SYN ever sent), an unreachable route (EHOSTUNREACH in connect()), and an
    ICMP host-unreachable answering the SYN (EHOSTUNREACH from the kernel's
    socket error, after SYN_SENT)."""
    in_ns(netns, "ip", "route", "add", "unreachable", "10.78.0.0/24")
    in_ns(netns, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "7001", "-j", "REJECT",
          "--reject-with", "icmp-host-unreachable")
    try:
        lines = host_probe(probe_factory, tmp_path)
        noroute = start_connector("-w", "-n", "2", "10.99.0.5", "6379", ns=netns)
        unreach = start_connector("-w", "-n", "2", "-B", "10.78.0.5", "6379", ns=netns)
        icmp = start_connector("-w", "-p", "-n", "2", "127.0.0.1", "7001", ns=netns)
        for p in (noroute, unreach, icmp):
            go(p)
        want = {noroute: "ENETUNREACH", unreach: "EHOSTUNREACH", icmp: "EHOSTUNREACH"}
        for p, e in want.items():
            counts, out = finish(p)
            assert counts == {"ok": 0, "fail": 2, "total_ok_us": 0, e: 2}, out
        summ = lines.stop()
    finally:
        in_ns(netns, "iptables", "-D", "INPUT", "-p", "tcp", "--dport", "7001", "-j", "REJECT",
              "--reject-with", "icmp-host-unreachable")
    for p, dest in ((noroute, "10.99.0.5:6379"), (unreach, "10.78.0.5:6379"),
                    (icmp, "127.0.0.1:7001")):
        r = row(summ, p.pid, dest)
        assert r["connects"]["attempts"] == 2
        assert r["connects"]["failures"]["unreachable"] == 2, json.dumps(r)
        assert r["connects"]["errno"] == {want[p]: 2}
        assert r["connecting"] == 0
    assert row(summ, noroute.pid, "10.99.0.5:6379")["kind"] == "redis"


def test_no_source_port_left_fails_inside_connect(probe_factory, tmp_path, netns):
    """Two source ports in the namespace: the third and fourth connects to
    one destination fail with EADDRNOTAVAIL after the socket entered
    SYN_SENT; the errno comes from connect()'s return."""
    in_ns(netns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40001")
    lines = host_probe(probe_factory, tmp_path)
    p = start_connector("-w", "-L", "-n", "4", "127.0.0.1", "7000", ns=netns)
    go(p)
    counts, out = finish(p)
    assert counts == {"ok": 2, "fail": 2, "total_ok_us": counts["total_ok_us"],
                      "EADDRNOTAVAIL": 2}, out
    r = row(lines.stop(), p.pid, "127.0.0.1:7000")
    assert r["connects"]["attempts"] == 4
    assert r["connects"]["established"] == 2
    assert r["connects"]["failures"]["other"] == 2
    assert r["connects"]["errno"] == {"EADDRNOTAVAIL": 2}
    assert r["active_highest"] == 2 and r["active"] == 0


def test_server_killed_resets_and_count_returns_to_zero(probe_factory, tmp_path, redis):
    n = 5
    lines = host_probe(probe_factory, tmp_path, {"redis": [redis.port]})
    dest = f"127.0.0.1:{redis.port}"
    client = start_connector("-H", "-n", str(n), "127.0.0.1", str(redis.port))
    line = client.stdout.readline()
    while line.startswith("attempt"):
        line = client.stdout.readline()
    assert line.startswith(f"summary ok={n} "), line
    assert client.stdout.readline().strip() == f"held {n}"
    live = lines.wait_for(lambda o: any(r["dest"] == dest and r["active"] == n
                                        for r in rows(o, client.pid)), timeout=10)
    assert row(live, client.pid, dest)["kind"] == "redis"
    redis.kill()
    client.stdin.write("ping them\n")
    client.stdin.flush()
    released = client.stdout.readline().split()
    assert client.wait(timeout=30) == 0
    assert released[:2] == ["released", str(n)]
    resets_seen_by_client = int(released[2].split("=")[1])
    lines.wait_for(lambda o: all(r["active"] == 0 for r in rows(o, client.pid)), timeout=10)
    r = row(lines.stop(), client.pid, dest)
    assert r["active"] == 0 and r["active_highest"] == n
    assert r["opens"] == n and r["closes"] == n
    assert r["resets_in"] == resets_seen_by_client == n
    assert r["closed_on_error"] == n


def test_connections_open_before_start_are_followed(probe_factory, tmp_path, redis):
    """A pool opened before the probe: it shows as active from the start
    (found by the socket walk at start), its release is counted, its
    lifetime is not (unknown), and the server's accepted side is not an
    outbound connection."""
    n = 4
    client = start_connector("-H", "-n", str(n), "127.0.0.1", str(redis.port))
    line = client.stdout.readline()
    while not line.startswith("held"):
        line = client.stdout.readline()
    assert line.strip() == f"held {n}"
    # the signal table (with the seeded count) is printed at start under -v
    lines = host_probe(probe_factory, tmp_path, {"redis": [redis.port]}, "-v")
    assert f"{n} connection(s) open before start followed" in lines.probe.stderr
    dest = f"127.0.0.1:{redis.port}"
    live = lines.wait_for(lambda o: any(r["dest"] == dest for r in rows(o, client.pid)),
                          timeout=10)
    r = row(live, client.pid, dest)
    assert r["active"] == n and r["kind"] == "redis" and r["comm"] == "connector"
    assert rows(live, redis.proc.pid) == []        # accepted sockets: not outbound
    client.stdin.write("release\n")
    client.stdin.flush()
    assert client.stdout.readline().split()[:2] == ["released", str(n)]
    assert client.wait(timeout=30) == 0
    lines.wait_for(lambda o: all(x["active"] == 0 for x in rows(o, client.pid)), timeout=10)
    r = row(lines.stop(), client.pid, dest)
    assert r["active"] == 0 and r["active_highest"] == n
    assert r["closes"] == n and r["opens"] == 0 and r["connects"]["attempts"] == 0
    assert "lifetime_ns" not in r       # established before the probe: unknown


def test_connect_time_is_inside_the_clients_own_timing(probe_factory, tmp_path, redis):
    n = 50
    lines = host_probe(probe_factory, tmp_path, {"redis": [redis.port]})
    p = start_connector("-w", "-n", str(n), "127.0.0.1", str(redis.port))
    go(p)
    counts, _ = finish(p)
    assert counts["ok"] == n
    r = row(lines.stop(), p.pid, f"127.0.0.1:{redis.port}")
    c = r["connect_ns"]
    assert c["count"] == n
    # each SYN_SENT -> ESTABLISHED lies within the client's connect() call;
    # the client floors each of its own times to a microsecond
    assert 0 < c["mean"] * n <= (counts["total_ok_us"] + n) * 1000
    assert c["p50"] <= c["p95"] <= c["max"]


def test_redis_benchmark_connections_are_redis(probe_factory, tmp_path, redis):
    clients = 10
    lines = host_probe(probe_factory, tmp_path, {"redis": [redis.port]})
    bench = subprocess.Popen(["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port),
                              "-c", str(clients), "-n", "20000", "-t", "ping", "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = bench.communicate(timeout=60)
    assert bench.returncode == 0, err
    summ = lines.stop()
    r = row(summ, bench.pid, f"127.0.0.1:{redis.port}")
    assert r["kind"] == "redis"
    assert r["comm"] == "redis-benchmark"
    assert r["active_highest"] >= clients
    assert r["opens"] >= clients and r["closes"] == r["opens"]
    assert r["connects"]["failed"] == 0
    assert r["active"] == 0


def test_default_port_table_without_a_config(probe_factory, tmp_path):
    """No config file: the embedded table names 6379 redis and 3306 mysql
    (refused connects are enough to see the classification)."""
    lines = host_probe(probe_factory, tmp_path)
    for port in (3306, 6379, 11211):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.skip(f"something listens on {port} here")
    p = start_connector("-w", "-n", "1", "127.0.0.1", "3306")
    q = start_connector("-w", "-n", "1", "127.0.0.1", "11211")
    go(p)
    go(q)
    finish(p)
    finish(q)
    summ = lines.stop()
    assert row(summ, p.pid, "127.0.0.1:3306")["kind"] == "mysql"
    assert row(summ, q.pid, "127.0.0.1:11211")["kind"] == "memcached"


def test_garbage_to_database_ports_does_not_crash(probe_factory, tmp_path, postgres, redis):
    lines = host_probe(probe_factory, tmp_path, {"postgresql": [postgres],
                                                 "redis": [redis.port]})
    rnd = random.Random(4)
    for port in (postgres, redis.port):
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4096))))
                s.settimeout(2)
                try:
                    s.recv(4096)
                except OSError:
                    pass
            finally:
                s.close()
    assert lines.probe.proc.poll() is None
    summ = lines.stop()
    me = os.getpid()
    assert row(summ, me, f"127.0.0.1:{postgres}")["kind"] == "postgresql"
    assert row(summ, me, f"127.0.0.1:{postgres}")["opens"] == 20
    assert row(summ, me, f"127.0.0.1:{redis.port}")["kind"] == "redis"
    assert row(summ, me, f"127.0.0.1:{redis.port}")["opens"] == 20
    lost = {p["signal"]: p["lost"] for p in summ["probe"]}
    assert lost["conn"] == 0


def test_bad_port_table_is_a_config_error(tmp_path):
    for ports, needle in (({"redis": [70000]}, "signals.conn.ports.redis: 70000 is out of range"),
                          ({"Bad Kind": [1]}, "signals.conn.ports.Bad Kind"),
                          ({"a": [5], "b": [5]}, "port 5 is listed under both a and b"),
                          ([5432], "signals.conn.ports: expected an object")):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"signals": {"conn": {"ports": ports}}}))
        r = run([PROBE, "--config", str(path), "--check"])
        assert r.returncode == 78, r.stderr
        assert needle in r.stderr, r.stderr
