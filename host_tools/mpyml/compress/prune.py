"""Unstructured pruning: global magnitude (L1) pruning over a sparsity sweep.

All kernels of convolutions, depthwise convolutions and dense layers compete
for one global threshold: the ``s`` fraction of weights with the smallest
absolute value is set to zero. (With BatchNorm after a convolution the raw
kernel scale is arbitrary, so a layer of small weights, often the first
convolution, can be emptied early: part of what the sweep shows.) Each sparsity is measured twice: pruned as is
(no fine-tuning) and pruned then fine-tuned with the mask re-applied after
every training step. Every model is exported to int8 (the zeros survive:
BatchNorm folding scales whole channels and zero quantizes to zero) and
evaluated in TFLM / the mpyml runtime.

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


def run_prune(ctx: Context, *, sparsities: Sequence[float] = DEFAULT_SPARSITIES, epochs: int = 2,
              learning_rate: float | None = None, progress: bool = True) -> dict[str, Any]:
    import keras

    from ..quantize import load_run_model, quantize_int8

    if epochs < 0:
        raise MpymlError("epochs must be >= 0")
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
        masks = global_masks(base, s)
        for tuned in (False, True):
            if tuned and epochs == 0:
                continue
            m = _clone(base)
            apply_masks(m, masks)
            if tuned:
                class KeepMask(keras.callbacks.Callback):
                    def on_train_batch_end(self, batch, logs=None):
                        apply_masks(m, masks)

                fit(keras, m, ctx, epochs=epochs, learning_rate=lr, callbacks=[KeepMask()],
                    desc=f"sparsity {s:.2f} fine-tune")
                apply_masks(m, masks)
            zeros, _, _ = sparsity_of(m)
            tfl = quantize_int8(m, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
            ev = int8_eval(tfl, ctx.test.x, ctx.test.y)
            z8, t8 = int8_kernel_zeros(tfl)
            row = {"sparsity": s, "fine_tuned": tuned, "float": keras_accuracy(m, ctx.test.x, ctx.test.y),
                   "int8": ev.accuracy, "achieved_sparsity": zeros / prunable, "int8_kernel_sparsity": z8 / max(t8, 1),
                   "nonzero_params": params - zeros, "params": params, "tflite_bytes": len(tfl),
                   "gzip_bytes": gzip_size(tfl)}
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
    result = {"epochs": epochs, "learning_rate": lr, "test_examples": len(ctx.test), "prunable_weights": prunable,
              "rows": rows, "latency_ms": lat, "base_facts": model_facts(base_tfl),
              "note": "Dense int8 kernels store and multiply every zero: the .tflite size and the latency stay "
                      "the same; only a compressed copy (gzip) shrinks."}
    series = {}
    for tuned, name in ((False, "no fine-tuning"), (True, "fine-tuned")):
        pts = [r for r in rows[1:] if r["fine_tuned"] == tuned]
        if pts:
            series[name] = ([r["nonzero_params"] for r in pts], [r["int8"] for r in pts])
    plot_lines(ctx.out / "plots" / "prune.png", series, xlabel="non-zero parameters", ylabel="int8 test accuracy",
               title="Global magnitude pruning", xlog=True, hline=(base_row["int8"], "unpruned int8"))
    ctx.write("prune", result)
    return result
