"""What the benchmark drivers share: free loopback ports, waiting for a
server, and a PostgreSQL cluster plus a Redis server on 127.0.0.1 in a
temporary directory (bench_conn.py, bench_db.py)."""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"bench: nothing listening on {port} after {timeout}s")


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        sys.exit("PostgreSQL server binaries not installed (scripts/setup.sh --test)")
    return found[-1]


class PgRedis:
    """PostgreSQL (fsync off, a pgbench scale-4 database) and Redis (no
    persistence) on free loopback ports; close() stops both and removes
    their directory."""

    def __init__(self, prefix, *pg_args):
        pw = pwd.getpwnam("postgres")
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.tmp, "pg")
        as_pg = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd=self.tmp)
        subprocess.run([pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C"], check=True, capture_output=True, **as_pg)
        self.pg_port, self.redis_port = free_port(), free_port()
        self.pg = subprocess.Popen([pg_bin("postgres"), "-D", data, "-h", "127.0.0.1", "-p",
                                    str(self.pg_port), "-k", self.tmp, "-c", "fsync=off",
                                    *pg_args],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_pg)
        self.redis = subprocess.Popen(["redis-server", "--port", str(self.redis_port), "--bind",
                                       "127.0.0.1", "--save", "", "--appendonly", "no",
                                       "--dir", self.tmp], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        wait_port(self.pg_port)
        wait_port(self.redis_port)
        subprocess.run([pg_bin("pgbench"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U",
                        "postgres", "-i", "-s", "4", "-q", "postgres"], check=True,
                       capture_output=True)

    def close(self):
        self.redis.kill()
        self.redis.wait()
        self.pg.send_signal(signal.SIGINT)
        try:
            self.pg.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.pg.kill()
            self.pg.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
