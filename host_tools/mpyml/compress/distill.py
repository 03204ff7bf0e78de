"""Knowledge distillation: a small student learns from a larger teacher's soft targets.

The teacher is the run's trained model. Two copies of the same student
(same architecture, same initial weights, same data, epochs and schedule)
are trained: one on the hard labels only, one on

    alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))

with the teacher's logits computed once on the (unaugmented) training set.
Both students are exported to int8 and the delta is reported as measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MpymlError
from .common import Context, int8_eval, keras_accuracy, model_facts, one_hot, plot_lines

LOGITS_LAYER = "logits"


def _logits_model(model):
    import keras

    try:
        layer = model.get_layer(LOGITS_LAYER)
    except ValueError as e:
        raise MpymlError(f"model {model.name} has no '{LOGITS_LAYER}' layer (zoo models have one)") from e
    return keras.Model(model.inputs, layer.output)


def _kd_loss(n_classes: int, temperature: float, alpha: float):
    import keras
    from keras import ops

    def loss(y_true, logits):
        hard, soft = y_true[:, :n_classes], y_true[:, n_classes:]
        ce = keras.losses.categorical_crossentropy(hard, logits, from_logits=True)
        log_p = ops.log_softmax(logits / temperature, axis=-1)
        kl = ops.sum(soft * (ops.log(ops.maximum(soft, 1e-8)) - log_p), axis=-1)
        return alpha * ce + (1.0 - alpha) * (temperature ** 2) * kl

    return loss


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def run_distill(ctx: Context, *, student: str = "tiny_conv", student_params: dict[str, Any] | None = None,
                temperature: float = 4.0, alpha: float = 0.3, epochs: int = 10, learning_rate: float | None = None,
                progress: bool = True) -> dict[str, Any]:
    import keras

    from ..models import build_model
    from ..quantize import load_run_model, quantize_int8
    from ..runs import set_seeds

    if temperature <= 0:
        raise MpymlError(f"temperature must be > 0 (got {temperature})")
    if not 0.0 <= alpha <= 1.0:
        raise MpymlError(f"alpha must be in [0, 1] (got {alpha})")
    if epochs < 1:
        raise MpymlError("distillation needs at least one epoch")
    lr = learning_rate or ctx.cfg.learning_rate
    n = len(ctx.labels)
    teacher = load_run_model(ctx.run)
    teacher_logits = np.asarray(_logits_model(teacher).predict(ctx.train.x, batch_size=256, verbose=0))
    soft = _softmax(teacher_logits / temperature).astype(np.float32)
    teacher_acc = keras_accuracy(teacher, ctx.test.x, ctx.test.y)
    set_seeds(ctx.cfg.seed)
    init = build_model(student, ctx.input_shape, n, **(student_params or {}))
    init_weights = init.get_weights()
    rep = ctx.representative()
    results: dict[str, Any] = {}
    curves: dict[str, list[float]] = {}
    for mode in ("hard_labels", "distilled"):
        set_seeds(ctx.cfg.seed)
        m = keras.models.clone_model(init)
        m.set_weights(init_weights)
        lm = _logits_model(m)
        if mode == "hard_labels":
            y = one_hot(ctx.train.y, n)
            loss = _kd_loss(n, temperature, 1.0)
            y = np.concatenate([y, y], axis=1)
        else:
            y = np.concatenate([one_hot(ctx.train.y, n), soft], axis=1)
            loss = _kd_loss(n, temperature, alpha)
        lm.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss)
        val_acc: list[float] = []

        class Track(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                val_acc.append(keras_accuracy(m, ctx.val.x, ctx.val.y))

        sched = keras.callbacks.LearningRateScheduler(
            lambda e, _: lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * e / max(epochs, 1)))))
        lm.fit(ctx.train.x, y, epochs=epochs, batch_size=ctx.cfg.batch_size, shuffle=True, verbose=0,
               callbacks=[sched, Track()])
        tfl = quantize_int8(m, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
        (ctx.out / f"student_{mode}_int8.tflite").write_bytes(tfl)
        ev = int8_eval(tfl, ctx.test.x, ctx.test.y)
        results[mode] = {"float": keras_accuracy(m, ctx.test.x, ctx.test.y), "int8": ev.accuracy,
                         "val_per_epoch": val_acc, "params": int(m.count_params())}
        curves[mode] = val_acc
        ctx.echo(f"student ({mode.replace('_', ' ')}): float {results[mode]['float']:.4f}, int8 {ev.accuracy:.4f}")
        facts = model_facts(tfl)
    result = {
        "teacher": {"model": ctx.cfg.model, "params": int(teacher.count_params()), "float": teacher_acc},
        "student": {"model": student, "params_override": student_params or {}, "facts": facts},
        "temperature": temperature, "alpha": alpha, "epochs": epochs, "learning_rate": lr,
        "test_examples": len(ctx.test), **results,
        "delta_float": results["distilled"]["float"] - results["hard_labels"]["float"],
        "delta_int8": results["distilled"]["int8"] - results["hard_labels"]["int8"],
    }
    ep = list(range(1, epochs + 1))
    plot_lines(ctx.out / "plots" / "distill.png",
               {"hard labels": (ep, curves["hard_labels"]), "distilled": (ep, curves["distilled"])},
               xlabel="epoch", ylabel="validation accuracy (float)", title=f"Student {student}: distillation",
               hline=(teacher_acc, "teacher (test)"))
    ctx.write("distill", result)
    ctx.echo(f"distillation delta: {100 * result['delta_int8']:+.2f} points int8, "
             f"{100 * result['delta_float']:+.2f} points float")
    return result
