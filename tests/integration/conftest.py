"""Shared fixtures: the probe binary, fixtures, and running probe against
real processes. Every test runs as root on loopback only, bounded in time."""
import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PROBE_BUILD selects another build directory (e.g. build-san) for the binary and fixtures.
BUILD = os.path.join(ROOT, os.environ.get("PROBE_BUILD", "build"))
PROBE = os.path.join(BUILD, "probe")
FIXTURES = os.path.join(BUILD, "fixtures")


def fixture(name):
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} missing: run 'make fixtures'")
    return path


class Probe:
    """probe started in the background; waits for its ready line."""

    def __init__(self, *args, timeout=30):
        self.args = [PROBE, *args]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.stderr = ""
        fd = self.proc.stderr.fileno()
        deadline = time.time() + timeout
        # Raw reads: the text wrapper's buffer would hide lines from select().
        while "probe: ready" not in self.stderr:
            left = deadline - time.time()
            if left <= 0:
                self.proc.kill()
                raise AssertionError("probe not ready in time:\n" + self.stderr)
            r, _, _ = select.select([fd], [], [], left)
            chunk = os.read(fd, 65536) if r else b""
            if r and not chunk:
                out, err = self.proc.communicate()
                raise AssertionError(f"probe exited {self.proc.returncode} before ready:\n"
                                     f"{self.stderr}{err}\n{out}")
            self.stderr += chunk.decode(errors="replace")

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Stop it, return (exit code, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr += err
        return self.proc.returncode, out, self.stderr

    def wait(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr += err
        return self.proc.returncode, out, self.stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def summary(stdout):
    """The last JSON line of type summary."""
    for line in reversed(stdout.strip().splitlines()):
        obj = json.loads(line)
        if obj.get("type") == "summary":
            return obj
    raise AssertionError("no summary line in:\n" + stdout[-2000:])


@pytest.fixture
def probe_factory():
    started = []

    def start(*args, **kw):
        p = Probe(*args, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


def resp(*args):
    """A Redis command in RESP (bytes arguments)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_reply(f):
    """One RESP reply line from a socket file, a bulk string's body consumed."""
    line = f.readline()
    if line[:1] == b"$" and int(line[1:]) >= 0:
        f.read(int(line[1:]) + 2)
    return line


def bpf_links():
    """Every BPF link in the kernel, by id: {id: {"link_type", "prog_id", and
    for a uprobe_multi link "uprobe_cnt", "pid", "path"}}, from each link's
    fdinfo. Debian's bpftool 7.1 does not list uprobe_multi links at all, so
    the ids are walked here (BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID)."""
    import ctypes
    import platform
    nr_bpf = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
    if nr_bpf is None:
        pytest.skip(f"bpf syscall number unknown on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    LINK_GET_FD_BY_ID, LINK_GET_NEXT_ID = 30, 31
    links, cur = {}, 0
    while True:
        attr = (ctypes.c_uint32 * 16)(cur)        # start_id, next_id, open_flags
        if libc.syscall(nr_bpf, LINK_GET_NEXT_ID, attr, ctypes.sizeof(attr)) < 0:
            break                                 # ENOENT: no more
        cur = attr[1]
        attr = (ctypes.c_uint32 * 16)(cur)        # link_id
        fd = libc.syscall(nr_bpf, LINK_GET_FD_BY_ID, attr, ctypes.sizeof(attr))
        if fd < 0:
            continue                              # released meanwhile
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        finally:
            os.close(fd)
        links[cur] = {k.strip(): v.strip() for k, v in info.items()}
    return links
