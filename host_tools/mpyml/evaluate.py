"""Evaluation on one test set through every arithmetic the model meets.

The same test inputs go through the float Keras model, the int8 model in
TFLM (the ``tflite-micro`` package) and, when its host binding is built, the
int8 model in the mpyml runtime — whose outputs must equal TFLM's byte for
byte (a difference raises ``RuntimeMismatchError``). Reported per path:
accuracy, macro-F1, a per-class table and a confusion matrix (PNG), plus the
float-vs-int8 top-1 agreement. A threshold sweep on the validation set
(int8 scores, as deployed) trades false accepts against recall and picks the
deployment threshold stored in the model package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import MpymlError
from .interpreters import MpymlRunner, TflmRunner, compare_exact, mpyml_runtime_available
from .quantize import dequantize_array, quantize_array

DEFAULT_MAX_FALSE_ACCEPT = 0.01
DEFAULT_MIN_THRESHOLD = 0.5


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise MpymlError(f"label and prediction counts differ: {y_true.shape} vs {y_pred.shape}")
    for name, arr in (("labels", y_true), ("predictions", y_pred)):
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise MpymlError(f"{name} outside 0..{n_classes - 1}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over classes that occur in labels or predictions), per-class table."""
    n = len(labels)
    cm = confusion_matrix(y_true, y_pred, n)
    total = int(cm.sum())
    if total == 0:
        raise MpymlError("cannot compute metrics of an empty set")
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n), where=denom > 0)
    present = (support > 0) | (predicted > 0)
    per_class = [
        {"label": labels[i], "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
         "support": int(support[i])}
        for i in range(n)
    ]
    return {
        "n": total,
        "accuracy": float(tp.sum() / total),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def keyword_classes(labels: Sequence[str]) -> np.ndarray:
    """Boolean mask of the classes that trigger a detection (not _silence_/_unknown_)."""
    return np.array([not str(l).startswith("_") for l in labels], dtype=bool)


def threshold_sweep(scores: np.ndarray, y_true: np.ndarray, labels: Sequence[str],
                    thresholds: Sequence[float] | None = None) -> list[dict[str, float]]:
    """False accepts vs recall when a keyword fires only with top-1 score >= t.

    recall(t): keyword examples whose top-1 is their class with score >= t,
    over all keyword examples. false_accept_rate(t): examples where a keyword
    fires (top-1 a keyword class, score >= t) that is not the true class, over
    all examples. Both are non-increasing in t.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if scores.ndim != 2 or scores.shape[0] != y_true.shape[0] or scores.shape[1] != len(labels):
        raise MpymlError(f"scores {scores.shape} do not match {y_true.shape[0]} labels of {len(labels)} classes")
    kw = keyword_classes(labels)
    if not kw.any():
        raise MpymlError("no keyword classes (every label starts with '_')")
    if thresholds is None:
        thresholds = np.round(np.arange(0.0, 1.0, 0.01), 2)
    pred = scores.argmax(axis=1)
    top = scores[np.arange(len(pred)), pred]
    fires_kw = kw[pred]
    is_kw = kw[y_true]
    n_kw = max(int(is_kw.sum()), 1)
    n = max(len(y_true), 1)
    out = []
    for t in thresholds:
        accepted = fires_kw & (top >= t)
        hits = accepted & (pred == y_true) & is_kw
        false = accepted & (pred != y_true)
        out.append({"threshold": float(t), "recall": float(hits.sum() / n_kw),
                    "false_accept_rate": float(false.sum() / n), "false_accepts": int(false.sum())})
    return out


def pick_threshold(sweep: list[dict[str, float]], max_false_accept_rate: float = DEFAULT_MAX_FALSE_ACCEPT,
                   min_threshold: float = DEFAULT_MIN_THRESHOLD) -> dict:
    """The lowest threshold >= ``min_threshold`` (highest recall) whose false-accept rate meets the target.

    The floor keeps a keyword from firing on a weak top-1 score even when the
    validation set is too easy to need a threshold at all.
    """
    floor = [r for r in sweep if r["threshold"] >= min_threshold - 1e-9] or list(sweep)
    ok = [r for r in floor if r["false_accept_rate"] <= max_false_accept_rate]
    if ok:
        best = min(ok, key=lambda r: r["threshold"])
        return {**best, "target_false_accept_rate": max_false_accept_rate, "met": True}
    best = max(floor, key=lambda r: r["threshold"])
    return {**best, "target_false_accept_rate": max_false_accept_rate, "met": False}


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    n = len(labels)
    size = max(4.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=60, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_sweep(sweep: list[dict[str, float]], chosen: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    t = [r["threshold"] for r in sweep]
    ax.plot(t, [r["recall"] for r in sweep], label="recall")
    ax.plot(t, [r["false_accept_rate"] for r in sweep], label="false-accept rate")
    ax.axvline(chosen["threshold"], color="gray", linestyle="--", label=f"chosen {chosen['threshold']:.2f}")
    ax.set_xlabel("threshold (top-1 score)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclass
class Int8Outputs:
    tflm: np.ndarray
    mpyml: np.ndarray | None


def run_int8(tflite: bytes, x_float: np.ndarray, *, use_mpyml: str = "auto", progress: bool = True) -> Int8Outputs:
    """Quantize float inputs with the model's input parameters and run TFLM (and mpyml)."""
    tflm = TflmRunner(tflite)
    g = tflm.graph.input()
    xq = quantize_array(x_float.reshape(len(x_float), *g.shape[1:]), g.scale[0], g.zero_point[0])
    out_tflm = tflm.run(xq, progress=progress)
    out_mpyml = None
    if use_mpyml == "always" or (use_mpyml == "auto" and mpyml_runtime_available()):
        out_mpyml = MpymlRunner(tflite).run(xq, progress=progress)
        compare_exact(out_tflm, out_mpyml)
    return Int8Outputs(out_tflm, out_mpyml)


def scores_of(tflite_out: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return dequantize_array(tflite_out.reshape(len(tflite_out), -1), scale, zero_point)


def evaluate_run(run, *, use_mpyml: str = "auto", max_false_accept_rate: float = DEFAULT_MAX_FALSE_ACCEPT,
                 progress: bool = True, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate a trained, quantized run; writes artifacts/evaluation.json and plots."""
    from .inputs import load_inputs
    from .quantize import load_run_model
    from .tflite_model import read_model
    from .train import TrainConfig, setup_tensorflow

    if echo is not None:
        run.echo = echo
    cfg = TrainConfig.from_dict({k: v for k, v in run.config().items() if k != "created"})
    tflite_path = run.artifact("model_int8.tflite")
    if not tflite_path.is_file():
        raise MpymlError(f"{tflite_path} is missing: run `mpyml quantize {run.path}` first")
    tflite = tflite_path.read_bytes()
    setup_tensorflow(cfg.threads)
    model = load_run_model(run)
    test = load_inputs(cfg, "testing", progress=progress)
    val = load_inputs(cfg, "validation", progress=progress)
    labels = test.labels
    out_q = read_model(tflite).output()

    float_pred = model.predict(test.x, batch_size=256, verbose=0).argmax(axis=1)
    int8 = run_int8(tflite, test.x, use_mpyml=use_mpyml, progress=progress)
    tflm_scores = scores_of(int8.tflm, out_q.scale[0], out_q.zero_point[0])
    tflm_pred = tflm_scores.argmax(axis=1)
    result: dict[str, Any] = {"labels": labels, "test_examples": len(test)}
    result["float"] = classification_metrics(test.y, float_pred, labels)
    result["tflm_int8"] = classification_metrics(test.y, tflm_pred, labels)
    if int8.mpyml is not None:
        mp_pred = scores_of(int8.mpyml, out_q.scale[0], out_q.zero_point[0]).argmax(axis=1)
        result["mpyml_int8"] = classification_metrics(test.y, mp_pred, labels)
        result["mpyml_runtime"] = f"identical to TFLM on all {len(test)} test inputs"
    else:
        result["mpyml_int8"] = None
        result["mpyml_runtime"] = "not available (the mpyml runtime's host binding is not built)"
    result["float_int8_agreement"] = float(np.mean(float_pred == tflm_pred))

    val_int8 = run_int8(tflite, val.x, use_mpyml=use_mpyml, progress=progress)
    val_scores = scores_of(val_int8.tflm, out_q.scale[0], out_q.zero_point[0])
    sweep = threshold_sweep(val_scores, val.y, labels)
    chosen = pick_threshold(sweep, max_false_accept_rate)
    result["threshold"] = {"chosen": chosen, "sweep": sweep, "split": "validation", "scores": "tflm_int8"}

    for key, title in (("float", "float (Keras)"), ("tflm_int8", "int8 (TFLM)"), ("mpyml_int8", "int8 (mpyml)")):
        if result.get(key):
            plot_confusion(np.array(result[key]["confusion"]), labels, run.plots / f"confusion_{key}.png",
                           f"{cfg.model} {title}: {result[key]['accuracy']:.1%}")
    plot_sweep(sweep, chosen, run.plots / "threshold_sweep.png")
    run.write_json("evaluation.json", result)
    mp = result["mpyml_int8"]
    run.log(f"test ({len(test)}): float {result['float']['accuracy']:.4f}, TFLM int8 {result['tflm_int8']['accuracy']:.4f}, "
            f"mpyml int8 {mp['accuracy']:.4f}" if mp else
            f"test ({len(test)}): float {result['float']['accuracy']:.4f}, TFLM int8 {result['tflm_int8']['accuracy']:.4f}, "
            f"mpyml int8 n/a")
    run.log(f"float/int8 agreement {result['float_int8_agreement']:.4f}; threshold {chosen['threshold']:.2f} "
            f"(recall {chosen['recall']:.3f}, false accepts {chosen['false_accept_rate']:.4f} on validation)")
    return result


def per_class_table(metrics: dict[str, Any]) -> str:
    lines = [f"{'class':16s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for r in metrics["per_class"]:
        lines.append(f"{r['label']:16s} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:8d}")
    lines.append(f"{'accuracy':16s} {metrics['accuracy']:9.4f}   macro-F1 {metrics['macro_f1']:.4f}")
    return "\n".join(lines)
