"""The keyword-spotting quality benchmark (`make benchmark-kws`, long; not part of CI).

A synthetic dataset with held-out voices: 10 keywords x ``clips_per_word``
clips plus ``_unknown_`` and ``_silence_`` (12 classes, >= 500 clips per class
in training+validation+test), DS-CNN-S trained, int8 PTQ, evaluated on the
held-out test voices. Target: int8 accuracy >= 90% and within 1 point of float.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .data.synth import DEFAULT_KEYWORDS, SynthConfig, synth
from .evaluate import evaluate_run
from .paths import project_root
from .report import format_rows, row_of
from .train import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mpyml.benchmark_kws", description=__doc__)
    p.add_argument("--clips-per-word", type=int, default=600)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--models", default="ds_cnn_s",
                   help="Comma-separated zoo models to train on the same data (the bar applies to ds_cnn_s).")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dataset", type=Path, default=None)
    p.add_argument("--reuse-dataset", action="store_true", help="Keep an existing dataset folder.")
    args = p.parse_args(argv)

    words = list(DEFAULT_KEYWORDS)[:10]
    dataset = args.dataset or project_root() / "build" / "benchmark-kws" / "dataset"
    start = time.monotonic()
    if not (args.reuse_dataset and dataset.is_dir()):
        # _unknown_ and _silence_ get about as many clips as one keyword.
        synth(dataset, SynthConfig(words=words, clips_per_word=args.clips_per_word, seed=args.seed,
                                   other_clips=2 * args.clips_per_word), force=True, log=print)
    share = 100.0 / len(words)
    rows, results = [], {}
    for model in [m for m in args.models.split(",") if m]:
        cfg = TrainConfig(model=model, data=str(dataset), words=words, name=f"benchmark-kws-{model}",
                          epochs=args.epochs, seed=args.seed, unknown_percentage=share, silence_percentage=share,
                          early_stopping_patience=10, augment={"copies": 2}, batch_size=64, learning_rate=0.003)
        r = train(cfg, overwrite=True)
        ev = evaluate_run(r.run)
        results[model] = ev
        rows.append(row_of(r.run))
    print(format_rows(rows))
    ok = True
    for model, ev in results.items():
        f, q = ev["float"]["accuracy"], ev["tflm_int8"]["accuracy"]
        print(f"{model}: classes {len(ev['labels'])}, test examples {ev['test_examples']} (held-out voices): "
              f"float {f:.2%}  int8 (TFLM) {q:.2%}  gap {100 * (f - q):+.2f} points")
        if model == "ds_cnn_s":
            ok = q >= 0.90 and abs(f - q) <= 0.01
            print("quality bar (DS-CNN-S int8 >= 90%, within 1 point of float):", "MET" if ok else "NOT MET")
    print(f"{time.monotonic() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
