"""Alert rules and delivery against real receivers on 127.0.0.1: a real
Alertmanager (Debian prometheus-alertmanager), and an HTTP receiver in the
test standing in for Slack, PagerDuty and a generic webhook. The app is
alert_app.py, whose slow route can be made fast; the test config shortens
store slots, windows, `for_s` and the evaluation interval so an incident
fires and resolves within seconds."""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import PROBE, ROOT, run, summary, free_port

APP = os.path.join(ROOT, "tests", "fixtures", "alert_app.py")
AM = shutil.which("prometheus-alertmanager")
AMTOOL = shutil.which("amtool")
ROUTE = "/api/v1/toc/generate"
OTHER_RULES = ["route_errors", "db_connect_failures", "query_slow", "memory_leak",
               "syscall_errors", "probe_event_loss"]




def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


class App:
    """alert_app.py plus a client thread: bounded in count and time."""

    def __init__(self, slow_ms=400):
        self.proc = subprocess.Popen(["/usr/bin/python3", APP, str(slow_ms)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "ready", line
        self.port = int(line[1])
        self.pid = self.proc.pid
        self.stop_ev = threading.Event()
        self.sent = 0
        self.thread = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def traffic(self, max_requests=3000, max_s=120):
        def loop():
            deadline = time.time() + max_s
            while (not self.stop_ev.is_set() and self.sent < max_requests
                   and time.time() < deadline):
                try:
                    get(self.url(ROUTE))
                except OSError:
                    pass
                self.sent += 1
                time.sleep(0.05)
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_ev.set()
        if self.thread:
            self.thread.join(10)
        self.proc.kill()
        self.proc.wait()


class Receiver:
    """Records every POST: (path, parsed body, time). delay_s makes it slow."""

    def __init__(self, delay_s=0.0):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                with outer.lock:
                    outer.posts.append((self.path, json.loads(body), time.time(),
                                        self.headers.get("Content-Type")))
                self.send_response(200 if self.path != "/pd" else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.delay_s = delay_s
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path):
        with self.lock:
            return [b for p, b, _, _ in self.posts if p == path]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def write_config(tmp_path, sinks, rules=None, **alerts):
    cfg = {
        # 1 s slots so a 4 s window forgets the slow requests quickly
        "store": {"slot_s": 1, "slots": 60},
        "signals": {"syscalls": {"enabled": False}, "alloc": {"enabled": False}},
        "alerts": {
            "eval_s": 1, "keepalive_s": 5, "timeout_s": 1, "retries": 1, "backoff_s": 0.2,
            "sinks": sinks,
            "rules": rules if rules is not None else [
                {"name": "route_slow", "above": 0.2, "clear": 0.1, "min_count": 3,
                 "for_s": 2, "window_s": 4, "keep_firing_s": 3, "repeat_s": 0,
                 "select": {"route": "/api/v1/toc/*"}, "labels": {"team": "test"}},
            ] + [{"name": n, "enabled": False} for n in OTHER_RULES],
        },
    }
    cfg["alerts"].update(alerts)
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def alerts_line(stdout):
    for line in reversed(stdout.strip().splitlines()):
        obj = json.loads(line)
        if obj.get("type") == "alerts":
            return obj
    raise AssertionError("no alerts line in:\n" + stdout[-2000:])


def assert_no_loss(stdout):
    summ = summary(stdout)
    lost = {e["signal"]: e["lost"] for e in summ["probe"]}
    assert lost and all(v == 0 for v in lost.values()), lost


@pytest.fixture
def alertmanager(tmp_path):
    if not AM or not AMTOOL:
        pytest.fail("prometheus-alertmanager / amtool missing: run scripts/setup.sh --test")
    port = free_port()
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n")
    proc = subprocess.Popen([AM, f"--config.file={tmp_path / 'am.yml'}",
                             f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return get(url + "/-/ready", 1)[0] == 200
        except OSError:
            return False
    try:
        wait_for(ready, 30, "alertmanager ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def am_alerts(url):
    r = run([AMTOOL, f"--alertmanager.url={url}", "-o", "json", "alert", "query"], timeout=20)
    assert r.returncode == 0, r.stderr
    return [a for a in json.loads(r.stdout or "[]")
            if a["labels"].get("alertname") == "route_slow"]


def test_alertmanager_fires_and_resolves(probe_factory, alertmanager, tmp_path):
    app = App(400)
    try:
        cfg = write_config(tmp_path, [])
        pr = probe_factory("--pid", str(app.pid), "--config", cfg, "--json",
                           "--alertmanager", alertmanager)
        app.traffic()       # after attach: a request already in flight would be an orphan
        found = wait_for(lambda: am_alerts(alertmanager), 40, "the alert in Alertmanager")
        assert len(found) == 1, found
        labels = found[0]["labels"]
        assert labels["route"] == ROUTE
        assert labels["method"] == "GET"
        assert labels["comm"] == "python3"
        assert labels["severity"] == "warning"
        assert labels["team"] == "test"
        assert labels["instance"] == socket.gethostname()
        assert "status_class" not in labels
        summ_text = found[0]["annotations"]["summary"]
        assert re.match(r"p95 4\d\d ms on GET /api/v1/toc/generate \(threshold 200 ms, 4 s\) "
                        r"in python3", summ_text), summ_text
        assert found[0]["status"]["state"] == "active"

        get(app.url("/control/fast"))
        wait_for(lambda: not am_alerts(alertmanager), 40, "the alert to resolve")
        code, out, err = pr.stop()
        assert code == 0, err
        st = alerts_line(out)
        am = st["sinks"]["alertmanager#0"]
        assert st["triggered"] == 1 and st["resolved"] == 1, st
        assert am["sent"] >= 2 and am["failed"] == 0 and am["dropped"] == 0, st
        assert alertmanager not in err        # URLs are never logged
        assert_no_loss(out)
    finally:
        app.close()


def test_slack_pagerduty_webhook_bodies(probe_factory, tmp_path):
    app = App(400)
    rcv = Receiver()
    key_file = tmp_path / "pd.key"
    key_file.write_text("s3cr3t-routing-key\n")
    try:
        cfg = write_config(tmp_path, [
            {"type": "slack", "url": rcv.url("/slack")},
            {"type": "pagerduty", "url": rcv.url("/pd"), "routing_key_file": str(key_file)},
            {"type": "webhook", "url": rcv.url("/hook")},
            {"type": "stdout"},
        ])
        pr = probe_factory("--pid", str(app.pid), "--config", cfg, "--json")
        app.traffic()
        wait_for(lambda: rcv.bodies("/pd"), 40, "the PagerDuty trigger")
        time.sleep(6)       # six more evaluations while still slow: no second trigger
        assert len(rcv.bodies("/pd")) == 1
        assert len(rcv.bodies("/slack")) == 1
        assert len(rcv.bodies("/hook")) == 1
        get(app.url("/control/fast"))
        wait_for(lambda: len(rcv.bodies("/pd")) == 2, 40, "the PagerDuty resolve")
        time.sleep(2)
        code, out, err = pr.stop()
        assert code == 0, err

        trig, res = rcv.bodies("/pd")
        assert set(trig) == {"routing_key", "event_action", "dedup_key", "payload"}
        assert trig["event_action"] == "trigger"
        assert trig["routing_key"] == "s3cr3t-routing-key"
        assert re.fullmatch(r"probe-route_slow-[0-9a-f]{16}", trig["dedup_key"])
        p = trig["payload"]
        assert set(p) == {"summary", "source", "severity", "timestamp", "component", "class",
                          "custom_details"}
        assert p["severity"] == "warning" and p["source"] == socket.gethostname()
        assert p["summary"].startswith("route_slow: p95 ")
        assert p["custom_details"]["route"] == ROUTE
        assert res == {"routing_key": "s3cr3t-routing-key", "event_action": "resolve",
                       "dedup_key": trig["dedup_key"]}

        s1, s2 = rcv.bodies("/slack")
        assert set(s1) == {"text"} and set(s2) == {"text"}
        assert re.match(r"\[FIRING warning\] route_slow: p95 4\d\d ms on GET "
                        r"/api/v1/toc/generate \(threshold 200 ms, 4 s\) in python3", s1["text"])
        assert s2["text"].startswith("[RESOLVED warning] route_slow: ")

        h1, h2 = rcv.bodies("/hook")
        keys = {"status", "repeat", "rule", "severity", "summary", "value", "value_text",
                "threshold", "threshold_text", "labels", "dedup_key", "host", "startsAt"}
        assert set(h1) == keys and set(h2) == keys | {"endsAt"}
        assert (h1["status"], h2["status"]) == ("firing", "resolved")
        assert h1["dedup_key"] == h2["dedup_key"] == trig["dedup_key"]
        assert h1["labels"] == {"alertname": "route_slow", "severity": "warning",
                                "comm": "python3", "exe": h1["labels"]["exe"], "method": "GET",
                                "route": ROUTE, "team": "test"}
        assert h1["value"] > 0.2 and h1["threshold"] == 0.2
        assert all(ct == "application/json" for _, _, _, ct in rcv.posts)

        lines = [json.loads(l) for l in out.splitlines() if '"type":"alert"' in l]
        assert [l["status"] for l in lines] == ["firing", "resolved"]
        assert "s3cr3t" not in err and f"127.0.0.1:{rcv.port}" not in err
        st = alerts_line(out)
        for name in ("slack#0", "pagerduty#1", "webhook#2"):
            assert st["sinks"][name]["sent"] == 2 and st["sinks"][name]["dropped"] == 0, st
        assert_no_loss(out)
    finally:
        app.close()
        rcv.close()


def test_receiver_down_or_slow_never_stalls_the_probe(probe_factory, tmp_path):
    """A sink nobody listens on and one slower than the timeout, fed a
    notification per live signal every second through a queue of 4."""
    app = App(0)
    slow = Receiver(delay_s=3)
    down = f"http://127.0.0.1:{free_port()}/hook"
    try:
        cfg = write_config(tmp_path, [{"type": "webhook", "url": down, "name": "down"},
                                      {"type": "webhook", "url": slow.url("/hook"),
                                       "name": "slow"}],
                           rules=[{"name": "busy", "family": "probe_signal",
                                   "value": "gauge:live", "above": -1, "for_s": 0,
                                   "repeat_s": 1}]
                           + [{"name": n, "enabled": False}
                              for n in ["route_slow"] + OTHER_RULES],
                           queue=4, retries=2, backoff_s=0.1)
        pr = probe_factory("--pid", str(app.pid), "--config", cfg, "--json", "-i", "1", "-v")
        app.traffic()
        time.sleep(10)
        assert pr.proc.poll() is None
        t0 = time.time()
        code, out, err = pr.stop()
        assert code == 0, err
        assert time.time() - t0 < 10        # shutdown is bounded too
        # the queue's drain, the slow transfer in flight included, ends
        # within alerts.timeout_s (1 s) of the stop, plus curl's ~1 s tick
        m = re.search(r"^probe: exit \+([\d.]+) ms: alerts stopped$", err, re.M)
        assert m and float(m.group(1)) < 2200, m and m.group(0)
        live = [l for l in out.splitlines() if '"type":"interval"' in l]
        assert len(live) >= 8, len(live)    # the view kept its 1 s pace
        st = alerts_line(out)
        assert st["queue_max_depth"] <= 4 == st["queue_bound"], st
        d, s = st["sinks"]["down"], st["sinks"]["slow"]
        assert d["dropped"] > 0 and s["dropped"] > 0, st
        assert d["failed"] > 0 and d["retries"] > 0 and d["sent"] == 0, st
        assert s["sent"] == 0, st           # every attempt timed out
        assert "gave up after 3 attempt(s)" in err
        assert down not in err and slow.url("/hook") not in err     # neither URL is logged
        assert_no_loss(out)
    finally:
        app.close()
        slow.close()


def test_bad_rule_is_rejected_naming_file_rule_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"alerts": {"rules": [
        {"name": "route_slow", "above": 1},
        {"name": "mine", "family": "http_server", "value": "ratio:errors_5xx/reqs",
         "above": 5}]}}))
    r = run([PROBE, "--config", str(path)], timeout=30)
    assert r.returncode == 78, r
    assert (f"probe: config: {path}: alerts.rules[1] \"mine\": value: family http_server "
            f"declares no counter \"reqs\"") in r.stderr


def readme_example():
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- alerts example -->\n```json\n(.*?)```", text, re.S)
    assert m, "README has no alerts example"
    return m.group(1)


def test_readme_example_config_loads(tmp_path):
    (tmp_path / "pagerduty.key").write_text("example-key\n")
    (tmp_path / "slack.url").write_text("https://hooks.slack.com/services/T0/B0/x\n")
    path = tmp_path / "example.json"
    path.write_text(readme_example())
    # --check parses the whole config before probing the kernel
    r = run([PROBE, "--config", str(path), "--check", "--json"], timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "example-key" not in r.stdout + r.stderr
