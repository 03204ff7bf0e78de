"""Float-vs-quantized verifier: where and how much the int8 model departs from the float one.

On identical inputs (the run's test split):

* top-1 agreement, top-3 agreement (the float top-1 among the int8 top-3);
* Spearman rank correlation between the float and int8 logits per input;
* the worst-case (and mean) absolute logit difference, the int8 logits being
  the dequantized input of the final SOFTMAX, read from TFLM's per-tensor dumps;
* the saturation rate of every int8 activation tensor (share of values at
  +127, and at -128 unless -128 is the tensor's zero, i.e. a ReLU floor),
  from the same dumps;
* the layers most sensitive to quantization: the float model with only one
  layer quantized (its weights per channel, symmetric, and its block's output
  activation at ``bits`` bits with calibrated ranges), one layer at a time,
  ranked by accuracy drop and output divergence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MpymlError
from .common import Context, accuracy, int8_eval, quantize_inputs

WEIGHT_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def _spearman(a: np.ndarray, b: np.ndarray) -> list[float]:
    from scipy.stats import spearmanr

    out = []
    for u, v in zip(a, b):
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            continue
        r = spearmanr(u, v).statistic
        if np.isfinite(r):
            out.append(float(r))
    return out


def _tensor_values(interp, index: int) -> np.ndarray:
    """One tensor of a TFLM interpreter built with kPreserveAllTensors (a dict with 'tensor_data')."""
    t = interp.GetTensor(index, 0)
    return np.asarray(t["tensor_data"] if isinstance(t, dict) else t)


def tensor_dumps(tflite: bytes, xq: np.ndarray) -> tuple[dict[int, dict[str, Any]], np.ndarray | None]:
    """Per-tensor saturation counts over all inputs and the dequantized logits (input of the last SOFTMAX)."""
    from tflite_micro.python.tflite_micro import runtime

    from ..analyze import analyze
    from ..tflite_model import read_model

    g = read_model(tflite)
    a = analyze(tflite, with_arena=False)
    interp = runtime.Interpreter.from_bytes(bytes(tflite), arena_size=4 * a.arena_naive + 65536,
                                            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    producers = {t: op for op in g.operators for t in op.outputs}
    watch = [t for t in producers if g.tensors[t].dtype == "int8"]
    softmax = [op for op in g.operators if op.op == "SOFTMAX"]
    logit_t = softmax[-1].inputs[0] if softmax else None
    stats = {t: {"high": 0, "low": 0, "n": 0} for t in watch}
    logits = []
    shape = tuple(g.input().shape)
    for x in xq:
        interp.set_input(np.asarray(x, dtype=np.int8).reshape(shape), 0)
        interp.invoke()
        for t in watch:
            v = _tensor_values(interp, t)
            s = stats[t]
            s["high"] += int(np.sum(v == 127))
            s["low"] += int(np.sum(v == -128))
            s["n"] += int(v.size)
        if logit_t is not None:
            lt = g.tensors[logit_t]
            v = _tensor_values(interp, logit_t).astype(np.float32).reshape(-1)
            logits.append((v - lt.zero_point[0]) * lt.scale[0])
    out = {}
    for t, s in stats.items():
        tt = g.tensors[t]
        zp = tt.zero_point[0] if tt.zero_point else 0
        high = s["high"] / max(s["n"], 1)
        low = s["low"] / max(s["n"], 1)
        out[t] = {"tensor": tt.name, "op": producers[t].op, "op_index": producers[t].index, "zero_point": zp,
                  "scale": tt.scale[0] if tt.scale else None, "at_127": high, "at_-128": low,
                  "relu_floor": zp == -128, "saturation": high + (0.0 if zp == -128 else low)}
    return out, (np.stack(logits) if logits else None)


def _fake_quant(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    levels = 2 ** bits - 1
    scale = (hi - lo) / levels if hi > lo else 1.0
    zp = np.round(-lo / scale)
    q = np.clip(np.round(x / scale) + zp, 0, levels)
    return ((q - zp) * scale).astype(np.float32)


def _quant_weights(w: np.ndarray, bits: int, per_channel_axis: int) -> np.ndarray:
    qmax = 2 ** (bits - 1) - 1
    axes = tuple(i for i in range(w.ndim) if i != per_channel_axis % w.ndim)
    m = np.max(np.abs(w), axis=axes, keepdims=True)
    scale = np.where(m > 0, m / qmax, 1.0)
    return (np.clip(np.round(w / scale), -qmax, qmax) * scale).astype(w.dtype)


def layer_sensitivity(model, x: np.ndarray, y: np.ndarray, calib: np.ndarray, bits: int = 8) -> list[dict[str, Any]]:
    """Quantize one weight layer (and its block's output) at a time; rank by damage."""
    from keras import ops

    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    weight_idx = [i for i, l in enumerate(layers) if type(l).__name__ in WEIGHT_LAYERS]
    if not weight_idx:
        raise MpymlError(f"model {model.name} has no weight layers")
    # Block of a weight layer: it and the layers up to the next weight layer or reshape.
    block_end = {}
    for k, i in enumerate(weight_idx):
        j = i
        nxt = weight_idx[k + 1] if k + 1 < len(weight_idx) else len(layers)
        while j + 1 < nxt and type(layers[j + 1]).__name__ not in ("Reshape", "Softmax"):
            j += 1
        block_end[i] = j

    def forward(inp, qi: int | None, ranges: dict[int, tuple[float, float]] | None, collect: bool = False):
        h = inp
        seen = {}
        for i, layer in enumerate(layers):
            if i == qi:
                w = layer.get_weights()
                saved = [v.copy() for v in w]
                axis = -2 if type(layer).__name__ == "DepthwiseConv2D" else -1
                w[0] = _quant_weights(w[0], bits, axis)
                layer.set_weights(w)
                h = np.asarray(ops.convert_to_numpy(layer(h, training=False)))
                layer.set_weights(saved)
            else:
                h = np.asarray(ops.convert_to_numpy(layer(h, training=False)))
            if collect:
                seen[i] = (float(h.min()), float(h.max()))
            if qi is not None and i == block_end[qi] and ranges is not None:
                h = _fake_quant(h, *ranges[i], bits)
        return h, seen

    _, ranges = forward(calib, None, None, collect=True)
    ref, _ = forward(x, None, None)
    ref_acc = accuracy(ref.argmax(1), y)
    rows = []
    for i in weight_idx:
        out, _ = forward(x, i, ranges)
        p = np.clip(ref, 1e-7, 1.0)
        q = np.clip(out, 1e-7, 1.0)
        kl = float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))
        rows.append({"layer": layers[i].name, "type": type(layers[i]).__name__, "bits": bits,
                     "accuracy": accuracy(out.argmax(1), y), "accuracy_drop": ref_acc - accuracy(out.argmax(1), y),
                     "top1_agreement": accuracy(out.argmax(1), ref.argmax(1)), "kl_divergence": kl})
    rows.sort(key=lambda r: (-r["accuracy_drop"], -r["kl_divergence"]))
    return rows


def run_verify(ctx: Context, *, tflite: bytes | None = None, model=None, bits: int = 8, samples: int = 500,
               calib_samples: int = 200) -> dict[str, Any]:
    from keras import Model

    from ..quantize import load_run_model
    from ..tflite_model import read_model

    if model is None:
        model = load_run_model(ctx.run)
    if tflite is None:
        path = ctx.run.artifact("model_int8.tflite")
        if not path.is_file():
            raise MpymlError(f"{path} is missing: quantize the run first")
        tflite = path.read_bytes()
    if not 2 <= bits <= 8:
        raise MpymlError(f"bits must be in 2..8 (got {bits})")
    x, y = ctx.test.x[:samples], ctx.test.y[:samples]
    n_classes = len(ctx.labels)
    if tuple(read_model(tflite).output().shape)[-1] != n_classes:
        raise MpymlError("the int8 model's output size does not match the run's classes")
    fprob = np.asarray(model.predict(x, batch_size=256, verbose=0))
    try:
        flog = np.asarray(Model(model.inputs, model.get_layer("logits").output).predict(x, batch_size=256, verbose=0))
    except ValueError:
        flog = np.log(np.clip(fprob, 1e-7, 1.0))
    ev = int8_eval(tflite, x, y)  # also: mpyml runtime identical to TFLM on these inputs
    qprob = ev.scores
    sat, qlog = tensor_dumps(tflite, quantize_inputs(tflite, x))
    if qlog is None:
        qlog = np.log(np.clip(qprob, 1e-7, 1.0))
    f1, q1 = fprob.argmax(1), qprob.argmax(1)
    q_top3 = np.argsort(-qlog, axis=1, kind="stable")[:, :3]
    rho = _spearman(flog, qlog)
    diff = np.abs(flog - qlog)
    worst = int(np.argmax(diff.max(axis=1)))
    tensors = sorted(sat.values(), key=lambda r: -r["saturation"])
    sens = layer_sensitivity(model, x, y, ctx.representative(calib_samples), bits=bits)
    result = {
        "test_examples": int(len(x)), "float_accuracy": accuracy(f1, y), "int8_accuracy": ev.accuracy,
        "top1_agreement": accuracy(f1, q1),
        "top3_agreement": float(np.mean([f1[i] in q_top3[i] for i in range(len(x))])),
        "spearman_mean": float(np.mean(rho)) if rho else None, "spearman_min": float(np.min(rho)) if rho else None,
        "logit_diff_max": float(diff.max()), "logit_diff_mean": float(diff.mean()), "logit_diff_worst_input": worst,
        "bit_exact": ev.bit_exact, "saturation": tensors, "sensitivity": sens, "sensitivity_bits": bits,
    }
    ctx.write("verify", result)
    ctx.echo(f"top-1 agreement {result['top1_agreement']:.4f}, top-3 {result['top3_agreement']:.4f}, "
             f"Spearman {result['spearman_mean'] if rho else float('nan'):.4f}, worst logit diff {diff.max():.4f}")
    for t in tensors[:5]:
        ctx.echo(f"  saturation {t['saturation']:.2%}  {t['op']:18s} {t['tensor'].split(';')[0]}")
    for s in sens[:3]:
        ctx.echo(f"  sensitive: {s['layer']} ({s['type']}) drop {100 * s['accuracy_drop']:+.2f} points, "
                 f"KL {s['kl_divergence']:.4g}")
    return result
