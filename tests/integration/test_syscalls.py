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
    return {r["syscall"]: r for r in summ["syscalls"] if r["pid"] == str(pid)}


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
    assert str(a.pid) in pids
    assert str(b.pid) not in pids
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
