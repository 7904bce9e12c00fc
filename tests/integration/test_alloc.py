"""Allocator tracing (tier 3) against real processes with known allocation
patterns (tests/fixtures/alloc_leak.c, alloc_spawn.c): the leaking function
must come out on top and be flagged within 60 s, with and without frame
pointers; steady allocate-and-free must never be flagged; a target that
exits or a pid that is reused must leave no stale rows and no crash."""
import json
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import PROBE, bpf_links, fixture, run, summary

RATE = 65536          # bytes leaked per second by the fixtures
FLAG_WITHIN_S = 60


def start(name, mode, *args, rate=RATE):
    p = subprocess.Popen([fixture(name), mode, str(rate), *map(str, args), "-w"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready"), line
    return p


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Lines:
    """JSON lines from a running probe's stdout, read as they come."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.fd = proc.stdout.fileno()

    def next(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def rest(self):
        return self.buf.decode()


def start_probe(probe_factory, pids, *extra):
    pr = probe_factory("--pid", ",".join(str(p) for p in pids), "--json", "--leaks", *extra)
    for p in pids:
        assert f"tracing pid {p}" in pr.stderr, pr.stderr
    return pr


def suspects(obj, pid, fn=None):
    return [s for s in obj.get("alloc", {}).get("suspects", [])
            if s["pid"] == pid and (fn is None or frame_fn(s["site"]) == fn)]


def sites(obj, pid, instance=None):
    return [s for s in obj.get("alloc", {}).get("sites", [])
            if s["pid"] == pid and (instance is None or s["instance"] == instance)]


def frame_fn(frame):
    return frame.split("+", 1)[0]


def test_leak_flagged_and_named_steady_not(probe_factory):
    leak_fp = start("alloc_leak", "malloc")
    leak_nofp = start("alloc_leak-nofp", "malloc")
    steady = start("alloc_leak", "steady")
    procs = [leak_fp, leak_nofp, steady]
    try:
        pr = start_probe(probe_factory, [p.pid for p in procs])
        t0 = time.time()
        for p in procs:
            p.send_signal(signal.SIGUSR1)
        lines = Lines(pr.proc)
        flagged = {}
        steady_flags = []
        # until both leaks are flagged, and at least 45 s so the steady one had its chance
        while time.time() - t0 < FLAG_WITHIN_S + 5:
            obj = lines.next(t0 + FLAG_WITHIN_S + 5)
            if obj is None:
                break
            for p in (leak_fp, leak_nofp):
                if p.pid not in flagged and suspects(obj, p.pid, "leak_by_malloc"):
                    flagged[p.pid] = time.time() - t0
            steady_flags += suspects(obj, steady.pid)
            if len(flagged) == 2 and time.time() - t0 >= 45:
                break
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        stop(procs)
    assert leak_fp.pid in flagged, f"fp leak not flagged within {FLAG_WITHIN_S}s:\n{err[-3000:]}"
    assert leak_nofp.pid in flagged, f"nofp leak not flagged within {FLAG_WITHIN_S}s"
    assert max(flagged.values()) <= FLAG_WITHIN_S
    assert not steady_flags, f"steady allocation flagged: {steady_flags}"

    summ = summary(out)
    alloc = summ["alloc"]
    targets = {t["pid"]: t for t in alloc["targets"]}
    for p in procs:
        t = targets[p.pid]
        assert "malloc" in t["probes"] and "free" in t["probes"]
        assert t["calls"] > 0
    for p in (leak_fp, leak_nofp):
        rows = sites(summ, p.pid)
        top = rows[0]
        # the leaking function holds the most outstanding bytes, and is the suspect
        assert frame_fn(top["site"]) == "leak_by_malloc", rows[:3]
        assert top["suspect"] is True
        assert "alloc_leak.c:" in top["site"]
        # growth near the real rate (paced by the clock in the fixture)
        assert 0.6 * RATE <= top["growth_bps"] <= 1.4 * RATE, top
        assert top["old_bytes"] > 0 and top["oldest_s"] >= 10
        sus = suspects(summ, p.pid)
        assert [frame_fn(s["site"]) for s in sus][0] == "leak_by_malloc"
        assert all(frame_fn(s["site"]) != "churn" for s in sus)
        # the top stack starts at the leaking function
        assert top["stacks"], top
        assert frame_fn(top["stacks"][0]["frames"][0]) == "leak_by_malloc"
    # with frame pointers the stack goes on to main
    fp_top = sites(summ, leak_fp.pid)[0]
    assert any(frame_fn(f) == "main" for f in fp_top["stacks"][0]["frames"]), fp_top["stacks"]
    # the steady process: outstanding bytes bounded, nothing suspect
    assert not suspects(summ, steady.pid)
    churn = [s for s in sites(summ, steady.pid) if frame_fn(s["site"]) == "churn"]
    assert churn and sum(s["allocs"] for s in churn) > 10000
    assert sum(s["bytes"] for s in churn) < 64 * 1024


def test_realloc_and_calloc_leaks(probe_factory):
    by_realloc = start("alloc_leak", "realloc")
    by_calloc = start("alloc_leak-nofp", "calloc")
    procs = [by_realloc, by_calloc]
    try:
        pr = start_probe(probe_factory, [p.pid for p in procs])
        t0 = time.time()
        for p in procs:
            p.send_signal(signal.SIGUSR1)
        lines = Lines(pr.proc)
        flagged = {}
        want = {by_realloc.pid: "leak_by_realloc", by_calloc.pid: "leak_by_calloc"}
        while len(flagged) < 2:
            obj = lines.next(t0 + FLAG_WITHIN_S)
            if obj is None:
                break
            for p in procs:
                if p.pid not in flagged and suspects(obj, p.pid, want[p.pid]):
                    flagged[p.pid] = time.time() - t0
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        stop(procs)
    assert len(flagged) == 2, f"flagged: {flagged}\n{err[-3000:]}"
    summ = summary(out)
    top_r = sites(summ, by_realloc.pid)[0]
    assert frame_fn(top_r["site"]) == "leak_by_realloc", sites(summ, by_realloc.pid)[:3]
    # one block that keeps moving: outstanding is the whole buffer, one allocation
    assert top_r["count"] == 1 and top_r["bytes"] > 10 * RATE
    assert top_r["suspect"], top_r
    top_c = sites(summ, by_calloc.pid)[0]
    assert frame_fn(top_c["site"]) == "leak_by_calloc", sites(summ, by_calloc.pid)[:3]
    assert top_c["suspect"] and top_c["count"] > 100, top_c


def alloc_links():
    """Links of this signal's programs (other tests may run beside this one),
    by id: how many probe sites each holds (a perf-event uprobe 1, a
    uprobe_multi link all of its sites)."""
    progs = json.loads(run(["bpftool", "-j", "prog", "show"]).stdout or "[]")
    mine = {str(p["id"]) for p in progs
            if p.get("name", "").startswith(("alloc_enter", "alloc_exit", "free_enter",
                                             "calib_hit"))}
    return {i: int(l.get("uprobe_cnt", 1)) for i, l in bpf_links().items()
            if l.get("prog_id") in mine}


def test_target_exits_while_traced(probe_factory):
    before = alloc_links()
    leak = start("alloc_leak", "malloc", 6)      # exits by itself after 6 s
    pr = start_probe(probe_factory, [leak.pid])
    now = alloc_links()
    # entry + return probes, free, however many links hold them
    assert sum(n for i, n in now.items() if i not in before) >= 10, now
    leak.send_signal(signal.SIGUSR1)
    assert leak.wait(timeout=30) == 0
    code, out, err = pr.wait(timeout=30)        # stops by itself: its target exited
    assert code == 0, err
    assert "every followed process has exited" in err
    summ = summary(out)
    t = [t for t in summ["alloc"]["targets"] if t["pid"] == leak.pid][0]
    assert t["exited"] is True and t["attached"] is False
    rows = sites(summ, leak.pid)
    assert frame_fn(rows[0]["site"]) == "leak_by_malloc"
    assert rows[0]["bytes"] >= 3 * RATE        # what it held when it exited
    # a process that is gone is no longer a suspect (nothing to alert on)
    assert not suspects(summ, leak.pid)
    assert not (set(alloc_links()) - set(before)), "uprobe links left behind"


def test_reused_pid_is_a_new_instance(probe_factory):
    spawn = subprocess.Popen(
        [fixture("alloc_spawn"), "12",
         "--", fixture("alloc_leak"), "malloc", str(RATE),
         "--", fixture("alloc_leak"), "calloc", str(RATE), "14"],
        stdout=subprocess.PIPE, text=True)
    try:
        pr = probe_factory("--pid", str(spawn.pid), "--json", "--leaks")
        # the children share stdout: pick out the spawner's own lines
        a = b_line = None
        for line in spawn.stdout:
            if line.startswith("a pid="):
                a = int(line.split("=")[1])
            elif line.startswith("b pid="):
                b_line = line
                break
        assert a and b_line, "alloc_spawn did not report both children"
        b = int(b_line.split()[1].split("=")[1])
        reused = b_line.strip().endswith("reused=1")
        spawn.stdout.read()
        assert spawn.wait(timeout=60) == 0
        code, out, err = pr.wait(timeout=30)
        assert code == 0, err
    finally:
        if spawn.poll() is None:
            spawn.terminate()       # it stops its child too
            spawn.wait(timeout=30)
    if not reused:
        pytest.skip("the kernel handed the pid to another process first")
    assert a == b
    summ = summary(out)
    inst = [t for t in summ["alloc"]["targets"] if t["pid"] == a]
    by_inst = {}
    for t in inst:
        by_inst.setdefault(t["instance"].split(".")[0], []).append(t)
    assert len(by_inst) == 2, inst            # two process instances under one pid
    rows = sites(summ, a)
    fns = {}
    for r in rows:
        fns.setdefault(r["instance"].split(".")[0], set()).add(frame_fn(r["site"]))
    first, second = sorted(fns, key=int)
    assert "leak_by_malloc" in fns[first] and "leak_by_calloc" not in fns[first]
    assert "leak_by_calloc" in fns[second] and "leak_by_malloc" not in fns[second]
    # the second instance's top site is its own leak
    top = [r for r in rows if r["instance"].split(".")[0] == second][0]
    assert frame_fn(top["site"]) == "leak_by_calloc"


def test_check_lists_alloc():
    res = run([PROBE, "--check", "--json", "--pid", str(os.getpid())])
    assert res.returncode == 0, res.stderr
    sig = {s["signal"]: s for s in json.loads(res.stdout)["signals"]}
    assert sig["alloc"]["state"] == "live"
    assert "uprobe" in sig["alloc"]["hook"]


def write_config(tmp_path, alloc, memgrowth=None):
    cfg = {"signals": {"alloc": alloc}}
    if memgrowth:
        cfg["signals"]["memgrowth"] = memgrowth
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(cfg))
    return str(path)


# tier 1 judging a 10 s horizon, so the hand-off happens in a test's time
FAST_TIER1 = {"horizon_s": 10, "min_rate_bytes_s": 8192, "min_growth_bytes": 1 << 20}
FAST_TIER3 = {"min_age_s": 3, "horizon_s": 8, "scan_s": 1, "max_targets": 4}


def wait_stderr(pr, text, timeout):
    """Read the running probe's stderr until text shows up (or time is up)."""
    deadline = time.time() + timeout
    fd = pr.proc.stderr.fileno()
    while text not in pr.stderr and time.time() < deadline:
        if select.select([fd], [], [], 1)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            pr.stderr += chunk.decode(errors="replace")
    return text in pr.stderr


def test_host_wide_auto_enable_on_tier1_suspect(probe_factory, tmp_path):
    # long enough for the leak to be judged while traced, even on a loaded machine
    cfg = write_config(tmp_path, dict(FAST_TIER3, auto_enable_s=25, budget_pct=40), FAST_TIER1)
    # fast enough for tier 1 to see resident memory grow within its horizon
    leak = start("alloc_leak", "malloc", rate=1 << 20)
    try:
        pr = probe_factory("--json", "--config", cfg, "-i", "3600")  # stdout read at the end only
        leak.send_signal(signal.SIGUSR1)
        assert wait_stderr(pr, f"tracing pid {leak.pid} (alloc_leak) (tier-1 memory-growth suspect)", 90), \
            pr.stderr[-3000:]
        # bounded: it stops by itself after auto_enable_s
        assert wait_stderr(pr, f"pid {leak.pid} (alloc_leak): stopped tracing: "
                               "auto-enable time is up", 40), pr.stderr[-3000:]
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        stop([leak])
    summ = summary(out)
    t = [t for t in summ["alloc"]["targets"] if t["pid"] == leak.pid][0]
    assert t["auto"] is True and t["attached"] is False and t["exited"] is False
    rows = sites(summ, leak.pid)
    assert frame_fn(rows[0]["site"]) == "leak_by_malloc", rows[:3]
    # the leak was judged while traced
    assert rows[0]["suspect"] is True, rows[0]


def test_auto_enable_respects_the_budget(probe_factory, tmp_path):
    cfg = write_config(tmp_path, dict(FAST_TIER3, auto_enable_s=60, budget_pct=0.01),
                       FAST_TIER1)
    leak = start("alloc_leak", "malloc", rate=1 << 20)
    try:
        pr = probe_factory("--json", "--config", cfg, "-i", "3600")  # stdout read at the end only
        leak.send_signal(signal.SIGUSR1)
        assert wait_stderr(pr, f"tracing pid {leak.pid} (alloc_leak) (tier-1 memory-growth suspect)", 90), \
            pr.stderr[-3000:]
        t_on = time.time()
        assert wait_stderr(pr, f"pid {leak.pid} (alloc_leak): stopped tracing: estimated", 20), \
            pr.stderr[-3000:]
        assert time.time() - t_on < 10     # well before auto_enable_s
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        stop([leak])
    assert "over the budget of 0.01%" in err
    t = [t for t in summary(out)["alloc"]["targets"] if t["pid"] == leak.pid][0]
    assert t["attached"] is False and t["exited"] is False


def test_other_mount_namespace(probe_factory, tmp_path):
    """A process whose executable exists only in its own mount namespace: the
    probe finds its libc and symbols through /proc/PID/root and map_files."""
    hidden = tmp_path / "ns"
    hidden.mkdir()
    script = (f"mount -t tmpfs none {hidden} && cp {fixture('alloc_leak')} {hidden}/ns_leak && "
              f"exec {hidden}/ns_leak malloc {RATE} -w")
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("ready"), line
        assert not (hidden / "ns_leak").exists()     # not visible from here
        pr = start_probe(probe_factory, [p.pid])
        p.send_signal(signal.SIGUSR1)
        time.sleep(6)
        code, out, err = pr.stop()
        assert code == 0, err
    finally:
        stop([p])
    rows = sites(summary(out), p.pid)
    top = rows[0]
    assert frame_fn(top["site"]) == "leak_by_malloc", rows[:3]
    assert "alloc_leak.c:" in top["site"] and "ns_leak" in top["site"]


def test_exec_is_a_new_instance(probe_factory):
    """A traced process that execs: its session ends at the exec (nothing of
    the new image lands in the old rows), and the new image is traced anew."""
    # the shell execs only once the probe is attached, however slow the start
    p = subprocess.Popen(["sh", "-c", f"read go; exec {fixture('alloc_leak')} malloc {RATE} 6"],
                         stdin=subprocess.PIPE, text=True)
    try:
        pr = start_probe(probe_factory, [p.pid])
        p.stdin.write("go\n")
        p.stdin.close()
        assert p.wait(timeout=60) == 0
        code, out, err = pr.wait(timeout=30)
        assert code == 0, err
    finally:
        stop([p])
    assert f"pid {p.pid} (sh): stopped tracing: exec'd" in err
    rows = sites(summary(out), p.pid)
    before = [r for r in rows if "." not in r["instance"]]
    after = [r for r in rows if r["instance"].endswith(".1")]
    assert after and frame_fn(after[0]["site"]) == "leak_by_malloc", after[:3]
    assert all(r["comm"] == "alloc_leak" for r in after)
    assert all("alloc_leak" not in r["site"] for r in before), before
