"""A table of every run's model: accuracy (float, int8 in TFLM, int8 in mpyml), size, MACs, arena."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .runs import Run, list_runs


@dataclass
class Row:
    run: str
    model: str
    classes: int | None
    float_acc: float | None
    tflm_acc: float | None
    mpyml_acc: float | None
    agreement: float | None
    int8_bytes: int | None
    macs: int | None
    arena: int | None
    threshold: float | None


def row_of(run: Run) -> Row:
    from .analyze import analyze

    cfg = run.config()
    ev = None
    if run.artifact("evaluation.json").is_file():
        ev = run.read_json("evaluation.json")
    size = macs = arena = None
    tfl = run.artifact("model_int8.tflite")
    if tfl.is_file():
        cached = run.artifact("analysis.json")
        if cached.is_file() and cached.stat().st_mtime >= tfl.stat().st_mtime:
            a = run.read_json("analysis.json")
            size, macs, arena = a["model_bytes"], a["macs"], a["arena"]
        else:
            an = analyze(tfl.read_bytes())
            run.write_json("analysis.json", an.to_dict())
            size, macs, arena = an.model_bytes, an.macs, an.arena

    def acc(key: str) -> float | None:
        return ev[key]["accuracy"] if ev and ev.get(key) else None

    return Row(run.name, str(cfg.get("model")), len(ev["labels"]) if ev else None, acc("float"), acc("tflm_int8"),
               acc("mpyml_int8"), ev.get("float_int8_agreement") if ev else None, size, macs, arena,
               ev["threshold"]["chosen"]["threshold"] if ev else None)


def collect(root: Path | None = None) -> list[Row]:
    return [row_of(r) for r in list_runs(root)]


def format_rows(rows: list[Row]) -> str:
    def pct(v: float | None) -> str:
        return f"{100 * v:.2f}%" if v is not None else "-"

    def num(v: int | None) -> str:
        return f"{v:,d}" if v is not None else "-"

    head = (f"{'run':24s} {'model':14s} {'cls':>3s} {'float':>8s} {'int8 TFLM':>9s} {'int8 mpyml':>10s} "
            f"{'agree':>8s} {'int8 B':>9s} {'MACs':>12s} {'arena B':>9s} {'thr':>5s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.run[:24]:24s} {r.model[:14]:14s} {r.classes if r.classes else '-':>3} {pct(r.float_acc):>8s} "
                     f"{pct(r.tflm_acc):>9s} {pct(r.mpyml_acc):>10s} {pct(r.agreement):>8s} {num(r.int8_bytes):>9s} "
                     f"{num(r.macs):>12s} {num(r.arena):>9s} "
                     f"{(f'{r.threshold:.2f}' if r.threshold is not None else '-'):>5s}")
    return "\n".join(lines)
