"""Quantization-aware training (tfmot, Keras 2) exported to a full-int8 .tflite.

Starting point: the run's trained float model, wrapped with tfmot's default
8-bit fake quantization and calibrated like PTQ (activation ranges from the
float model on representative data), then fine-tuned. After every epoch three
accuracies are tracked on the test split: the float shadow weights, the
fake-quant model, and the int8 model exported from it (run in TFLM and the
mpyml runtime, which must agree byte for byte). The epoch with the best
fake-quant validation accuracy is exported as ``qat_int8.tflite``.
"""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from . import keras2 as k2
from .common import Context, int8_eval, keras_accuracy, model_facts, plot_lines


def run_qat(ctx: Context, *, epochs: int = 3, learning_rate: float | None = None, progress: bool = True) -> dict[str, Any]:
    from ..errors import MpymlError

    if epochs < 1:
        raise MpymlError(f"QAT needs at least one epoch (got {epochs})")
    lr = learning_rate or ctx.cfg.learning_rate * 0.1
    rep = ctx.representative()
    fm = k2.build(ctx, k2.load_float_keras3(ctx))
    float_acc = keras_accuracy(fm, ctx.test.x, ctx.test.y)
    ptq = int8_eval(k2.export_int8(fm, ctx.input_shape, rep), ctx.test.x, ctx.test.y)
    ctx.echo(f"baseline: float {float_acc:.4f}, int8 PTQ {ptq.accuracy:.4f} (test)")

    qm = k2.fake_quant_model(fm)
    k2.calibrate(qm, fm, rep)
    k2.compile_model(qm, ctx, lr)
    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val": -1.0}

    def record(epoch: int, loss: float | None) -> None:
        shadow = k2.float_from_fake_quant(qm, ctx)
        tfl = k2.export_int8(qm, ctx.input_shape)
        ev = int8_eval(tfl, ctx.test.x, ctx.test.y)
        val = k2.fake_quant_accuracy(qm, ctx.val.x, ctx.val.y)
        row = {"epoch": epoch, "loss": loss, "float": keras_accuracy(shadow, ctx.test.x, ctx.test.y),
               "fake_quant": k2.fake_quant_accuracy(qm, ctx.test.x, ctx.test.y), "int8": ev.accuracy,
               "val_fake_quant": val, "bit_exact": ev.bit_exact}
        rows.append(row)
        ctx.echo(f"QAT epoch {epoch}: float {row['float']:.4f}  fake-quant {row['fake_quant']:.4f}  "
                 f"int8 {row['int8']:.4f}  (val fake-quant {val:.4f})")
        if val > best["val"]:
            best.update(val=val, epoch=epoch, weights=qm.get_weights(), tflite=tfl)

    record(0, None)
    n = len(ctx.labels)
    from .common import one_hot

    for e in tqdm(range(1, epochs + 1), desc="QAT", unit="epoch", disable=not progress, leave=False):
        h = qm.fit(ctx.train.x, one_hot(ctx.train.y, n), epochs=1, batch_size=ctx.cfg.batch_size, shuffle=True,
                   verbose=0)
        record(e, float(h.history["loss"][-1]))
    qm.set_weights(best["weights"])
    tfl = best["tflite"]
    (ctx.out / "qat_int8.tflite").write_bytes(tfl)
    final = int8_eval(tfl, ctx.test.x, ctx.test.y)
    result = {
        "epochs": epochs, "learning_rate": lr, "best_epoch": best["epoch"], "test_examples": len(ctx.test),
        "baseline_float": float_acc, "baseline_ptq_int8": ptq.accuracy, "per_epoch": rows,
        "qat_int8": final.accuracy, "bit_exact": final.bit_exact,
        "bit_exact_inputs": len(ctx.test) if final.bit_exact else 0,
        "model": "qat_int8.tflite", "facts": model_facts(tfl),
    }
    ep = [r["epoch"] for r in rows]
    plot_lines(ctx.out / "plots" / "qat_epochs.png",
               {"float (shadow weights)": (ep, [r["float"] for r in rows]),
                "fake-quant": (ep, [r["fake_quant"] for r in rows]),
                "exported int8": (ep, [r["int8"] for r in rows])},
               xlabel="QAT epoch (0 = calibrated, before training)", ylabel="test accuracy",
               title="QAT: accuracy per epoch", hline=(ptq.accuracy, "int8 PTQ"))
    ctx.write("qat", result)
    ctx.echo(f"QAT int8 {final.accuracy:.4f} (best epoch {best['epoch']}) vs PTQ int8 {ptq.accuracy:.4f}; "
             f"mpyml runtime {'bit-exact with TFLM' if final.bit_exact else 'not built'}")
    return result
