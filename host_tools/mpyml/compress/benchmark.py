"""The compression benchmark (`make benchmark-compress`, long; not part of CI).

On the synthetic keyword benchmark (10 keywords + _unknown_ + _silence_,
held-out voices for validation and test; the dataset of `make benchmark-kws`,
synthesised if missing), a DS-CNN-S baseline is trained, then every
compression stage runs and one report is written. The Keras 2 stages (QAT,
low-bit sweep) run in a child process alongside the others. Acceptance:

* QAT >= PTQ at every bit-width <= 4, and QAT beats PTQ by >= 10 points at 3 bits;
* removing 50% of the channels cuts MACs by >= 40% and mpyml-runtime latency by >= 30%;
* distillation: the measured delta (reported whatever its sign).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import json
import os
import time
from pathlib import Path

from ..data.synth import DEFAULT_KEYWORDS, SynthConfig, synth
from ..paths import project_root
from ..runs import open_run


def acceptance(run) -> dict:
    from .common import read_result

    out: dict = {}
    bits = read_result(run, "bits")
    if bits:
        low = [r for r in bits["rows"] if r["bits"] <= 4]
        out["qat_ge_ptq_at_4_bits_and_below"] = all(r["qat"] >= r["ptq"] for r in low) if low else None
        three = [r for r in bits["rows"] if r["bits"] == 3]
        out["qat_minus_ptq_at_3_bits_points"] = 100 * (three[0]["qat"] - three[0]["ptq"]) if three else None
        out["qat_beats_ptq_by_10_points_at_3_bits"] = (three[0]["qat"] - three[0]["ptq"] >= 0.10) if three else None
    st = read_result(run, "structured")
    if st:
        half = [r for r in st["rows"] if abs(r["ratio"] - 0.5) < 1e-9]
        if half:
            h = half[0]
            out["structured_50_macs_reduction"] = h["macs_reduction"]
            out["structured_50_latency_reduction"] = h["latency_reduction"]
            out["structured_50_macs_ok"] = h["macs_reduction"] >= 0.40
            out["structured_50_latency_ok"] = h["latency_reduction"] >= 0.30
    d = read_result(run, "distill")
    if d:
        out["distillation_delta_int8_points"] = 100 * d["delta_int8"]
        out["distillation_delta_float_points"] = 100 * d["delta_float"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mpyml.compress.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, default=None)
    p.add_argument("--clips-per-word", type=int, default=600, help="When the dataset has to be synthesised.")
    p.add_argument("--runs", type=Path, default=None, help="Runs root (default build/benchmark-compress/runs).")
    p.add_argument("--epochs", type=int, default=14, help="Baseline training epochs.")
    p.add_argument("--reuse", action="store_true", help="Keep an already trained baseline run.")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--max-train", type=int, default=2500,
                   help="Training examples used for fine-tuning and calibration (0: all).")
    args = p.parse_args(argv)

    from ..train import TrainConfig, train

    start = time.monotonic()
    root = project_root() / "build"
    dataset = args.dataset or root / "benchmark-kws" / "dataset"
    runs_root = args.runs or root / "benchmark-compress" / "runs"
    words = list(DEFAULT_KEYWORDS)[:10]
    if not (dataset / "clips.csv").is_file():
        synth(dataset, SynthConfig(words=words, clips_per_word=args.clips_per_word, seed=args.seed,
                                   other_clips=2 * args.clips_per_word), force=True, log=print)
    run_path = runs_root / "baseline"
    reused = args.reuse and (run_path / "artifacts" / "model_int8.tflite").is_file()
    if not reused:
        cfg = TrainConfig(model="ds_cnn_s", data=str(dataset), words=words, name="baseline",
                          unknown_percentage=10.0, silence_percentage=10.0, augment={"copies": 1},
                          epochs=args.epochs, batch_size=64, learning_rate=0.003, early_stopping_patience=6,
                          seed=args.seed, threads=1)
        train(cfg, runs_root=runs_root, overwrite=True)
    run = open_run(run_path, echo=print)
    # The Keras 2 stages in a child process, concurrently with the Keras 3 stages here.
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    limit = args.max_train or None
    child_specs = [{"stage": "qat", "run": str(run.path), "epochs": 2, "progress": False, "max_train": limit},
                   {"stage": "bits", "run": str(run.path), "epochs": 2, "progress": False, "max_train": limit}]
    script = ("import json,sys\nfrom mpyml.compress.worker import run_stage\n"
              "for s in json.loads(sys.argv[1]): run_stage(s)\n")
    child = subprocess.Popen([sys.executable, "-c", script, json.dumps(child_specs)], env=env)

    from .common import load_context
    from .distill import run_distill
    from .gate import run_gate
    from .prune import benchmark_prune
    from .structured import run_structured
    from .verify import run_verify

    stages: dict[str, float] = {"baseline": time.monotonic() - start}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        stages[name] = time.monotonic() - mark
        mark = time.monotonic()
        print(f"stage {name}: {stages[name]:.0f} s")

    ctx = load_context(run, max_train=limit, echo=print)
    run_structured(ctx, ratios=(0.25, 0.5, 0.75), epochs=2, progress=False)
    lap("structured")
    run_distill(ctx, student="tiny_conv", epochs=6, progress=False)
    lap("distill")
    benchmark_prune(ctx)
    lap("prune")
    run_verify(ctx, samples=300)
    gate = run_gate(run.path, run.path / "compression" / "structured_25_int8.tflite", echo=print)
    print(gate.format())
    lap("verify_gate")
    status = child.wait()
    lap("qat_bits_wait")
    if status != 0:
        print(f"the QAT / low-bit child process failed with status {status}")
    from .common import write_result
    from .report import write_report

    acc = acceptance(run)
    acc["seconds"] = time.monotonic() - start
    acc["stage_seconds"] = stages
    acc["reused_baseline"] = reused
    write_result(run.path / "compression", "benchmark", acc)
    md, page = write_report(run)
    print(json.dumps(acc, indent=2))
    print(f"report: {md}\n        {page}")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
