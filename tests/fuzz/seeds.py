#!/usr/bin/python3
"""seeds.py OUTDIR: write the fuzzers' seed corpus, one directory per target.

The payloads are the exchanges the integration tests drive (tests/integration/
test_http.py and test_dbquery.py): nginx and the C server's requests and
responses, pipelining, garbage, PostgreSQL simple and extended queries,
Redis commands and replies, a MySQL greeting and query. Input format: see
tests/fuzz/fuzz_sockets.c (a side byte, then chunks: header byte with bit 7 =
read, 16-bit little-endian length, payload).
"""
import os
import struct
import sys

READ, WRITE = 0x80, 0x00


def chunks(side, *parts):
    out = bytes([side])
    for direction, payload in parts:
        out += bytes([direction]) + struct.pack("<H", len(payload)) + payload
    return out


def server(*parts):
    return chunks(1, *parts)


def client(*parts):
    return chunks(0, *parts)


REQ = b"GET /api/v1/books/8412?sort=asc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: t\r\n\r\n"
POST = (b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
        b"hello")
RESP = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\n\r\nabc"
R404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
R100 = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

HTTP = {
    "server_get": server((READ, REQ), (WRITE, RESP)),
    "server_pipelined": server((READ, REQ + POST + REQ), (WRITE, RESP + R404 + RESP)),
    "server_garbage": server((READ, b"\x16\x03\x01\x00\xa5\x01\x00"), (WRITE, R404)),
    "server_half": server((READ, b"GET /x HT"), (WRITE, b"HTTP/1.1 400 Bad Request\r\n\r\n")),
    "server_head": server((READ, b"HEAD / HTTP/1.0\r\n\r\n"), (WRITE, RESP)),
    "server_continue": server((READ, POST), (WRITE, R100)),
    "server_upgrade": server((READ, REQ), (WRITE, b"HTTP/1.1 101 Switching Protocols\r\n\r\n")),
    "client_get": client((WRITE, REQ), (READ, RESP)),
    "client_long_target": client((WRITE, b"GET /" + b"a" * 600 + b" HTTP/1.1\r\n\r\n"), (READ, R404)),
}


def pg_msg(t, body):
    return t + struct.pack(">I", len(body) + 4) + body


STARTUP = struct.pack(">II", 41, 196608) + b"user\0bench\0database\0bench\0\0\0\0\0\0"
READY = pg_msg(b"Z", b"I")
PG = {
    "simple": client((WRITE, STARTUP), (READ, pg_msg(b"R", b"\0\0\0\0") + READY),
                     (WRITE, pg_msg(b"Q", b"SELECT abalance FROM pgbench_accounts WHERE aid = 1\0")),
                     (READ, pg_msg(b"T", b"\0\1abalance\0" + b"\0" * 18) + pg_msg(b"D", b"\0\1\0\0\0\1" + b"5")
                      + pg_msg(b"C", b"SELECT 1\0") + READY)),
    "extended": client((WRITE, pg_msg(b"P", b"s1\0UPDATE t SET x = $1\0\0\0") + pg_msg(b"B", b"\0s1\0" + b"\0" * 6)
                        + pg_msg(b"E", b"\0\0\0\0\0") + pg_msg(b"S", b"")),
                       (READ, pg_msg(b"1", b"") + pg_msg(b"2", b"") + pg_msg(b"C", b"UPDATE 1\0") + READY)),
    "error": client((WRITE, pg_msg(b"Q", b"SELEC 1\0")),
                    (READ, pg_msg(b"E", b"SERROR\0C42601\0\0") + READY)),
    "ssl": client((WRITE, struct.pack(">II", 8, 80877103)), (READ, b"N")),
}

REDIS = {
    "get_hit": client((WRITE, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), (READ, b"$5\r\nvalue\r\n")),
    "get_miss": client((WRITE, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), (READ, b"$-1\r\n")),
    "pipeline": client((WRITE, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
                        b"*1\r\n$4\r\nPING\r\n"), (READ, b"+OK\r\n:1\r\n+PONG\r\n")),
    "error": client((WRITE, b"*1\r\n$4\r\nNOPE\r\n"), (READ, b"-ERR unknown command 'NOPE'\r\n")),
    "array": client((WRITE, b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n"), (READ, b"*1\r\n$1\r\nk\r\n")),
}


def my_pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


GREETING = my_pkt(0, b"\x0a10.11.6-MariaDB\0" + b"\x01\0\0\0" + b"abcdefgh\0" + b"\0" * 20)
MYSQL = {
    "query": client((READ, GREETING), (WRITE, my_pkt(1, b"\x85\xa6" + b"\0" * 30)),
                    (READ, my_pkt(2, b"\0\0\0\2\0\0\0")),
                    (WRITE, my_pkt(0, b"\x03select count(*) from t")), (READ, my_pkt(1, b"\x01"))),
    "error": client((READ, GREETING), (WRITE, my_pkt(0, b"\x03selec 1")),
                    (READ, my_pkt(1, b"\xff\x28\x04#42000syntax"))),
    "ping": client((READ, GREETING), (WRITE, my_pkt(0, b"\x0e")), (READ, my_pkt(1, b"\0\0\0\2\0\0\0"))),
}

ROUTE = {
    "books": b"\0/api/v1/books/8412",
    "uuid": b"\0/u/123e4567-e89b-12d3-a456-426614174000/x",
    "query": b"\0/search?q=secret#frag",
    "truncated": b"\1/static/a/very/long/" + b"x" * 100,
    "template": b"\0/api/v1/users/alice",
    "absolute": b"\0http://host:80/p/9",
    "bytes": b"\0/caf\xc3\xa9/1",
}


def dns_name(name):
    return b"".join(bytes([len(l)]) + l for l in name.split(b".")) + b"\0"


def dns_rr(rtype, rdata):
    return b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata


def dns(flags, question, *answers, qtype=1):
    return (struct.pack(">HHHHHH", 0x1234, flags, 1, len(answers), 0, 0) + dns_name(question)
            + struct.pack(">HH", qtype, 1) + b"".join(answers))


DNS = {
    "a": dns(0x8180, b"api.openai.com", dns_rr(1, bytes([104, 18, 7, 192]))),
    "cname": dns(0x8180, b"api.anthropic.com", dns_rr(5, dns_name(b"cdn.example.net")),
                 dns_rr(1, bytes([160, 79, 104, 10])), dns_rr(28, bytes(15) + b"\1"), qtype=28),
    "nxdomain": dns(0x8183, b"nothing.example"),
    "query": dns(0x0100, b"example.com"),
}


def main():
    out = sys.argv[1]
    sets = {"http": HTTP, "pgsql": PG, "redis": REDIS, "mysql": MYSQL, "route": ROUTE, "dns": DNS,
            "classify": {**{"http_" + k: v for k, v in HTTP.items()},
                         **{"pg_" + k: v for k, v in PG.items()},
                         **{"redis_" + k: v for k, v in REDIS.items()},
                         **{"mysql_" + k: v for k, v in MYSQL.items()}}}
    for target, seeds in sets.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
