"""Low-bit sweep: weights and activations fake-quantized at 3..8 bits, PTQ vs QAT.

Both methods use the same tfmot N-bit scheme (per-channel weights,
per-tensor activations). PTQ: the float model wrapped and calibrated
(activation ranges = min/max of the float activations on representative
data). QAT: the PTQ model fine-tuned for a few epochs; the epoch with the best
validation accuracy (epoch 0 = the PTQ state included) is kept. At 8 bits the
models are also exported to real int8 .tflite files and run in TFLM / the
mpyml runtime, and the simulated points are compared with them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from . import keras2 as k2
from .common import Context, accuracy, int8_eval, keras_accuracy, one_hot, plot_lines

DEFAULT_BITS = (3, 4, 5, 6, 7, 8)


def run_bits(ctx: Context, *, bits: Sequence[int] = DEFAULT_BITS, epochs: int = 2, learning_rate: float | None = None,
             progress: bool = True) -> dict[str, Any]:
    from ..errors import MpymlError

    bits = sorted({int(b) for b in bits})
    if not bits or bits[0] < 2 or bits[-1] > 8:
        raise MpymlError(f"bit-widths must be within 2..8 (got {bits})")
    if epochs < 0:
        raise MpymlError("epochs must be >= 0")
    lr = learning_rate or ctx.cfg.learning_rate * 0.1
    rep = ctx.representative()
    k3 = k2.load_float_keras3(ctx)
    float_model = k2.build(ctx, k3)
    float_acc = keras_accuracy(float_model, ctx.test.x, ctx.test.y)
    n = len(ctx.labels)
    rows: list[dict[str, Any]] = []
    for b in tqdm(bits, desc="bit-widths", unit="width", disable=not progress, leave=False):
        fm = k2.build(ctx, k3)
        qm = k2.fake_quant_model(fm, bits=b)
        k2.calibrate(qm, fm, rep)
        ptq_scores = np.asarray(qm.predict(ctx.test.x, batch_size=256, verbose=0))
        ptq_test = accuracy(ptq_scores.argmax(axis=1), ctx.test.y)
        best = {"val": k2.fake_quant_accuracy(qm, ctx.val.x, ctx.val.y), "epoch": 0, "weights": qm.get_weights()}
        k2.compile_model(qm, ctx, lr)
        for e in range(1, epochs + 1):
            qm.fit(ctx.train.x, one_hot(ctx.train.y, n), epochs=1, batch_size=ctx.cfg.batch_size, shuffle=True,
                   verbose=0)
            val = k2.fake_quant_accuracy(qm, ctx.val.x, ctx.val.y)
            if val > best["val"]:
                best.update(val=val, epoch=e, weights=qm.get_weights())
        qm.set_weights(best["weights"])
        qat_scores = np.asarray(qm.predict(ctx.test.x, batch_size=256, verbose=0))
        row: dict[str, Any] = {"bits": b, "ptq": ptq_test, "qat": accuracy(qat_scores.argmax(axis=1), ctx.test.y),
                               "qat_best_epoch": best["epoch"]}
        if b == 8:
            ptq_ev = int8_eval(k2.export_int8(fm, ctx.input_shape, rep), ctx.test.x, ctx.test.y)
            qat_ev = int8_eval(k2.export_int8(qm, ctx.input_shape), ctx.test.x, ctx.test.y)
            row.update(
                ptq_int8=ptq_ev.accuracy, qat_int8=qat_ev.accuracy, bit_exact=bool(ptq_ev.bit_exact and qat_ev.bit_exact),
                ptq_sim_vs_int8_agreement=accuracy(ptq_scores.argmax(axis=1), ptq_ev.scores.argmax(axis=1)),
                qat_sim_vs_int8_agreement=accuracy(qat_scores.argmax(axis=1), qat_ev.scores.argmax(axis=1)))
        rows.append(row)
        ctx.echo(f"{b} bits: PTQ {row['ptq']:.4f}  QAT {row['qat']:.4f} (epoch {best['epoch']})"
                 + (f"  | real int8: PTQ {row['ptq_int8']:.4f} QAT {row['qat_int8']:.4f}" if b == 8 else ""))
    result = {"float": float_acc, "epochs": epochs, "learning_rate": lr, "test_examples": len(ctx.test), "rows": rows}
    plot_lines(ctx.out / "plots" / "bits.png",
               {"PTQ": ([r["bits"] for r in rows], [r["ptq"] for r in rows]),
                "QAT": ([r["bits"] for r in rows], [r["qat"] for r in rows])},
               xlabel="bits (weights and activations)", ylabel="test accuracy", title="Accuracy vs bit-width",
               hline=(float_acc, "float"))
    ctx.write("bits", result)
    return result
