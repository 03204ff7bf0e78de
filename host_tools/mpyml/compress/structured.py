"""Structured pruning: remove whole channels (L1-norm ranking) and rebuild a smaller model.

For every convolution (and hidden dense layer) the output channels with the
smallest L1 norm of their filters are dropped; the following layers lose the
matching inputs (depthwise channels, BatchNorm parameters, the rows of a
dense layer after a flattening reshape). The model is rebuilt from its
configuration with fewer filters, so the exported graph is physically
smaller: fewer parameters, MACs and arena, a smaller file, and a measured
drop in latency. The logits layer keeps all its classes.

The zoo models are chains (each layer feeds the next), which is what the
channel bookkeeping here assumes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from ..errors import MpymlError
from .common import Context, fit, int8_eval, keras_accuracy, latencies_ms, model_facts, plot_lines

DEFAULT_RATIOS = (0.25, 0.5, 0.75)
_PASS_THROUGH = ("ReLU", "Activation", "MaxPooling2D", "AveragePooling2D", "Dropout", "Softmax", "InputLayer")


def _keep(n: int, ratio: float) -> int:
    return max(1, int(round(n * (1.0 - ratio))))


def _top_l1(kernel: np.ndarray, keep: int) -> np.ndarray:
    """Indices (sorted) of the ``keep`` output channels (last axis) with the largest L1 norm."""
    norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    return np.sort(np.argsort(-norms, kind="stable")[:keep])


def shrink(model, ratio: float):
    """A physically smaller copy of a chain model with ``ratio`` of the channels of every layer removed."""
    import keras

    if not 0.0 <= ratio < 1.0:
        raise MpymlError(f"channel ratio must be in [0, 1), got {ratio}")
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    dense_layers = [l for l in layers if type(l).__name__ == "Dense"]
    last_dense = dense_layers[-1].name if dense_layers else None
    idx: np.ndarray | None = None  # kept indices of the current tensor's last axis (None: all)
    new_weights: dict[str, list[np.ndarray]] = {}
    changes: dict[str, dict[str, Any]] = {}
    removed: dict[str, tuple[int, int]] = {}
    for layer in layers:
        cls = type(layer).__name__
        w = layer.get_weights()
        if cls == "Conv2D":
            k = w[0] if idx is None else w[0][:, :, idx, :]
            sel = _top_l1(k, _keep(k.shape[-1], ratio))
            new_weights[layer.name] = [k[..., sel]] + [b[sel] for b in w[1:]]
            changes[layer.name] = {"filters": int(len(sel))}
            removed[layer.name] = (int(k.shape[-1]), int(len(sel)))
            idx = sel
        elif cls == "DepthwiseConv2D":
            if int(layer.get_config().get("depth_multiplier", 1)) != 1:
                raise MpymlError(f"{layer.name}: depth multipliers other than 1 are not supported")
            new_weights[layer.name] = [w[0] if idx is None else w[0][:, :, idx, :]] + \
                                      [b if idx is None else b[idx] for b in w[1:]]
        elif cls == "BatchNormalization":
            new_weights[layer.name] = [p if idx is None else p[idx] for p in w]
        elif cls == "Reshape":
            in_shape = tuple(int(d) for d in layer.input.shape[1:])
            out_shape = tuple(int(d) for d in layer.output.shape[1:])
            if idx is not None:
                if len(out_shape) != 1:
                    raise MpymlError(f"{layer.name}: only a flattening reshape can follow pruned channels")
                c = in_shape[-1]
                cells = int(np.prod(in_shape[:-1]))
                idx = (np.arange(cells)[:, None] * c + idx[None, :]).ravel()
                changes[layer.name] = {"target_shape": [int(len(idx))]}
        elif cls == "Dense":
            k = w[0] if idx is None else w[0][idx, :]
            if layer.name == last_dense:
                new_weights[layer.name] = [k] + w[1:]
                idx = None
            else:
                sel = _top_l1(k, _keep(k.shape[-1], ratio))
                new_weights[layer.name] = [k[:, sel]] + [b[sel] for b in w[1:]]
                changes[layer.name] = {"units": int(len(sel))}
                removed[layer.name] = (int(k.shape[-1]), int(len(sel)))
                idx = sel
        elif cls in _PASS_THROUGH:
            pass
        else:
            raise MpymlError(f"structured pruning does not handle layer {layer.name} ({cls})")
    cfg = model.get_config()
    for lc in cfg["layers"]:
        name = lc.get("name") or lc["config"].get("name")
        if name in changes:
            lc["config"].update(changes[name])
        # Recorded input shapes would rebuild layers at their old widths.
        lc.pop("build_config", None)
    small = keras.Model.from_config(cfg)
    for layer in small.layers:
        if layer.name in new_weights:
            layer.set_weights(new_weights[layer.name])
    return small, removed


def run_structured(ctx: Context, *, ratios: Sequence[float] = DEFAULT_RATIOS, epochs: int = 3,
                   learning_rate: float | None = None, progress: bool = True) -> dict[str, Any]:
    import keras

    from ..quantize import load_run_model, quantize_int8

    if epochs < 0:
        raise MpymlError("epochs must be >= 0")
    lr = learning_rate or ctx.cfg.learning_rate * 0.3
    base = load_run_model(ctx.run)
    rep = ctx.representative()
    base_tfl = quantize_int8(base, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
    models = {"baseline": base_tfl}
    rows: list[dict[str, Any]] = [{"ratio": 0.0, "name": "baseline", "params": int(base.count_params()),
                                   "float": keras_accuracy(base, ctx.test.x, ctx.test.y),
                                   "int8": int8_eval(base_tfl, ctx.test.x, ctx.test.y).accuracy,
                                   **model_facts(base_tfl)}]
    for r in tqdm(sorted(ratios), desc="channel ratios", unit="ratio", disable=not progress, leave=False):
        small, removed = shrink(base, r)
        pruned_acc = keras_accuracy(small, ctx.test.x, ctx.test.y)
        fit(keras, small, ctx, epochs=epochs, learning_rate=lr, desc=f"{r:.0%} channels removed")
        tfl = quantize_int8(small, rep, max_samples=len(rep), seed=ctx.cfg.seed).tflite
        name = f"channels-{int(round(r * 100))}"
        (ctx.out / f"structured_{int(round(r * 100))}_int8.tflite").write_bytes(tfl)
        models[name] = tfl
        rows.append({"ratio": r, "name": name, "params": int(small.count_params()), "float_before_finetune": pruned_acc,
                     "float": keras_accuracy(small, ctx.test.x, ctx.test.y),
                     "int8": int8_eval(tfl, ctx.test.x, ctx.test.y).accuracy,
                     "channels": {k: list(v) for k, v in removed.items()}, **model_facts(tfl)})
    lat = latencies_ms(models, ctx.test.x)
    b = rows[0]
    for row in rows:
        row["latency_ms"] = lat[row["name"]]
        row["macs_reduction"] = 1.0 - row["macs"] / b["macs"]
        row["latency_reduction"] = 1.0 - row["latency_ms"] / b["latency_ms"]
        ctx.echo(f"{row['name']:13s} params {row['params']:8,d}  MACs {row['macs']:11,d} ({-row['macs_reduction']:+.0%})  "
                 f"arena {row['arena_bytes']:7,d} B  flash {row['flash_bytes']:7,d} B  "
                 f"latency {row['latency_ms']:.3f} ms ({-row['latency_reduction']:+.0%})  int8 {row['int8']:.4f}")
    result = {"epochs": epochs, "learning_rate": lr, "test_examples": len(ctx.test), "rows": rows,
              "latency": "mpyml runtime on this host, same process, interleaved rounds, best of 5"}
    plot_lines(ctx.out / "plots" / "structured.png",
               {"int8 accuracy": ([r["macs"] for r in rows], [r["int8"] for r in rows])},
               xlabel="MACs per inference", ylabel="int8 test accuracy", title="Structured (channel) pruning",
               xlog=True)
    ctx.write("structured", result)
    return result
