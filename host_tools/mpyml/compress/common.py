"""Shared pieces of the compression stages: a run's data and model, int8 evaluation, latency, results."""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import MpymlError
from ..runs import Run, open_run

OUT_DIR = "compression"
Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Context:
    """A trained run with its three splits loaded as float model inputs."""

    run: Run
    cfg: Any  # mpyml.train.TrainConfig
    train: Any  # mpyml.inputs.Arrays
    val: Any
    test: Any
    echo: Echo

    @property
    def labels(self) -> list[str]:
        return list(self.test.labels)

    @property
    def out(self) -> Path:
        p = self.run.path / OUT_DIR
        (p / "plots").mkdir(parents=True, exist_ok=True)
        return p

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train.x.shape[1:])

    def write(self, name: str, data: dict[str, Any]) -> Path:
        return write_result(self.run.path / OUT_DIR, name, data)

    def representative(self, n: int | None = None) -> np.ndarray:
        n = n or self.cfg.representative_samples
        rng = np.random.default_rng(self.cfg.seed)
        return self.train.x[np.sort(rng.permutation(len(self.train))[:n])]


def _subset(a, n: int | None, seed: int):
    """At most n examples of a split (a fixed random choice), class order kept."""
    if n is None or n >= len(a):
        return a
    from ..inputs import Arrays

    pick = np.sort(np.random.default_rng(seed).permutation(len(a))[:n])
    return Arrays(a.x[pick], a.y[pick], a.labels)


def load_context(run_ref: str | Path | Run, *, max_train: int | None = None, max_eval: int | None = None,
                 echo: Echo | None = None, progress: bool = False) -> Context:
    """Open a run and load its training (not augmented), validation and test splits."""
    from ..inputs import load_inputs
    from ..train import TrainConfig, setup_tensorflow

    run = run_ref if isinstance(run_ref, Run) else open_run(run_ref)
    cfg = TrainConfig.from_dict({k: v for k, v in run.config().items() if k != "created"})
    setup_tensorflow(cfg.threads)
    _seed_everything(cfg.seed)
    va = _subset(load_inputs(cfg, "validation", progress=progress), max_eval, cfg.seed + 1)
    # max_train=0: a stage that only evaluates; the validation split stands in for calibration data.
    tr = va if max_train == 0 else _subset(load_inputs(cfg, "training", progress=progress), max_train, cfg.seed)
    te = _subset(load_inputs(cfg, "testing", progress=progress), max_eval, cfg.seed + 2)
    if not (tr.labels == va.labels == te.labels):
        raise MpymlError("the run's splits have different class lists")
    return Context(run, cfg, tr, va, te, echo or _quiet)


def _seed_everything(seed: int) -> None:
    """Seed Python, NumPy, Keras and TensorFlow's global generator (tf_keras draws from the latter)."""
    import tensorflow as tf

    from ..runs import set_seeds

    set_seeds(seed)
    tf.random.set_seed(seed)


def write_result(folder: Path, name: str, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_result(run: Run, name: str) -> dict[str, Any] | None:
    path = run.path / OUT_DIR / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise MpymlError(f"{path}: invalid JSON: {e}") from e


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else 0.0


def keras_scores(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=256, verbose=0))


def keras_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return accuracy(keras_scores(model, x).argmax(axis=1), y)


@dataclass
class Int8Eval:
    accuracy: float
    scores: np.ndarray  # dequantized outputs [N, classes]
    bit_exact: bool | None  # mpyml runtime == TFLM on every input (None: runtime not built)


def runtime_arena_size(tflite: bytes) -> int:
    """A generous explicit arena for the mpyml runtime on the host (4x TFLM's total, at least 64 KB).

    Host-side evaluation does not need the tightest arena; an explicit size
    also keeps clear of the runtime's arena auto-sizing.
    """
    from ..interpreters import tflm_arena_bytes

    return max(4 * tflm_arena_bytes(tflite), 65536)


def mpyml_runner(tflite: bytes):
    from ..interpreters import MpymlRunner

    return MpymlRunner(tflite, arena_size=runtime_arena_size(tflite))


def mpyml_arena(tflite: bytes) -> int | None:
    """The arena the mpyml runtime's planner needs for a model (None without the host binding)."""
    from ..interpreters import mpyml_runtime_available

    return mpyml_runner(tflite).arena_used if mpyml_runtime_available() else None


def int8_eval(tflite: bytes, x: np.ndarray, y: np.ndarray, *, use_mpyml: bool = True) -> Int8Eval:
    """Run an int8 model on float inputs in TFLM and the mpyml runtime; they must agree byte for byte.

    Raises ``RuntimeMismatchError`` on any difference.
    """
    from ..evaluate import scores_of
    from ..interpreters import TflmRunner, compare_exact, mpyml_runtime_available
    from ..tflite_model import read_model

    xq = quantize_inputs(tflite, x)
    out = TflmRunner(tflite).run(xq, progress=False)
    exact = None
    if use_mpyml and mpyml_runtime_available():
        compare_exact(out, mpyml_runner(tflite).run(xq, progress=False))
        exact = True
    q = read_model(tflite).output()
    scores = scores_of(out, q.scale[0], q.zero_point[0])
    return Int8Eval(accuracy(scores.argmax(axis=1), y), scores, exact)


def quantize_inputs(tflite: bytes, x: np.ndarray) -> np.ndarray:
    from ..quantize import quantize_array
    from ..tflite_model import read_model

    g = read_model(tflite).input()
    return quantize_array(np.asarray(x).reshape(len(x), *g.shape[1:]), g.scale[0], g.zero_point[0])


def latencies_ms(models: dict[str, bytes], x_float: np.ndarray, *, repeats: int = 5,
                 samples: int = 64) -> dict[str, float]:
    """Mean invoke time (ms) per model in the mpyml runtime, measured interleaved in this process.

    Each model runs the same ``samples`` inputs ``repeats`` times, rounds
    alternating between the models so that load changes on the machine hit
    all of them alike; the best round counts.
    """
    from ..interpreters import mpyml_runtime_available

    if not mpyml_runtime_available():
        raise MpymlError("latency needs the mpyml runtime's host binding (mpyml._native); build it first")
    from ..runtime import Interpreter

    xs = x_float[:samples]
    prepared = {}
    for name, tfl in models.items():
        it = Interpreter(tfl, runtime_arena_size(tfl))
        prepared[name] = (it, quantize_inputs(tfl, xs))
        it.evaluate(prepared[name][1][:2])  # warm up
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, (it, xq) in prepared.items():
            t = time.perf_counter()
            it.evaluate(xq)
            best[name] = min(best[name], (time.perf_counter() - t) * 1000.0 / len(xq))
    return best


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(bytes(data), compresslevel=9, mtime=0))


def model_facts(tflite: bytes) -> dict[str, Any]:
    """Flash (model bytes), gzip size, weights, MACs and arena of an int8 model."""
    from ..analyze import analyze

    from ..interpreters import tflm_arena_bytes

    a = analyze(tflite, with_arena=False)
    tflm, mpyml = tflm_arena_bytes(tflite), mpyml_arena(tflite)
    return {"flash_bytes": len(tflite), "gzip_bytes": gzip_size(tflite), "weights": a.weights, "macs": a.macs,
            "arena_bytes": mpyml or tflm, "arena_tflm": tflm, "arena_mpyml": mpyml, "ops": a.ops}


def plot_lines(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]], *, xlabel: str, ylabel: str,
               title: str, xlog: bool = False, hline: tuple[float, str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), marker="o", label=name)
    if hline is not None:
        ax.axhline(hline[0], color="gray", linestyle="--", label=hline[1])
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def parse_floats(text: str | Sequence[float], what: str, lo: float, hi: float) -> list[float]:
    """'0.5,0.9' -> [0.5, 0.9], each within [lo, hi]."""
    if isinstance(text, str):
        try:
            vals = [float(t) for t in text.replace(" ", "").split(",") if t]
        except ValueError as e:
            raise MpymlError(f"{what}: expected comma-separated numbers, got {text!r}") from e
    else:
        vals = [float(v) for v in text]
    if not vals:
        raise MpymlError(f"{what}: give at least one value")
    bad = [v for v in vals if not lo <= v <= hi]
    if bad:
        raise MpymlError(f"{what}: values must be in [{lo}, {hi}], got {bad}")
    return vals


def one_hot(y: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(y), n), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def fit(keras_mod, model, ctx: Context, *, epochs: int, learning_rate: Any, callbacks: list | None = None,
        label_smoothing: float | None = None, desc: str = "fine-tune") -> list[dict[str, float]]:
    """Compile and fit a classifier on the run's training split; returns per-epoch rows."""
    n = len(ctx.labels)
    model.compile(optimizer=keras_mod.optimizers.Adam(learning_rate=learning_rate),
                  loss=keras_mod.losses.CategoricalCrossentropy(
                      label_smoothing=ctx.cfg.label_smoothing if label_smoothing is None else label_smoothing),
                  metrics=["accuracy"])
    rows: list[dict[str, float]] = []
    if epochs <= 0:
        return rows
    h = model.fit(ctx.train.x, one_hot(ctx.train.y, n), validation_data=(ctx.val.x, one_hot(ctx.val.y, n)),
                  epochs=epochs, batch_size=ctx.cfg.batch_size, shuffle=True, verbose=0, callbacks=callbacks or [])
    for e in range(len(h.history.get("loss", []))):
        rows.append({k: float(v[e]) for k, v in h.history.items()} | {"epoch": e + 1})
    if rows:
        ctx.echo(f"{desc}: {len(rows)} epochs, val_accuracy {rows[-1].get('val_accuracy', float('nan')):.4f}")
    return rows
