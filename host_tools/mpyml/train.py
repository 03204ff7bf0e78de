"""Training a zoo model into a run folder.

A :class:`TrainConfig` (from a YAML/JSON file or CLI options) names the model,
the data and the training settings: label smoothing, class weights, a cosine
or step learning-rate schedule, early stopping on validation accuracy (best
weights restored), checkpoints, and a metrics.csv row per epoch. After
training the float model is saved and, unless disabled, quantized to int8
(``mpyml.quantize``) with a representative set drawn from the training data.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import MpymlError
from .models import build_model, get_spec
from .runs import Run, create_run, set_seeds

SCHEDULES = ("cosine", "step", "constant")


@dataclass
class TrainConfig:
    model: str
    data: str
    words: list[str] = field(default_factory=list)
    name: str | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    unknown_percentage: float = 10.0
    silence_percentage: float = 10.0
    augment: dict[str, Any] | None = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.003
    lr_schedule: str = "cosine"
    lr_step_epochs: int = 10
    lr_step_gamma: float = 0.3
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    class_weights: str | None = "balanced"
    early_stopping_patience: int = 8
    seed: int = 1
    quantize: bool = True
    representative_samples: int = 300
    threads: int = 2

    def __post_init__(self) -> None:
        get_spec(self.model)  # unknown model -> error listing the zoo
        if isinstance(self.words, str):
            self.words = [w for w in self.words.replace(",", " ").split() if w]
        self.words = [str(w) for w in self.words]
        if self.lr_schedule not in SCHEDULES:
            raise MpymlError(f"lr_schedule {self.lr_schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.class_weights not in (None, "none", "balanced"):
            raise MpymlError(f"class_weights {self.class_weights!r}: use 'balanced' or null")
        for name in ("epochs", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise MpymlError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if not 0 <= self.label_smoothing < 1:
            raise MpymlError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing})")
        if self.learning_rate <= 0:
            raise MpymlError(f"learning_rate must be > 0 (got {self.learning_rate})")
        if not isinstance(self.model_params, dict) or not isinstance(self.features, dict):
            raise MpymlError("model_params and features must be mappings")
        self.feature_config()  # validate early

    def feature_config(self):
        from .features import FeatureConfig

        try:
            return FeatureConfig.from_dict(dict(self.features))
        except (TypeError, ValueError) as e:
            raise MpymlError(f"features: {e}") from e

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise MpymlError("a training configuration must be a mapping of settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise MpymlError(f"unknown configuration keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        missing = [k for k in ("model", "data") if k not in d]
        if missing:
            raise MpymlError(f"the configuration needs {', '.join(missing)}")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise MpymlError(f"{path}: cannot read the configuration: {e}") from e
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                data = _load_yaml(text)
            else:
                data = json.loads(text)
        except Exception as e:  # yaml and json raise their own error types
            raise MpymlError(f"{path}: invalid {path.suffix.lstrip('.').upper() or 'JSON'}: {e}") from e
        if not isinstance(data, dict):
            raise MpymlError(f"{path}: the configuration must be a mapping of settings")
        data.update({k: v for k, v in overrides.items() if v is not None})
        if "data" in data and not Path(data["data"]).is_absolute():
            candidate = path.parent / data["data"]
            if candidate.exists() and not Path(data["data"]).exists():
                data["data"] = str(candidate)
        return cls.from_dict(data)


def _load_yaml(text: str) -> Any:
    """YAML with only true/false as booleans: keywords such as yes, no, on, off stay strings."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    return yaml.load(text, Loader=Loader)


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate for a 0-based epoch: linear warm-up, then the schedule."""
    base = cfg.learning_rate
    if epoch < cfg.warmup_epochs:
        return base * (epoch + 1) / (cfg.warmup_epochs + 1)
    e = epoch - cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1)
    if cfg.lr_schedule == "cosine":
        return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * e / span)))
    if cfg.lr_schedule == "step":
        return base * cfg.lr_step_gamma ** (e // max(cfg.lr_step_epochs, 1))
    return base


def balanced_class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = len(y) / (present.sum() * counts[present])
    return {i: float(v) for i, v in enumerate(w)}


def setup_tensorflow(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process: keep its setting
    # Same seed, same data -> the same weights (multi-threaded reductions otherwise vary).
    tf.config.experimental.enable_op_determinism()


@dataclass
class TrainResult:
    run: Run
    epochs_run: int
    best_epoch: int
    val_accuracy: float
    seconds: float


def _plot_history(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(ep, [r["loss"] for r in rows], label="training")
    a.plot(ep, [r["val_loss"] for r in rows], label="validation")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend()
    b.plot(ep, [r["accuracy"] for r in rows], label="training")
    b.plot(ep, [r["val_accuracy"] for r in rows], label="validation")
    b.set_xlabel("epoch"), b.set_ylabel("accuracy"), b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(cfg: TrainConfig, *, runs_root: Path | None = None, overwrite: bool = False,
          echo: Callable[[str], None] | None = print, progress: bool = True) -> TrainResult:
    """Train ``cfg.model`` and write the run folder; returns where it went."""
    from .inputs import load_inputs

    start = time.monotonic()
    run = create_run(cfg.name, cfg.to_dict(), root=runs_root, overwrite=overwrite, echo=echo)
    run.log(f"run {run.path}")
    setup_tensorflow(cfg.threads)
    set_seeds(cfg.seed)
    import keras

    train_set = load_inputs(cfg, "training", augment=True, progress=progress)
    val_set = load_inputs(cfg, "validation", progress=progress)
    if train_set.labels != val_set.labels:
        raise MpymlError(f"training and validation class lists differ: {train_set.labels} vs {val_set.labels}")
    labels = train_set.labels
    n_classes = len(labels)
    run.log(f"training {len(train_set)} examples {train_set.counts()}")
    run.log(f"validation {len(val_set)} examples {val_set.counts()}")
    absent = [n for n, c in train_set.counts().items() if c == 0]
    if absent:
        raise MpymlError(f"classes without training examples: {', '.join(absent)}")
    run.write_json("labels.json", labels)
    if Path(cfg.data).suffix != ".npz":
        run.write_json("features.json", cfg.feature_config().to_dict())

    model = build_model(cfg.model, train_set.x.shape[1:], n_classes, **cfg.model_params)
    run.log(f"model {cfg.model}: {model.count_params()} parameters, input {list(train_set.x.shape[1:])}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )
    y_train = keras.utils.to_categorical(train_set.y, n_classes)
    y_val = keras.utils.to_categorical(val_set.y, n_classes)
    weights = balanced_class_weights(train_set.y, n_classes) if cfg.class_weights == "balanced" else None

    best = {"val_accuracy": -1.0, "epoch": 0}
    history: list[dict[str, Any]] = []
    epoch_start = [time.monotonic()]

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epoch_start[0] = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {
                "epoch": epoch + 1,
                "lr": round(lr_at(cfg, epoch), 8),
                "loss": round(float(logs.get("loss", float("nan"))), 6),
                "accuracy": round(float(logs.get("accuracy", float("nan"))), 6),
                "val_loss": round(float(logs.get("val_loss", float("nan"))), 6),
                "val_accuracy": round(float(logs.get("val_accuracy", float("nan"))), 6),
                "seconds": round(time.monotonic() - epoch_start[0], 2),
            }
            history.append(row)
            run.append_metrics(row)
            if row["val_accuracy"] > best["val_accuracy"]:
                best.update(val_accuracy=row["val_accuracy"], epoch=row["epoch"])
            run.log(f"epoch {row['epoch']}/{cfg.epochs} loss {row['loss']:.4f} acc {row['accuracy']:.4f} "
                    f"val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f} lr {row['lr']:.2e} "
                    f"({row['seconds']:.1f} s)")

    class BatchProgress(keras.callbacks.Callback):
        """A tqdm bar per epoch (Keras' own bar would interleave with the log lines)."""

        bar = None

        def on_epoch_begin(self, epoch, logs=None):
            from tqdm import tqdm

            steps = math.ceil(len(train_set) / cfg.batch_size)
            self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)

        def on_train_batch_end(self, batch, logs=None):
            if self.bar is not None:
                self.bar.update()

        def on_epoch_end(self, epoch, logs=None):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda e, lr: lr_at(cfg, e)),
        keras.callbacks.ModelCheckpoint(str(run.checkpoints / "best.keras"), monitor="val_accuracy",
                                        save_best_only=True, mode="max"),
        keras.callbacks.ModelCheckpoint(str(run.checkpoints / "last.keras")),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=cfg.early_stopping_patience,
                                      restore_best_weights=True),
        EpochLog(),
    ]
    if progress and echo is not None:
        callbacks.insert(0, BatchProgress())
    model.fit(train_set.x, y_train, validation_data=(val_set.x, y_val), epochs=cfg.epochs,
              batch_size=cfg.batch_size, class_weight=weights, shuffle=True, callbacks=callbacks,
              verbose=0)
    if not history:
        raise MpymlError("training ran no epoch")
    # EarlyStopping restores the best weights only when it stops early: load them in every case.
    model = keras.models.load_model(run.checkpoints / "best.keras")
    model.save(run.artifact("model_float.keras"))
    _plot_history(history, run.plots / "training.png")
    run.log(f"best epoch {best['epoch']} val_accuracy {best['val_accuracy']:.4f}")

    if cfg.quantize:
        from .quantize import quantize_run

        quantize_run(run, model=model, representative=train_set.x)
    seconds = time.monotonic() - start
    run.log(f"training finished in {seconds:.0f} s")
    return TrainResult(run, len(history), int(best["epoch"]), float(best["val_accuracy"]), seconds)
