"""The compression gate: is a compressed candidate acceptable in place of its baseline?

Checks (all on the same data, the run's validation and test splits):

* ops: the candidate uses only ops the mpyml runtime executes;
* runtime: the mpyml runtime's outputs equal TFLM's on every test input;
* accuracy: test accuracy at most ``max_drop`` (2.5 points) below the baseline;
* false accepts: with the detection threshold tuned on validation to the
  false-accept budget (as ``mpyml evaluate`` does), the candidate meets the
  budget on validation and its test false-accept rate is no higher than
  ``max(budget, baseline's rate)``;
* arena: the candidate's arena is not larger than the baseline's;
* golden set: top-1 agreement with the baseline on the first ``golden`` test
  inputs is at least ``min_agreement``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MpymlError

MAX_DROP = 0.025
MIN_AGREEMENT = 0.9
GOLDEN = 100


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class GateResult:
    base: str
    candidate: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "candidate": self.candidate, "passed": self.passed,
                "checks": [asdict(c) for c in self.checks], "figures": self.figures}

    def format(self) -> str:
        lines = [f"gate: {self.candidate} vs baseline {self.base}"]
        for c in self.checks:
            lines.append(f"  {'PASS' if c.passed else 'FAIL'}  {c.name:14s} {c.detail}")
        bad = self.failures
        lines.append("ACCEPTED" if not bad else f"REJECTED: {len(bad)} check(s) failed: " +
                     ", ".join(c.name for c in bad))
        return "\n".join(lines)


def resolve_model(ref: str | Path) -> tuple[bytes, Path | None]:
    """A .tflite file, a model package folder or a run folder -> (int8 model bytes, run folder or None)."""
    from ..runs import open_run

    p = Path(ref)
    if p.is_file():
        return p.read_bytes(), None
    if p.is_dir():
        if (p / "model.tflite").is_file():
            return (p / "model.tflite").read_bytes(), None
        if (p / "artifacts" / "model_int8.tflite").is_file():
            return (p / "artifacts" / "model_int8.tflite").read_bytes(), p
    try:
        run = open_run(str(ref))
    except MpymlError:
        raise MpymlError(f"{ref}: not a .tflite file, a model package or a run folder") from None
    f = run.artifact("model_int8.tflite")
    if not f.is_file():
        raise MpymlError(f"{run.path}: the run has no artifacts/model_int8.tflite (run `mpyml quantize`)")
    return f.read_bytes(), run.path


def _eval(tflite: bytes, x: np.ndarray, y: np.ndarray, can_mpyml: bool) -> tuple[np.ndarray, bool | None]:
    """Dequantized scores (TFLM) and whether the mpyml runtime matched TFLM (None: not run)."""
    from ..interpreters import RuntimeMismatchError
    from .common import int8_eval

    try:
        ev = int8_eval(tflite, x, y, use_mpyml=can_mpyml)
        return ev.scores, ev.bit_exact
    except RuntimeMismatchError:
        return int8_eval(tflite, x, y, use_mpyml=False).scores, False


def run_gate(base: str | Path, candidate: str | Path, *, data_run: str | Path | None = None, max_drop: float = MAX_DROP,
             max_false_accept: float | None = None, min_agreement: float = MIN_AGREEMENT, golden: int = GOLDEN,
             max_eval: int | None = None, echo=None) -> GateResult:
    from ..evaluate import DEFAULT_MAX_FALSE_ACCEPT, pick_threshold, threshold_sweep
    from ..interpreters import tflm_arena_bytes
    from ..tflite_model import unsupported_ops
    from .common import accuracy, load_context, mpyml_arena, write_result

    budget = DEFAULT_MAX_FALSE_ACCEPT if max_false_accept is None else max_false_accept
    base_tfl, base_run = resolve_model(base)
    cand_tfl, cand_run = resolve_model(candidate)
    run_ref = data_run or base_run or cand_run
    if run_ref is None:
        raise MpymlError("the gate needs data: give --run RUN (a trained run whose validation/test splits to use)")
    ctx = load_context(run_ref, max_eval=max_eval, max_train=0, echo=echo)
    res = GateResult(str(base), str(candidate))
    f = res.figures

    bad_ops = unsupported_ops(cand_tfl)
    base_bad = unsupported_ops(base_tfl)
    if base_bad:
        raise MpymlError(f"the baseline {base} uses ops the mpyml runtime lacks ({', '.join(base_bad)})")
    res.checks.append(Check("ops", not bad_ops, "all ops supported by the mpyml runtime" if not bad_ops else
                            f"unsupported ops: {', '.join(bad_ops)}"))

    bs, _ = _eval(base_tfl, ctx.test.x, ctx.test.y, True)
    cs, exact = _eval(cand_tfl, ctx.test.x, ctx.test.y, not bad_ops)
    if bad_ops:
        res.checks.append(Check("runtime", False, "the mpyml runtime cannot load the candidate (unsupported ops)"))
    elif exact is None:
        res.checks.append(Check("runtime", False, "the mpyml runtime's host binding is not built: cannot verify"))
    else:
        res.checks.append(Check("runtime", bool(exact), f"mpyml runtime identical to TFLM on {len(ctx.test)} inputs"
                                if exact else "mpyml runtime output differs from TFLM"))

    ba, ca = accuracy(bs.argmax(1), ctx.test.y), accuracy(cs.argmax(1), ctx.test.y)
    drop = ba - ca
    f.update(base_accuracy=ba, candidate_accuracy=ca, accuracy_drop=drop, test_examples=len(ctx.test))
    res.checks.append(Check("accuracy", drop <= max_drop + 1e-12,
                            f"test accuracy {ca:.2%} vs {ba:.2%}: drop {100 * drop:+.2f} points "
                            f"(limit {100 * max_drop:.1f})"))

    labels = ctx.labels
    bv, _ = _eval(base_tfl, ctx.val.x, ctx.val.y, True)
    cv, _ = _eval(cand_tfl, ctx.val.x, ctx.val.y, not bad_ops)
    bt = pick_threshold(threshold_sweep(bv, ctx.val.y, labels), budget)
    ct = pick_threshold(threshold_sweep(cv, ctx.val.y, labels), budget)

    def far_at(scores: np.ndarray, t: float) -> float:
        return threshold_sweep(scores, ctx.test.y, labels, [t])[0]["false_accept_rate"]

    b_far, c_far = far_at(bs, bt["threshold"]), far_at(cs, ct["threshold"])
    limit = max(budget, b_far)
    f.update(base_threshold=bt["threshold"], candidate_threshold=ct["threshold"], base_false_accept_rate=b_far,
             candidate_false_accept_rate=c_far, false_accept_budget=budget)
    fa_ok = bool(ct["met"]) and c_far <= limit + 1e-12
    why = (f"threshold {ct['threshold']:.2f} (tuned on validation to <= {budget:.2%}): test false accepts "
           f"{c_far:.2%} vs limit {limit:.2%} (baseline {b_far:.2%} at {bt['threshold']:.2f})")
    if not ct["met"]:
        why += "; the budget cannot be met on validation at any threshold"
    res.checks.append(Check("false-accepts", fa_ok, why))

    ba_arena = mpyml_arena(base_tfl) or tflm_arena_bytes(base_tfl)
    ca_arena = (mpyml_arena(cand_tfl) if not bad_ops else None) or tflm_arena_bytes(cand_tfl)
    f.update(base_arena=ba_arena, candidate_arena=ca_arena)
    res.checks.append(Check("arena", ca_arena <= ba_arena, f"{ca_arena:,d} B vs baseline {ba_arena:,d} B"))

    g = min(golden, len(ctx.test))
    agree = accuracy(cs[:g].argmax(1), bs[:g].argmax(1))
    f.update(golden_inputs=g, golden_agreement=agree)
    res.checks.append(Check("golden-set", agree >= min_agreement,
                            f"top-1 agreement {agree:.2%} on {g} golden inputs (need {min_agreement:.0%})"))
    write_result(ctx.run.path / "compression", "gate", res.to_dict())
    return res
