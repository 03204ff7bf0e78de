"""`mpyml logs decode`: logs written by tinyml.logring on the Unix firmware,
decoded on the host."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mpyml.logs import CAUSES, KINDS, parse_log, read_log
from mpyml.errors import MpymlError

MPYML = [sys.executable, "-m", "mpyml.cli"]

# Writes a wrapped file log and a buffer log; the values are a function of
# the window index so the host can check every field it decodes.
DEVICE_SCRIPT = textwrap.dedent("""
    from array import array
    from tinyml.logring import LogRing, DETECT, MARKER, size
    log = LogRing({path!r}, capacity=16, n_scores=4, every=5)
    sc = array("b", bytes(4))
    for i in range(1, 61):
        for j in range(4):
            sc[j] = ((i * (j + 3)) % 256) - 128
        cause = 3 if i % 13 == 0 else 0
        log.window(i, i * 20, cause=cause, scores=sc, label=i % 4, score=i * 2, lo=-i, hi=i * 10, level=i * 3,
                   extra=i)
    log.record(DETECT, 61, 1220, label=2, score=230, extra=7)
    log.close()
    buf = bytearray(size(8, 0))
    mem = LogRing(buf, capacity=8, n_scores=0, every=1)
    for i in range(3):
        mem.window(i, i)
    mem.record(MARKER, 99, 5, extra=4242)
    mem.save({mem_path!r})
    print("written", log.seq, mem.seq)
""")


@pytest.fixture(scope="module")
def device_logs(firmware, tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    path, mem_path = d / "log.bin", d / "mem.bin"
    r = subprocess.run([str(firmware), "-c", DEVICE_SCRIPT.format(path=str(path), mem_path=str(mem_path))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "written" in r.stdout
    return path, mem_path


def expected_windows():
    """(window, kind) of every record the device script logs, in order."""
    out = []
    for i in range(1, 61):
        if i % 13 == 0:
            out.append((i, "rejected"))
        elif i % 5 == 0:
            out.append((i, "window"))
    out.append((61, "detection"))
    return out


def test_decode_file_log_fields(device_logs):
    path, _ = device_logs
    log = read_log(path)
    assert log.header.capacity == 16 and log.header.n_scores == 4 and log.header.every == 5
    want = expected_windows()[-16:]  # the ring keeps the newest 16
    assert [(r.window, r.kind_name) for r in log.records] == want
    assert [r.seq for r in log.records] == list(range(len(expected_windows()) - 15, len(expected_windows()) + 1))
    assert not log.corrupt_slots and log.empty_slots == 0
    for r in log.records[:-1]:
        i = r.window
        assert r.time_ms == i * 20
        assert r.cause_name == ("stuck" if i % 13 == 0 else "ok")
        assert r.label == i % 4 and r.score == i * 2
        assert (r.lo, r.hi, r.level, r.extra) == (-i, i * 10, i * 3, i)
        assert r.scores == [((i * (j + 3)) % 256) - 128 for j in range(4)]
    last = log.records[-1]
    assert (last.kind_name, last.label, last.score, last.extra, last.scores) == ("detection", 2, 230, 7, [])


def test_decode_buffer_log(device_logs):
    _, mem_path = device_logs
    log = read_log(mem_path)
    assert log.empty_slots == 4
    assert [(r.kind_name, r.window) for r in log.records] == [("window", 0), ("window", 1), ("window", 2),
                                                                ("marker", 99)]
    assert log.records[-1].extra == 4242


def test_cli_table_and_csv(device_logs, tmp_path):
    path, _ = device_logs
    r = subprocess.run([*MPYML, "logs", "decode", str(path), "--labels", "_silence_,_unknown_,yes,no"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["seq", "time_ms", "window", "kind", "cause", "label", "score", "min", "max", "level",
                                "extra", "scores"]
    assert len(lines) == 1 + 16
    assert "detection" in lines[-1] and " yes " in lines[-1]
    assert "16 records" in r.stderr
    r = subprocess.run([*MPYML, "logs", "decode", str(path), "--csv", "-o", str(tmp_path / "log.csv")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    import csv

    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert len(rows) == 16
    rejected = [row for row in rows if row["kind"] == "rejected"]
    assert rejected and all(row["cause"] == "stuck" and int(row["window"]) % 13 == 0 for row in rejected)
    # labels from a package manifest
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "manifest.json").write_text('{"labels": ["s", "u", "YES", "NO"]}')
    r = subprocess.run([*MPYML, "logs", "decode", str(path), "--labels", str(tmp_path / "pkg")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and " YES " in r.stdout.splitlines()[-1]


def test_torn_record_is_reported_not_decoded(device_logs, tmp_path):
    path, _ = device_logs
    data = bytearray(path.read_bytes())
    data[32 + 3 * 32 + 9] ^= 0x5A  # inside slot 3
    bad = tmp_path / "torn.bin"
    bad.write_bytes(bytes(data))
    log = read_log(bad)
    assert log.corrupt_slots == [3]
    assert len(log.records) == 15
    r = subprocess.run([*MPYML, "logs", "decode", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "1 corrupt slot(s): 3" in r.stderr


def test_bad_files_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, definitely not a log ring" * 3)
    cases = [
        (junk, "not an mpyml log ring"),
        (tmp_path / "missing.bin", "cannot read"),
    ]
    short = tmp_path / "short.bin"
    short.write_bytes(b"MPYML")
    cases.append((short, "too short"))
    for path, msg in cases:
        r = subprocess.run([*MPYML, "logs", "decode", str(path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert r.stderr.startswith("error: ") and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    with pytest.raises(MpymlError, match="version 9"):
        parse_log(b"MPYMLLOG" + (9).to_bytes(2, "little") + bytes(22))


def test_truncated_log(device_logs, tmp_path):
    path, _ = device_logs
    cut = tmp_path / "cut.bin"
    cut.write_bytes(path.read_bytes()[:100])
    with pytest.raises(MpymlError, match="truncated"):
        read_log(cut)


def test_name_tables_match_device_constants(root):
    # the host's kind/cause names follow the device modules' constants
    text = (root / "device_lib" / "tinyml" / "gate.py").read_text()
    assert 'CAUSES = ("ok", "nan", "range", "stuck", "clip")' in text
    assert [CAUSES[i] for i in range(5)] == ["ok", "nan", "range", "stuck", "clip"]
    log_text = (root / "device_lib" / "tinyml" / "logring.py").read_text()
    for code, name in ((1, "WINDOW"), (2, "REJECT"), (3, "DETECT"), (4, "MARKER")):
        assert f"{name} = {code}" in log_text
    assert KINDS == {1: "window", 2: "rejected", 3: "detection", 4: "marker"}
