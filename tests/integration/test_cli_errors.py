"""Bad input on the command line and in the config: one clear line on
stderr and a distinct exit status, never a crash."""
import os
import subprocess
import tempfile

import pytest

from conftest import PROBE, run


def probe(*args, **kw):
    return run([PROBE, *args], **kw)


def one_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert lines, "nothing on stderr"
    return lines[0]


def test_unknown_option_is_usage_error():
    res = probe("--no-such-option")
    assert res.returncode == 64
    assert "no-such-option" in res.stderr


@pytest.mark.parametrize("args, word", [
    (["--pid", "abc"], "--pid"),
    (["--pid", "0"], "--pid"),
    (["--pid", "12,"], "--pid"),
    (["--duration", "-1"], "--duration"),
    (["--interval", "nan"], "--interval"),
    (["stray"], "stray"),
])
def test_bad_values_are_usage_errors(args, word):
    res = probe(*args)
    assert res.returncode == 64, res.stderr
    assert word in res.stderr


def test_missing_pid():
    # pid_max bounds real pids; 4194304 is the largest valid value and unused here
    res = probe("--pid", "4194304", "--duration", "1")
    assert res.returncode == 66
    assert "no such process" in one_line(res.stderr)


@pytest.mark.parametrize("text, word", [
    ('{"interval_s": "fast"}', "interval_s"),
    ('{"signals": {"sycalls": {}}}', "signals.sycalls"),
    ('{"store": {"slots": 1e308}}', "store.slots"),
    ('{"top": -5}', "top"),
    ('{"top": 2.5}', "top"),
    ('{"signals": {"syscalls": {"latency": "fast"}}}', "latency"),
    ('{"signals": []}', "signals"),
    ('[1, 2]', "object"),
    ('{"interval_s": ', "JSON"),
    ('{"a":' * 5000 + '1' + '}' * 5000, ""),
    ('\x00\x01garbage', ""),
], ids=["wrong-type", "unknown-key", "huge-number", "negative", "fraction", "bad-enum",
        "array-for-object", "top-level-array", "truncated", "nested-5000", "binary"])
def test_hostile_config_is_config_error(text, word):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(text)
    try:
        res = probe("--config", f.name, "--duration", "1")
    finally:
        os.unlink(f.name)
    assert res.returncode == 78, res.stderr
    line = one_line(res.stderr)
    assert line.startswith("probe: config:")
    assert word in line


def test_missing_config_file():
    res = probe("--config", "/nonexistent/probe.json")
    assert res.returncode == 78
    assert "/nonexistent/probe.json" in one_line(res.stderr)


def test_print_config_round_trips():
    res = probe("--print-config")
    assert res.returncode == 0
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(res.stdout)
    try:
        chk = probe("--config", f.name, "--check")
    finally:
        os.unlink(f.name)
    assert chk.returncode in (0, 69), chk.stderr   # a valid config, whatever is live
    assert "config" not in chk.stderr


def test_not_root_is_noperm():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          PROBE, "--duration", "1"], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 77
    assert "root" in one_line(res.stderr)


def test_help_teaches():
    res = probe("--help")
    assert res.returncode == 0
    for word in ("--pid", "--check", "EXAMPLES", "EXIT STATUS"):
        assert word in res.stdout
