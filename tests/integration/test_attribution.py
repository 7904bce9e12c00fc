"""Container and pod labels on the series of a workload in a cgroup made by
the test.

The test makes a cgroup v2 directory shaped like a Kubernetes pod's
container under containerd's systemd driver
(kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope, below a
parent of its own under the cgroup2 mount, /sys/fs/cgroup/unified on these
hybrid hosts), starts the test HTTP server in it, and serves a pod list
naming that pod uid from a local HTTP server (PROBE_K8S_PODS_URL,
NODE_NAME). probe follows the server: its HTTP requests (resolved from the
cgroup id each record carries) and its syscalls (counted per pid in the
kernel, resolved by pid) must carry the container id parsed from the path,
the pod's name and namespace and the node; a process outside the cgroup
carries none. With the pod list server down, the series still flow with
the container id, without pod names, and the failure is counted.
"""
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import PROBE, ROOT, fixture, summary

PY = "/usr/bin/python3"
FIXSRC = os.path.join(ROOT, "tests", "fixtures")
NODE = "node-test-1"


def cgroup2_root():
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.procs")) and \
                os.path.exists(os.path.join(root, "cgroup.subtree_control")):
            return root
    pytest.skip("no cgroup2 mount")


@pytest.fixture
def container():
    """A fresh cgroup named like a containerd container of a pod; removed after."""
    root = cgroup2_root()
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    uid = str(uuid.uuid4())
    top = os.path.join(root, f"probe-test-{os.getpid()}")
    pod = os.path.join(top, f"kubepods-besteffort-pod{uid.replace('-', '_')}.slice")
    leaf = os.path.join(pod, f"cri-containerd-{cid}.scope")
    os.makedirs(leaf)
    try:
        yield {"path": leaf, "cid": cid, "uid": uid, "id": os.stat(leaf).st_ino}
    finally:
        for d in (leaf, pod, top):
            # processes left in it would keep it busy: move them out first
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        with open(os.path.join(root, "cgroup.procs"), "w") as out:
                            out.write(pid)
            except OSError:
                pass
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


def pod_list(uid):
    """A pod list in the kubelet's shape: this pod on our node, another elsewhere."""
    return json.dumps({
        "kind": "PodList", "apiVersion": "v1", "metadata": {},
        "items": [
            {"metadata": {"name": "web-5f7c9d-abcde", "namespace": "shop", "uid": uid},
             "spec": {"nodeName": NODE, "containers": [{"name": "web", "image": "web:1"}]},
             "status": {"phase": "Running"}},
            {"metadata": {"name": "elsewhere", "namespace": "shop", "uid": str(uuid.uuid4())},
             "spec": {"nodeName": "node-other"}},
        ],
    }).encode()


class PodServer:
    """The pod list on 127.0.0.1, counting requests."""

    def __init__(self, body):
        server = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_in(cgroup_dir, args):
    """Start args with its first process already in cgroup_dir (before exec)."""
    procs = os.path.join(cgroup_dir, "cgroup.procs")
    return subprocess.Popen(["/bin/sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *args],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ready_port(p):
    line = p.stdout.readline()
    assert line.startswith("ready"), f"server did not start: {line!r} {p.stderr.read()}"
    return int(line.split()[1])


def requests(port, n):
    cli = subprocess.run([PY, os.path.join(FIXSRC, "http_client.py"), str(port), "keepalive",
                          str(n), "/work/0", "/status/404"], capture_output=True, text=True,
                         timeout=60)
    assert cli.returncode == 0, cli.stderr


def run_probe(probe_factory, monkeypatch, url, pids, seconds=6):
    monkeypatch.setenv("PROBE_K8S_PODS_URL", url)
    monkeypatch.setenv("NODE_NAME", NODE)
    return probe_factory("--pid", ",".join(str(p) for p in pids), "-d", str(seconds), "--json",
                         "-i", "1")


def attrib(row):
    return {k: row[k] for k in ("container_id", "k8s_pod_name", "k8s_namespace_name",
                                "k8s_node_name") if k in row}


def test_labels_from_cgroup_and_pod_list(container, probe_factory, monkeypatch):
    pods = PodServer(pod_list(container["uid"]))
    inside = start_in(container["path"], [fixture("http_server")])
    outside = subprocess.Popen([fixture("http_server")], stdout=subprocess.PIPE,
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port_in, port_out = ready_port(inside), ready_port(outside)
        with open(f"/proc/{inside.pid}/cgroup") as f:
            assert container["path"].split("unified", 1)[-1] in f.read()
        pr = run_probe(probe_factory, monkeypatch, f"http://127.0.0.1:{pods.port}/pods",
                       [inside.pid, outside.pid])
        requests(port_in, 30)
        requests(port_out, 30)
        rc, out, err = pr.wait(timeout=60)
    finally:
        for p in (inside, outside):
            p.kill()
            p.communicate()
        pods.close()
    assert rc == 0, err
    s = summary(out)
    want = {"container_id": container["cid"], "k8s_pod_name": "web-5f7c9d-abcde",
            "k8s_namespace_name": "shop", "k8s_node_name": NODE}

    served = [r for r in s["http"]["server"] if r["comm"] == "http_server"]
    mine = [r for r in served if r.get("container_id") == container["cid"]]
    assert {r["route"] for r in mine} >= {"/work/{id}", "/status/{id}"}, served
    for r in mine:
        assert attrib(r) == want, r
    assert sum(r["requests"] for r in mine) == 30
    # the server outside the cgroup: no container, but the node (pod names are on)
    other = [r for r in served if r not in mine]
    assert other and all(attrib(r) == {"k8s_node_name": NODE} for r in other), other

    sc = [r for r in s["syscalls"] if r["pid"] == inside.pid]
    assert sc, s["syscalls"][:5]
    for r in sc:
        assert attrib(r) == want, r
    assert any(r["syscall"] in ("read", "recvfrom") for r in sc)
    sc_out = [r for r in s["syscalls"] if r["pid"] == outside.pid]
    assert sc_out and all("container_id" not in r for r in sc_out)

    assert pods.requests >= 1
    assert "probe: pod list: " in err and "failures: transport 0," in err, err


def test_pod_list_down(container, probe_factory, monkeypatch):
    inside = start_in(container["path"], [fixture("http_server")])
    try:
        port = ready_port(inside)
        pr = run_probe(probe_factory, monkeypatch, f"http://127.0.0.1:{closed_port()}/pods",
                       [inside.pid], seconds=5)
        requests(port, 20)
        rc, out, err = pr.wait(timeout=60)
    finally:
        inside.kill()
        inside.communicate()
    assert rc == 0, err
    s = summary(out)
    mine = [r for r in s["http"]["server"] if r.get("container_id") == container["cid"]]
    assert sum(r["requests"] for r in mine) == 20
    for r in mine:
        assert attrib(r) == {"container_id": container["cid"], "k8s_node_name": NODE}, r
    # the failure is counted, not silent
    line = next(l for l in err.splitlines() if l.startswith("probe: pod list: "))
    transport = int(line.split("failures: transport ", 1)[1].split(",", 1)[0])
    assert transport >= 1, line
    assert "0 refreshes" in line, line


def test_no_cluster_no_pod_labels(container, probe_factory, monkeypatch):
    """Outside a cluster nothing is asked: container ids only, no node name."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    inside = start_in(container["path"], [fixture("http_server")])
    try:
        port = ready_port(inside)
        monkeypatch.delenv("PROBE_K8S_PODS_URL", raising=False)
        monkeypatch.delenv("NODE_NAME", raising=False)
        pr = probe_factory("--pid", str(inside.pid), "-d", "4", "--json")
        requests(port, 10)
        rc, out, err = pr.wait(timeout=60)
    finally:
        inside.kill()
        inside.communicate()
    assert rc == 0, err
    mine = [r for r in summary(out)["http"]["server"] if r["comm"] == "http_server"]
    assert mine and all(attrib(r) == {"container_id": container["cid"]} for r in mine), mine
    assert "probe: pod list:" not in err
