"""The syscall signal against real processes with a known syscall mix."""
import json
import os
import signal
import subprocess

from conftest import PROBE, fixture, run, summary

READS, OPENS, CLOSES = 2000, 37, 11


def start_mix(*extra):
    p = subprocess.Popen([fixture("syscall_mix"), str(READS), str(OPENS), str(CLOSES), *extra],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready"), line
    return p


def rows(summ, pid):
    return {r["syscall"]: r for r in summ["syscalls"] if r["pid"] == pid}


def run_probe_on(probe_factory, pids, *args):
    return probe_factory("--pid", ",".join(str(p) for p in pids), "--json", *args)


def test_exact_counts_and_errno(probe_factory):
    mix = start_mix()
    pr = run_probe_on(probe_factory, [mix.pid])
    mix.send_signal(signal.SIGUSR1)
    assert mix.wait(timeout=30) == 0
    code, out, err = pr.wait(timeout=30)   # stops by itself: its target exited
    assert code == 0, err
    assert "every followed process has exited" in err
    r = rows(summary(out), mix.pid)
    assert r["read"]["calls"] == READS
    assert r["read"]["errors"] == 0
    # exact latency mode: every read after attach is timed
    assert r["read"]["latency_ns"]["count"] == READS
    assert 0 < r["read"]["latency_ns"]["p50"] < 10_000_000
    assert r["openat"]["calls"] == OPENS + 1        # + /dev/zero itself
    assert r["openat"]["errors"] == OPENS
    assert r["openat"]["errno"] == {"ENOENT": OPENS}
    assert r["close"]["calls"] == CLOSES
    assert r["close"]["errno"] == {"EBADF": CLOSES}


def test_pid_filter_excludes_others(probe_factory):
    a, b = start_mix(), start_mix()
    pr = run_probe_on(probe_factory, [a.pid])
    for p in (a, b):
        p.send_signal(signal.SIGUSR1)
    assert a.wait(timeout=30) == 0 and b.wait(timeout=30) == 0
    code, out, err = pr.wait(timeout=30)
    assert code == 0, err
    summ = summary(out)
    pids = {r["pid"] for r in summ["syscalls"]}
    assert a.pid in pids
    assert b.pid not in pids
    assert rows(summ, a.pid)["read"]["calls"] == READS


def test_children_forked_after_start_are_followed(probe_factory):
    parent = start_mix("fork")
    pr = run_probe_on(probe_factory, [parent.pid])
    parent.send_signal(signal.SIGUSR1)
    child = int(parent.stdout.readline().split()[1])
    assert parent.wait(timeout=30) == 0
    code, out, err = pr.wait(timeout=30)
    assert code == 0, err
    r = rows(summary(out), child)
    assert r["read"]["calls"] == READS
    assert r["openat"]["errno"] == {"ENOENT": OPENS}


def test_counters_of_exited_processes_are_reused_exactly(probe_factory):
    # each child exits and is read before the next starts: the next one's
    # keys get the freed counter cells, which must start again from zero
    parent = start_mix("seq", "3")
    pr = run_probe_on(probe_factory, [parent.pid])
    parent.send_signal(signal.SIGUSR1)
    children = [int(parent.stdout.readline().split()[1]) for _ in range(3)]
    assert parent.wait(timeout=60) == 0
    code, out, err = pr.wait(timeout=30)
    assert code == 0, err
    summ = summary(out)
    for child in children:
        r = rows(summ, child)
        assert r["read"]["calls"] == READS, child
        assert r["read"]["latency_ns"]["count"] == READS, child
        assert r["openat"]["errno"] == {"ENOENT": OPENS}, child
        assert r["close"]["calls"] == CLOSES, child


def test_sampled_latency_times_only_its_periods(probe_factory, tmp_path):
    # latency on 1 s of every 2: counts stay exact, some waits are timed and
    # some not, and no start time left from an earlier period leaks into a
    # later one (the 20 ms sleeps would then show as seconds)
    cfg = tmp_path / "sampled.json"
    others = {name: {"enabled": False} for name in ("http", "conn", "memgrowth", "alloc")}
    cfg.write_text(json.dumps({"signals": {"syscalls": {
        "latency": "sampled", "sample_period_s": 2, "sample_on_s": 1}, **others}}))
    sleeper = subprocess.Popen(["/bin/sh", "-c", "read go; i=0; while [ $i -lt 200 ]; do "
                                "sleep 0.02; i=$((i+1)); done"],
                               stdin=subprocess.PIPE, text=True)
    pr = run_probe_on(probe_factory, [sleeper.pid], "--config", str(cfg))
    sleeper.stdin.write("go\n")
    sleeper.stdin.close()
    assert sleeper.wait(timeout=60) == 0
    code, out, err = pr.wait(timeout=30)
    assert code == 0, err
    waits = [r for r in summary(out)["syscalls"]
             if r["syscall"] in ("wait4", "waitid") and r["comm"] == "sh"]
    assert waits, summary(out)["syscalls"]
    w = max(waits, key=lambda r: r["calls"])
    assert w["calls"] >= 200
    assert 0 < w["latency_ns"]["count"] < w["calls"]
    assert 10_000_000 < w["latency_ns"]["p99"] < 500_000_000


def bpf_links():
    out = run(["bpftool", "-j", "link", "show"]).stdout
    return {l["id"] for l in json.loads(out or "[]")}


def links_held_by(pid):
    """BPF link ids a process holds open, from its fds' fdinfo."""
    ids = set()
    fd_dir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                for line in f:
                    if line.startswith("link_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def test_sigterm_releases_every_link(probe_factory):
    mix = start_mix()
    pr = run_probe_on(probe_factory, [mix.pid])
    held = links_held_by(pr.proc.pid)
    assert len(held) >= 4     # at least fork, exit, sys_exit, sys_enter
    assert held <= bpf_links()
    code, out, err = pr.stop(signal.SIGTERM)
    assert code == 0, err
    assert summary(out)["type"] == "summary"
    # other probes may come and go meanwhile: only this one's links matter
    assert not (held & bpf_links()), "links left behind after SIGTERM"
    mix.kill()
    mix.wait()


def test_check_reports_hooks_and_signals():
    mix = start_mix()
    try:
        res = run([PROBE, "--check", "--json", "--pid", str(mix.pid)])
    finally:
        mix.kill()
        mix.wait()
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    # this kernel: no kprobes, fentry refused; the probe runs without them
    assert rep["features"]["kprobe"]["available"] is False
    assert rep["features"]["fentry"]["available"] is False
    assert rep["features"]["tracepoint"]["available"] is True
    sig = {s["signal"]: s for s in rep["signals"]}
    assert sig["syscalls"]["state"] == "live"
    assert "raw_syscalls" in sig["syscalls"]["hook"]


def test_check_text_says_why_syscalls_off_host_wide():
    res = run([PROBE, "--check"])
    assert "syscalls" in res.stdout
    line = [l for l in res.stdout.splitlines() if l.startswith("syscalls")][0]
    assert " off " in line and "--pid" in line
