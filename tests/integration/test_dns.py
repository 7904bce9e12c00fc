"""DNS answers name the peers a process then connects to: a resolver on
127.0.0.153:53 (this test's, on loopback) answers api.openai.test with
127.0.0.2, where an HTTP server listens; the client process resolves the
name over a connected UDP socket as glibc does, then calls the server
with an HTTP/1.0 request that carries no Host header. Its connection and
its HTTP client row must carry the name, not the address.

Around it, what must not happen: an NXDOMAIN and a garbage datagram from
port 53 name nothing (the garbage is counted unparsed), and a file that
reuses the closed UDP socket's fd number, whose bytes are a well-formed
DNS answer naming 127.0.0.3 as evil.test, is never read as one."""
import json
import os
import socket
import struct
import subprocess
import threading

import pytest

from conftest import PROBE, summary
from test_http import PY, stop_probe

DNS_IP = "127.0.0.153"
SERVER_IP = "127.0.0.2"


def name(n):
    return b"".join(bytes([len(l)]) + l for l in n.encode().split(b".")) + b"\0"


def answer(query, ip, rcode=0):
    """A response to query: the question echoed, one A record for ip (none on error)."""
    qid = query[:2]
    qend = 12
    while query[qend]:
        qend += 1 + query[qend]
    question = query[12:qend + 5]
    an = b"" if rcode else (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip))
    return qid + struct.pack(">HHHHH", 0x8180 | rcode, 1, 0 if rcode else 1, 0, 0) + question + an


def query(qname, qid=0x4242):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name(qname) + struct.pack(">HH", 1, 1)


class Resolver(threading.Thread):
    """api.openai.test -> SERVER_IP; garbage.test -> bytes that are not DNS; else NXDOMAIN."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((DNS_IP, 53))
        except OSError as e:
            self.sock.close()
            pytest.skip(f"cannot bind {DNS_IP}:53 for the test resolver: {e}")
        self.sock.settimeout(0.2)
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            if b"\x07garbage" in q:
                self.sock.sendto(b"\xff" * 40, peer)
            elif b"\x06openai" in q:
                self.sock.sendto(answer(q, SERVER_IP), peer)
            else:
                self.sock.sendto(answer(q, SERVER_IP, rcode=3), peer)

    def stop(self):
        self.stopping = True
        self.join(timeout=5)
        self.sock.close()


class HttpServer(threading.Thread):
    """Answers each connection's one request with 200 and closes it."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((SERVER_IP, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                c.recv(4096)
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def stop(self):
        self.stopping = True
        self.join(timeout=5)
        self.sock.close()


CLIENT = r"""
import json, os, socket, sys
dns_ip, port, decoy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
queries = [bytes.fromhex(h) for h in sys.argv[4:]]
print("ready", flush=True)
sys.stdin.readline()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect((dns_ip, 53))
fd = u.fileno()
replies = []
for q in queries:
    u.send(q)
    replies.append(len(u.recv(512)))
u.close()
# the same fd number, now a file holding a DNS answer
f = os.open(decoy, os.O_RDONLY)
assert f == fd, (f, fd)
for _ in range(5):
    os.lseek(f, 0, 0)
    os.read(f, 512)
os.close(f)
c = socket.create_connection(("127.0.0.2", port), timeout=5)
c.sendall(b"GET /v1/models HTTP/1.0\r\n\r\n")
body = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    body += b
c.close()
print(json.dumps({"replies": replies, "status": int(body.split()[1])}), flush=True)
"""


def test_dns_answer_names_the_connection_and_the_http_call(probe_factory, tmp_path):
    resolver, server = Resolver(), HttpServer()
    resolver.start()
    server.start()
    decoy = tmp_path / "decoy.bin"
    decoy.write_bytes(answer(query("evil.test"), "127.0.0.3"))
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    qs = [query("api.openai.test", 1).hex(), query("nothing.test", 2).hex(),
          query("garbage.test", 3).hex()]
    cli = subprocess.Popen([PY, str(script), DNS_IP, str(server.port), str(decoy), *qs],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert cli.stdout.readline().strip() == "ready"
        pr = probe_factory("--pid", str(cli.pid), "--json", "-i", "1")
        cli.stdin.write("go\n")
        cli.stdin.flush()
        out, _ = cli.communicate(timeout=30)
        assert cli.returncode == 0, out
        res = json.loads(out.strip().splitlines()[-1])
        summ, pout, err = stop_probe(pr)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        resolver.stop()
        server.stop()
    assert res["status"] == 200 and len(res["replies"]) == 3
    named = f"api.openai.test:{server.port}"
    stats = summ["http"]["stats"]
    # three datagrams read from port 53, the decoy file's five reads not among them
    assert stats.get("dns_answers") == 3, stats
    assert stats.get("dns_unparsed") == 1, stats
    assert "evil.test" not in pout
    calls = [r for r in summ["http"]["client"] if r.get("peer") == f"{SERVER_IP}:{server.port}"]
    assert [(r["host"], r["requests"]) for r in calls] == [(named, 1)], summ["http"]["client"]
    conns = [r for r in summ["connections"] if r.get("pid") == cli.pid]
    assert [r["dest"] for r in conns] == [named], conns
