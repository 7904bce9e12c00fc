"""Ring-buffer flood: wrk sends as many keep-alive requests as it can for a
bounded time to the C server fixture, which logs every response it writes;
the probe follows the server alone (so only the server side makes records)
and must account for every one of them: records received plus records
counted lost equal the responses the server wrote, exactly. The probe is
stopped (SIGSTOP) for part of the flood so that nothing drains the rings and
they overflow for certain: the drops must show up as counted losses."""
import json
import signal
import subprocess
import time

from conftest import fixture, run, summary

DURATION_S = 4          # wrk runs this long; ~20-60k requests a second here
STALL = (1.0, 2.5)      # the probe is stopped from..to (s after wrk starts)
CONNS = 16


def test_every_request_received_or_counted_lost(probe_factory, tmp_path):
    log = str(tmp_path / "server.log")
    srv = subprocess.Popen([fixture("http_server"), "--log", log], stdout=subprocess.PIPE,
                           text=True)
    try:
        line = srv.stdout.readline()
        assert line.startswith("ready "), line
        port = int(line.split()[1])
        cfg = tmp_path / "http-only.json"
        cfg.write_text(json.dumps({"signals": {
            "syscalls": {"enabled": False}, "memgrowth": {"enabled": False},
            "alloc": {"enabled": False}, "conn": {"enabled": False}}}))
        pr = probe_factory("--pid", str(srv.pid), "--json", "-i", "1", "--config", str(cfg))
        wrk = subprocess.Popen(["wrk", "-t1", f"-c{CONNS}", f"-d{DURATION_S}s",
                                f"http://127.0.0.1:{port}/status/200"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(STALL[0])
        pr.proc.send_signal(signal.SIGSTOP)
        time.sleep(STALL[1] - STALL[0])
        pr.proc.send_signal(signal.SIGCONT)
        wout, werr = wrk.communicate(timeout=DURATION_S + 60)
        assert wrk.returncode == 0, werr
        time.sleep(1.5)         # the last records drain (100 ms ticks)
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        srv.kill()
        srv.communicate()
    summ = summary(out)

    with open(log) as f:
        served = sum(1 for _ in f)
    assert 1000 < served, served
    rows = [r for r in summ["http"]["server"] if r["comm"] == "http_server"]
    received = sum(r["requests"] for r in rows)
    stats = summ["http"]["stats"]
    health = {h["signal"]: h for h in summ["probe"]}["http"]
    lost = health["lost"]
    print(f"\nflood: {served} responses written in {DURATION_S} s, {received} records received, "
          f"{lost} counted lost (ring-buffer drops {stats.get('ringbuf_drops', 0)}), "
          f"unanswered {stats.get('unanswered', 0)}; wrk: "
          + " ".join(l.strip() for l in wout.splitlines() if "requests in" in l))
    assert stats.get("ringbuf_drops", 0) > 0, "the rings never overflowed: the test proved nothing"
    assert received + lost == served, (served, received, lost, stats)
    # what health counts as received is what the rows hold
    assert health["events"] == received, (health, received)
