"""Unstructured pruning: magnitude (L1) pruning over a sparsity sweep.

Two ways to choose the zeros, both hitting the target sparsity exactly (over
all kernels of convolutions, depthwise convolutions and dense layers):

* ``layer`` (default): every layer is pruned at the same rate, removing its
  own smallest weights, so raw kernel scales (arbitrary with BatchNorm after a
  convolution, small in the first convolution because of the input scale) do
  not decide which layer is emptied. The first and the last prunable layers
  (first convolution, final classifier) are protected: pruned at most
  ``protected_sparsity`` (0 exempts them); the other layers take up the rest
  so the overall sparsity stays exact. Only when the others would pass
  ``max(sparsity, 0.98)`` does the excess spill into the protected layers.
* ``global``: one threshold for all kernels (the plain global ranking).

Each sparsity is measured twice: pruned in one shot (no fine-tuning) and
fine-tuned. Fine-tuning with the ``gradual`` schedule starts from the dense
model and raises the sparsity along a cubic (polynomial decay) curve from 0 to
the target over the first ``ramp`` share of the training steps, recomputing
the masks from the current weights every few steps and re-applying them after
every step; the remaining steps train at the final mask. ``oneshot`` prunes
first and fine-tunes with the mask held. Every model is exported to int8 (the
zeros survive: BatchNorm folding scales whole channels and zero quantizes to
zero) and evaluated in TFLM / the mpyml runtime.

Sizes are honest: the .tflite stays the same size (dense kernels store every
zero); only a compressed copy shrinks (gzip, as a proxy for a sparse storage
format). Dense kernels do no less work on zeros, so latency does not drop;
the sweep measures it to show that.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from ..errors import MpymlError
from .common import (Context, fit, gzip_size, int8_eval, keras_accuracy, latencies_ms, model_facts, plot_lines)

DEFAULT_SPARSITIES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
PRUNABLE = ("Conv2D", "DepthwiseConv2D", "Dense")


def prunable_kernels(model) -> list[tuple[Any, int]]:
    """(layer, index of its kernel in get_weights()) for every prunable layer."""
    out = []
    for layer in model.layers:
        if type(layer).__name__ in PRUNABLE and layer.get_weights():
            out.append((layer, 0))
    if not out:
        raise MpymlError(f"model {model.name} has no convolution or dense kernels to prune")
    return out


def global_masks(model, sparsity: float) -> dict[str, np.ndarray]:
    """Masks (1 keep, 0 prune) for a global magnitude threshold at ``sparsity``."""
    kernels = {layer.name: layer.get_weights()[i] for layer, i in prunable_kernels(model)}
    allw = np.concatenate([np.abs(k).ravel() for k in kernels.values()])
    k = int(round(sparsity * allw.size))
    if k <= 0:
        return {n: np.ones_like(w) for n, w in kernels.items()}
    # Exactly k weights go: ties at the threshold are broken by position.
    order = np.argsort(allw, kind="stable")
    flat = np.ones(allw.size, dtype=np.float32)
    flat[order[:k]] = 0.0
    masks, pos = {}, 0
    for n, w in kernels.items():
        masks[n] = flat[pos:pos + w.size].reshape(w.shape)
        pos += w.size
    return masks


METHODS = ("layer", "global")
SCHEDULES = ("gradual", "oneshot")
SPILL_LIMIT = 0.98


def _spread(total: int, sizes: list[int], caps: list[int]) -> list[int]:
    """Split ``total`` removals over layers in proportion to their sizes, each at most its cap (exact sum)."""
    out = [0] * len(sizes)
    left = total
    open_ = [i for i in range(len(sizes)) if caps[i] > 0]
    while left > 0 and open_:
        room = sum(sizes[i] for i in open_)
        rate = left / room
        want = {i: rate * sizes[i] for i in open_}
        capped = [i for i in open_ if out[i] + want[i] >= caps[i]]
        if capped:
            # Layers that reach their cap take it; the rest is shared again by the others.
            for i in capped:
                left -= caps[i] - out[i]
                out[i] = caps[i]
            open_ = [i for i in open_ if i not in capped]
            continue
        base = {i: int(np.floor(want[i])) for i in open_}
        for i in open_:
            out[i] += base[i]
        left -= sum(base.values())
        # Largest remainders get the last few, one each.
        for i in sorted(open_, key=lambda j: (-(want[j] - base[j]), j))[:left]:
            out[i] += 1
        left = 0
    if left > 0:
        raise MpymlError("sparsity cannot be reached with these layer limits")
    return out


def layer_plan(sizes: list[int], sparsity: float, protected: Sequence[int] = (),
               protected_sparsity: float = 0.5) -> list[int]:
    """Weights to remove per layer: uniform over unprotected layers, exact in total.

    Protected layers are pruned at most ``min(sparsity, protected_sparsity)``;
    unprotected ones at most ``max(sparsity, 0.98)``, past which the excess
    goes to the protected layers (up to emptying them)."""
    if not 0.0 <= sparsity < 1.0:
        raise MpymlError(f"sparsity must be in [0, 1), got {sparsity}")
    if not 0.0 <= protected_sparsity <= 1.0:
        raise MpymlError(f"protected sparsity must be in [0, 1], got {protected_sparsity}")
    total = int(round(sparsity * sum(sizes)))
    prot = set(protected)
    p_rate = min(sparsity, protected_sparsity)
    first = [int(np.floor(p_rate * n)) if i in prot else 0 for i, n in enumerate(sizes)]
    limit = max(sparsity, SPILL_LIMIT)
    caps = [0 if i in prot else int(np.floor(limit * n)) for i, n in enumerate(sizes)]
    rest = total - sum(first)
    take = _spread(min(rest, sum(caps)), sizes, caps)
    spill = rest - sum(take)
    if spill > 0:
        extra = _spread(spill, sizes, [n - f if i in prot else 0 for i, (n, f) in enumerate(zip(sizes, first))])
        take = [t + e for t, e in zip(take, extra)]
    return [f + t for f, t in zip(first, take)]


def layer_masks(model, sparsity: float, *, protect_first: bool = True, protect_last: bool = True,
                protected_sparsity: float = 0.5) -> dict[str, np.ndarray]:
    """Masks (1 keep, 0 prune): each layer loses its smallest weights, at the rates of :func:`layer_plan`."""
    layers = prunable_kernels(model)
    kernels = {layer.name: layer.get_weights()[i] for layer, i in layers}
    protected = []
    if protect_first:
        protected.append(0)
    if protect_last and len(layers) - 1 not in protected:
        protected.append(len(layers) - 1)
    plan = layer_plan([w.size for w in kernels.values()], sparsity, protected, protected_sparsity)
    masks = {}
    for (n, w), k in zip(kernels.items(), plan):
        flat = np.ones(w.size, dtype=np.float32)
        # Exactly k weights go: ties broken by position.
        flat[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = 0.0
        masks[n] = flat.reshape(w.shape)
    return masks


def make_masks(model, sparsity: float, method: str = "layer", **layer_options: Any) -> dict[str, np.ndarray]:
    if method == "global":
        return global_masks(model, sparsity)
    if method == "layer":
        return layer_masks(model, sparsity, **layer_options)
    raise MpymlError(f"unknown pruning method {method!r} (one of {', '.join(METHODS)})")


def polynomial_sparsity(step: int, ramp_steps: int, target: float, power: int = 3) -> float:
    """Sparsity at ``step`` of a ramp from 0 to ``target`` (polynomial decay of the dense share)."""
    if ramp_steps <= 0 or step >= ramp_steps:
        return target
    return target * (1.0 - (1.0 - step / ramp_steps) ** power)


def layer_sparsities(model) -> dict[str, float]:
    return {layer.name: float(np.mean(layer.get_weights()[i] == 0)) for layer, i in prunable_kernels(model)}


def apply_masks(model, masks: dict[str, np.ndarray]) -> None:
    for layer in model.layers:
        if layer.name in masks:
            w = layer.get_weights()
            w[0] = w[0] * masks[layer.name]
            layer.set_weights(w)


def sparsity_of(model) -> tuple[int, int, int]:
    """(zero kernel weights, prunable kernel weights, all parameters)."""
    zeros = total = 0
    for layer, i in prunable_kernels(model):
        k = layer.get_weights()[i]
        zeros += int(np.sum(k == 0))
        total += k.size
    return zeros, total, int(model.count_params())


def int8_kernel_zeros(tflite: bytes) -> tuple[int, int]:
    """Zero bytes among the int8 weight tensors of an exported model (do the zeros survive?)."""
    from ..tflite_model import _schema

    schema = _schema()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(tflite), 0))
    sub = m.subgraphs[0]
    zeros = total = 0
    for op in sub.operators:
        name = m.operatorCodes[op.opcodeIndex]
        code = max(int(name.builtinCode), int(name.deprecatedBuiltinCode))
        if code not in (schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D,
                        schema.BuiltinOperator.FULLY_CONNECTED):
            continue
        t = sub.tensors[op.inputs[1]]
        buf = m.buffers[t.buffer].data
        if buf is None:
            continue
        w = np.asarray(buf, dtype=np.uint8).view(np.int8)
        zeros += int(np.sum(w == 0))
        total += w.size
    return zeros, total


def _clone(model):
    import keras

    c = keras.models.clone_model(model)
    c.set_weights(model.get_weights())
    return c


class _Pruner:
    """Keras callback: masks re-applied after every training step, recomputed along the schedule."""

    def __init__(self, keras_mod, model, target: float, method: str, layer_options: dict[str, Any],
                 steps: int, schedule: str, ramp: float, updates: int) -> None:
        self.model_ = model
        self.target, self.method, self.options = target, method, layer_options
        self.ramp_steps = int(round(ramp * steps)) if schedule == "gradual" else 0
        self.every = max(1, self.ramp_steps // max(updates, 1))
        self.step = 0
        self.masks = make_masks(model, polynomial_sparsity(0, self.ramp_steps, target), method, **layer_options)
        apply_masks(model, self.masks)
        parent = self

        class Callback(keras_mod.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                parent.after_step()

        self.callback = Callback()

    def after_step(self) -> None:
        self.step += 1
        if self.ramp_steps and self.step <= self.ramp_steps and (self.step % self.every == 0
                                                                 or self.step == self.ramp_steps):
            s = polynomial_sparsity(self.step, self.ramp_steps, self.target)
            self.masks = make_masks(self.model_, s, self.method, **self.options)
        apply_masks(self.model_, self.masks)

    def finish(self) -> None:
        # Short runs may end inside the ramp: the final mask is always the target one.
        self.masks = make_masks(self.model_, self.target, self.method, **self.options)
        apply_masks(self.model_, self.masks)


def run_prune(ctx: Context, *, sparsities: Sequence[float] = DEFAULT_SPARSITIES, epochs: int = 2,
              learning_rate: float | None = None, progress: bool = True, method: str = "layer",
              protect_first: bool = True, protect_last: bool = True, protected_sparsity: float = 0.5,
              schedule: str = "gradual", ramp: float = 0.6, updates: int = 16) -> dict[str, Any]:
    import keras

    from ..quantize import load_run_model, quantize_int8

    if epochs < 0:
        raise MpymlError("epochs must be >= 0")
    if method not in METHODS:
        raise MpymlError(f"unknown pruning method {method!r} (one of {', '.join(METHODS)})")
    if schedule not in SCHEDULES:
        raise MpymlError(f"unknown pruning schedule {schedule!r} (one of {', '.join(SCHEDULES)})")
    if not 0.0 < ramp <= 1.0:
        raise MpymlError(f"ramp must be in (0, 1], got {ramp}")
    if updates < 1:
        raise MpymlError("updates must be >= 1")
    options = {"protect_first": protect_first, "protect_last": protect_last,
               "protected_sparsity": protected_sparsity} if method == "layer" else {}
    steps = epochs * -(-len(ctx.train.x) // ctx.cfg.batch_size)
    lr = learning_rate or ctx.cfg.learning_rate * 0.1
    base = load_run_model(ctx.run)
    rep = ctx.representative()
    base_tfl = quantize_int8(base, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
    base_ev = int8_eval(base_tfl, ctx.test.x, ctx.test.y)
    _, prunable, params = sparsity_of(base)
    base_row = {"sparsity": 0.0, "fine_tuned": False, "float": keras_accuracy(base, ctx.test.x, ctx.test.y),
                "int8": base_ev.accuracy, "nonzero_params": params - sparsity_of(base)[0], "params": params,
                "tflite_bytes": len(base_tfl), "gzip_bytes": gzip_size(base_tfl)}
    rows = [base_row]
    densest = None
    for s in tqdm(sorted(sparsities), desc="sparsities", unit="level", disable=not progress, leave=False):
        masks = make_masks(base, s, method, **options)
        for tuned in (False, True):
            if tuned and epochs == 0:
                continue
            m = _clone(base)
            if tuned:
                pruner = _Pruner(keras, m, s, method, options, steps, schedule, ramp, updates)
                fit(keras, m, ctx, epochs=epochs, learning_rate=lr, callbacks=[pruner.callback],
                    desc=f"sparsity {s:.2f} fine-tune")
                pruner.finish()
            else:
                apply_masks(m, masks)
            zeros, _, _ = sparsity_of(m)
            tfl = quantize_int8(m, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
            ev = int8_eval(tfl, ctx.test.x, ctx.test.y)
            z8, t8 = int8_kernel_zeros(tfl)
            row = {"sparsity": s, "fine_tuned": tuned, "float": keras_accuracy(m, ctx.test.x, ctx.test.y),
                   "int8": ev.accuracy, "achieved_sparsity": zeros / prunable, "int8_kernel_sparsity": z8 / max(t8, 1),
                   "nonzero_params": params - zeros, "params": params, "tflite_bytes": len(tfl),
                   "gzip_bytes": gzip_size(tfl), "layer_sparsity": layer_sparsities(m)}
            rows.append(row)
            if tuned or epochs == 0:
                densest = (s, tfl)
            ctx.echo(f"sparsity {s:.2f} {'fine-tuned' if tuned else 'no fine-tune'}: float {row['float']:.4f} "
                     f"int8 {row['int8']:.4f}, non-zero {row['nonzero_params']:,d}/{params:,d}, "
                     f"gzip {row['gzip_bytes']:,d} B (dense {base_row['gzip_bytes']:,d} B)")
    lat = {}
    if densest is not None:
        lat = latencies_ms({"dense": base_tfl, f"sparsity {densest[0]:.2f}": densest[1]}, ctx.test.x)
        ctx.echo("latency (mpyml runtime, ms): " + ", ".join(f"{k} {v:.3f}" for k, v in lat.items()))
    result = {"epochs": epochs, "learning_rate": lr, "method": method, "schedule": schedule, "ramp": ramp,
              "protect_first": protect_first, "protect_last": protect_last,
              "protected_sparsity": protected_sparsity, "test_examples": len(ctx.test), "prunable_weights": prunable,
              "rows": rows, "latency_ms": lat, "base_facts": model_facts(base_tfl),
              "note": "Dense int8 kernels store and multiply every zero: the .tflite size and the latency stay "
                      "the same; only a compressed copy (gzip) shrinks."}
    plot_prune(ctx.out / "plots" / "prune.png", result)
    ctx.write("prune", result)
    return result


def plot_prune(path, result: dict[str, Any]) -> None:
    """Accuracy vs non-zero parameters, one line with and one without fine-tuning."""
    rows = result["rows"]
    series = {}
    for tuned, name in ((False, "no fine-tuning"), (True, "fine-tuned")):
        pts = sorted((r for r in rows[1:] if r["fine_tuned"] == tuned), key=lambda r: r["nonzero_params"])
        if pts:
            series[name] = ([r["nonzero_params"] for r in pts], [r["int8"] for r in pts])
    plot_lines(path, series, xlabel="non-zero parameters", ylabel="int8 test accuracy",
               title=f"Magnitude pruning ({result.get('method', 'global')}, {result.get('schedule', 'oneshot')} "
                     "fine-tuning)", xlog=True, hline=(rows[0]["int8"], "unpruned int8"))
