"""Keras 2 (``tf_keras``) and tensorflow-model-optimization, kept in one place.

tfmot's quantization wrappers only accept Keras 2 models, and importing
tfmot sets ``TF_USE_LEGACY_KERAS=1`` for the rest of the process. Only the
QAT and low-bit stages import this module, and the CLI runs them in a child
process (:mod:`mpyml.compress.worker`), so the other tools keep Keras 3.

Zoo models are rebuilt with ``tf_keras`` layers by the same builders
(:mod:`mpyml.models`) and take the trained Keras 3 weights layer by layer.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import MpymlError

os.environ["TF_USE_LEGACY_KERAS"] = "1"


def tfk():
    import tf_keras

    return tf_keras


def tfmot():
    import tensorflow_model_optimization as mot

    return mot


@contextlib.contextmanager
def _keras2_builders() -> Iterator[None]:
    """Make the zoo builders create tf_keras layers for the duration of the block."""
    from .. import models

    saved = models._keras
    models._keras = tfk
    try:
        yield
    finally:
        models._keras = saved


def build(ctx, weights_from=None):
    """The run's zoo model as a tf_keras model, with the weights of ``weights_from`` (a Keras 3 model) if given."""
    from ..models import build_model

    with _keras2_builders():
        m = build_model(ctx.cfg.model, ctx.input_shape, len(ctx.labels), **ctx.cfg.model_params)
    if weights_from is not None:
        copy_weights(weights_from, m)
    return m


def copy_weights(src, dst) -> None:
    """Copy weights layer by layer (matched by name) between models of the same architecture."""
    src_layers = {l.name: l for l in src.layers}
    for layer in dst.layers:
        w = layer.get_weights()
        if not w:
            continue
        if layer.name not in src_layers:
            raise MpymlError(f"layer {layer.name} has no counterpart in the trained model")
        layer.set_weights(src_layers[layer.name].get_weights())


def quantize_scheme(bits: int | None):
    """None: tfmot's default 8-bit scheme; else weights and activations at ``bits`` bits."""
    if bits is None:
        return None
    from tensorflow_model_optimization.python.core.quantization.keras.experimental.default_n_bit import \
        default_n_bit_quantize_scheme as nbit

    return nbit.DefaultNBitQuantizeScheme(num_bits_weight=int(bits), num_bits_activation=int(bits))


def fake_quant_model(float_model, bits: int | None = None):
    """Wrap a tf_keras float model with fake-quantization (QAT-ready)."""
    mot = tfmot()
    q = mot.quantization.keras
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        annotated = q.quantize_annotate_model(float_model)
        scheme = quantize_scheme(bits)
        with q.quantize_scope():
            return q.quantize_apply(annotated) if scheme is None else q.quantize_apply(annotated, scheme=scheme)


def _var_kind(var) -> str:
    return var.name.split("/")[-1].split(":")[0]


def calibrate(qmodel, float_model, x: np.ndarray, batch_size: int = 256) -> int:
    """Post-training calibration: set every activation range of ``qmodel`` to the min/max seen in ``float_model``.

    tfmot's activation quantizers start at [-6, 6] and move by an exponential
    average (decay 0.999) during training; PTQ instead reads the ranges of the
    float model's activations over representative data, and the weight ranges
    are set from the weights. Returns how many ranges were set.
    """
    keras = tfk()
    names = [l.name for l in float_model.layers if not isinstance(l, keras.layers.InputLayer)]
    probe = keras.Model(float_model.inputs, [float_model.get_layer(n).output for n in names])
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    for s in range(0, len(x), batch_size):
        outs = probe(x[s:s + batch_size], training=False)
        for n, o in zip(names, outs):
            o = np.asarray(o)
            lo[n] = min(lo[n], float(o.min()))
            hi[n] = max(hi[n], float(o.max()))
    x_lo, x_hi = float(np.min(x)), float(np.max(x))
    count = 0
    for layer in qmodel.layers:
        # Weight ranges: outside training the quantizers use their stored
        # [-6, 6] until a training step sets them; run each weight quantizer
        # once in training mode so that its ranges follow the weights.
        for weight, quantizer, qvars in getattr(layer, "_weight_vars", []):
            quantizer(weight, True, qvars)
            count += 1
        inner = getattr(layer, "layer", None)
        for v in layer.non_trainable_weights:
            kind = _var_kind(v)
            if inner is None and kind.endswith("_min") and "quantize_layer" in kind:
                v.assign(min(x_lo, 0.0)); count += 1
            elif inner is None and kind.endswith("_max") and "quantize_layer" in kind:
                v.assign(max(x_hi, 0.0))
            elif inner is not None and kind in ("output_min", "post_activation_min"):
                v.assign(min(lo[inner.name], 0.0)); count += 1
            elif inner is not None and kind in ("output_max", "post_activation_max"):
                v.assign(max(hi[inner.name], 0.0))
    return count


def float_from_fake_quant(qmodel, ctx):
    """A plain float model holding the float weights a fake-quant model trains (its 'shadow' weights).

    A wrapper tracks its inner layer's variables under the inner layer's name
    (``conv0_conv/kernel:0``); they are matched to the float layer by that name.
    """
    fm = build(ctx)
    by_name = {}
    for layer in qmodel.layers:
        for v in layer.weights:
            by_name.setdefault(v.name, v)
    for layer in fm.layers:
        if not layer.weights:
            continue
        try:
            layer.set_weights([by_name[v.name].numpy() for v in layer.weights])
        except KeyError as e:
            raise MpymlError(f"the fake-quant model has no variable {e} for layer {layer.name}") from None
    return fm


def export_int8(model, input_shape: Sequence[int], representative: np.ndarray | None = None) -> bytes:
    """Full-int8 .tflite (int8 input and output) of a tf_keras model.

    A fake-quant (QAT) model carries its own ranges; a float model needs
    ``representative`` data for post-training calibration. The graph is traced
    with batch size 1, so every shape is static.
    """
    import tensorflow as tf

    from ..quantize import _captured_output
    from ..tflite_model import check_supported, read_model

    spec = tf.TensorSpec([1, *[int(d) for d in input_shape]], tf.float32)
    fn = tf.function(lambda t: model(t, training=False), input_signature=[spec])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if representative is not None:
        rep = np.asarray(representative, dtype=np.float32)

        def gen():
            for s in rep:
                yield [s[None]]

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with _captured_output(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = bytes(conv.convert())
    except Exception as e:  # converter errors are long; keep the first lines
        msg = str(e).strip().splitlines()
        raise MpymlError(f"int8 conversion failed: {' '.join(msg[:3])}") from e
    check_supported(data, "int8 export")
    g = read_model(data)
    if g.input().dtype != "int8" or g.output().dtype != "int8":
        raise MpymlError(f"int8 export produced {g.input().dtype} input / {g.output().dtype} output")
    return data


def compile_model(model, ctx, learning_rate: float) -> None:
    keras = tfk()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=ctx.cfg.label_smoothing),
                  metrics=["accuracy"])


def fake_quant_accuracy(qmodel, x: np.ndarray, y: np.ndarray) -> float:
    from .common import accuracy

    return accuracy(np.asarray(qmodel.predict(x, batch_size=256, verbose=0)).argmax(axis=1), y)


def load_float_keras3(ctx) -> Any:
    """The run's trained float model (Keras 3 file), read with Keras 3 in this process."""
    from ..quantize import load_run_model

    return load_run_model(ctx.run)
