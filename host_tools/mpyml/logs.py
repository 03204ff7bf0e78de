"""Decode device log rings written by ``tinyml.logring`` (``mpyml logs decode``).

The binary format is documented in ``device_lib/tinyml/logring.py`` and
``docs/device-library.md``: a 32-byte header (magic ``MPYMLLOG``, version,
record size, score slots, capacity, sampling interval) followed by
fixed-size records, each with a sequence number and a Fletcher-16 check.
Records are returned in write order; records whose check fails (a write
torn by a power loss) are reported as corrupt, never decoded as data.
"""

from __future__ import annotations

import csv
import io
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MpymlError

MAGIC = b"MPYMLLOG"
VERSION = 1
HEADER = struct.Struct("<8sHHHHII8x")
RECORD = struct.Struct("<IIIBBbBhhhHHH")
KINDS = {1: "window", 2: "rejected", 3: "detection", 4: "marker"}
CAUSES = {0: "ok", 1: "nan", 2: "range", 3: "stuck", 4: "clip"}


class LogFormatError(MpymlError):
    """The file is not a log ring, or not one this version can read."""


@dataclass
class LogHeader:
    version: int
    record_size: int
    n_scores: int
    capacity: int
    every: int


@dataclass
class LogRecord:
    seq: int
    time_ms: int
    window: int
    kind: int
    cause: int
    label: int
    score: int
    lo: int
    hi: int
    level: int
    extra: int
    scores: list[int] = field(default_factory=list)

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, f"kind{self.kind}")

    @property
    def cause_name(self) -> str:
        return CAUSES.get(self.cause, f"cause{self.cause}")


@dataclass
class LogFile:
    header: LogHeader
    records: list[LogRecord]
    corrupt_slots: list[int]
    empty_slots: int


def fletcher16(data: bytes) -> int:
    a = b = 0
    for byte in data:
        a = (a + byte) % 255
        b = (b + a) % 255
    return (b << 8) | a


def record_check(rec: bytes) -> int:
    """The check of one record: Fletcher-16 with the check field zeroed."""
    return fletcher16(rec[:24] + b"\0\0" + rec[26:])


def parse_log(data: bytes, name: str = "log") -> LogFile:
    if len(data) < HEADER.size:
        raise LogFormatError(f"{name}: {len(data)} bytes is too short for a log header ({HEADER.size} bytes)")
    magic, version, header_size, rsize, n_scores, capacity, every = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise LogFormatError(f"{name}: not an mpyml log ring (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise LogFormatError(f"{name}: log format version {version} is not supported (this mpyml reads {VERSION})")
    if header_size != HEADER.size or rsize != (28 + n_scores + 3) & ~3 or capacity == 0:
        raise LogFormatError(f"{name}: inconsistent header (header {header_size} B, record {rsize} B, "
                             f"{n_scores} scores, capacity {capacity})")
    need = header_size + capacity * rsize
    if len(data) < need:
        raise LogFormatError(f"{name}: truncated: {len(data)} bytes, the header announces {need}")
    records: list[LogRecord] = []
    corrupt: list[int] = []
    empty = 0
    for slot in range(capacity):
        off = header_size + slot * rsize
        rec = data[off : off + rsize]
        fields = RECORD.unpack_from(rec, 0)
        if fields[0] == 0:
            empty += 1
            continue
        if record_check(rec) != fields[11]:
            corrupt.append(slot)
            continue
        n = min(fields[6], n_scores)
        scores = list(struct.unpack_from(f"<{n}b", rec, 28)) if n else []
        seq, t, window, kind, cause, label, _, score, lo, hi, level, _, extra = fields
        records.append(LogRecord(seq, t, window, kind, cause, label, score, lo, hi, level, extra, scores))
    records.sort(key=lambda r: r.seq)
    return LogFile(LogHeader(version, rsize, n_scores, capacity, every), records, corrupt, empty)


def read_log(path: Path) -> LogFile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MpymlError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_log(data, str(path))


def load_labels(spec: str | None) -> list[str] | None:
    """Labels from ``a,b,c``, or a package's manifest.json (file or folder)."""
    if not spec:
        return None
    p = Path(spec)
    if p.is_dir():
        p = p / "manifest.json"
    if p.is_file():
        try:
            labels = json.loads(p.read_text())["labels"]
        except (ValueError, KeyError, TypeError) as e:
            raise MpymlError(f"{p}: no labels list in this manifest ({e})") from None
        return [str(x) for x in labels]
    return [x.strip() for x in spec.split(",")]


COLUMNS = ["seq", "time_ms", "window", "kind", "cause", "label", "score", "min", "max", "level", "extra", "scores"]


def rows(log: LogFile, labels: list[str] | None = None) -> list[list[str]]:
    out = []
    for r in log.records:
        if r.label < 0:
            label = "-"
        elif labels and r.label < len(labels):
            label = labels[r.label]
        else:
            label = str(r.label)
        out.append([str(r.seq), str(r.time_ms), str(r.window), r.kind_name, r.cause_name, label, str(r.score),
                    str(r.lo), str(r.hi), str(r.level), str(r.extra), " ".join(str(s) for s in r.scores)])
    return out


def format_table(log: LogFile, labels: list[str] | None = None) -> str:
    body = rows(log, labels)
    widths = [len(c) for c in COLUMNS]
    for row in body:
        widths = [max(w, len(v)) for w, v in zip(widths, row)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    for row in body:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def format_csv(log: LogFile, labels: list[str] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows(log, labels))
    return buf.getvalue()


def summary(log: LogFile) -> str:
    h = log.header
    kinds: dict[str, int] = {}
    for r in log.records:
        kinds[r.kind_name] = kinds.get(r.kind_name, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "no records"
    s = (f"{len(log.records)} records ({parts}) in {h.capacity} slots; every {h.every}th window logged; "
         f"{h.n_scores} score slots")
    if log.corrupt_slots:
        s += f"; {len(log.corrupt_slots)} corrupt slot(s): {', '.join(map(str, log.corrupt_slots))}"
    return s
