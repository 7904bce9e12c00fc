"""What the benchmark drivers share: free loopback ports, waiting for a
server, a process's CPU time, nginx (one worker) on 127.0.0.1 (bench_http.py,
bench_tls.py, bench_export.py), and a PostgreSQL cluster plus a Redis server
on 127.0.0.1 in a temporary directory (bench_conn.py, bench_db.py)."""
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


def cpu_s(pid):
    """utime + stime of a process so far, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def start_nginx(d, port, listen="", http="", server="", pin=True):
    """Debian's nginx, one worker (on CPU 0 when pin), in directory d, serving
    a 612-byte index.html on 127.0.0.1:port; listen, http and server add to
    the listen directive (" ssl"), the http block and the server block.
    Returns the master process once the port answers."""
    html, tmp = os.path.join(d, "html"), os.path.join(d, "tmp")
    os.makedirs(html, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(html, "index.html"), "w") as f:
        f.write(("<p>probe bench</p>" * 40)[:612])
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
{"worker_cpu_affinity 01;" if pin else ""}
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    log_not_found off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/html;
    {http}
    server {{
        listen 127.0.0.1:{port}{listen};
        root {html};
        location / {{ }}
        {server}
    }}
}}
""")
    p = subprocess.Popen(["nginx", "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            if time.time() > deadline or p.poll() is not None:
                p.kill()
                sys.exit("bench: nginx did not start: " + p.communicate()[1].decode())
            time.sleep(0.05)


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
