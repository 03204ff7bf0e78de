"""Model zoo: every model builds, converts to full int8 with supported ops only."""

from __future__ import annotations

import numpy as np
import pytest

from mpyml.errors import MpymlError
from mpyml.models import MODELS, UnknownModelError, build_model
from mpyml.quantize import quantize_array, quantize_int8
from mpyml.tflite_model import SUPPORTED_OPS, UnsupportedOpError, check_supported, read_model

AUDIO_SHAPE = (49, 40, 1)
SENSOR_SHAPE = (64, 3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_converts_to_int8_with_supported_ops(name):
    spec = MODELS[name]
    shape = AUDIO_SHAPE if spec.kind == "audio" else SENSOR_SHAPE
    model = build_model(name, shape, 5)
    rep = np.random.default_rng(0).uniform(0, 20, size=(12, *shape)).astype(np.float32)
    q = quantize_int8(model, rep, max_samples=8)
    g = read_model(q.tflite)
    assert set(g.op_names) <= SUPPORTED_OPS
    assert g.op_names[-1] == "SOFTMAX"
    assert g.input().dtype == "int8" and g.output().dtype == "int8"
    assert g.input().shape == (1, *shape)
    assert g.output().shape == (1, 5)
    # No op in the graph may depend on a dynamic batch dimension.
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(g.op_names)
    assert q.representative_samples == 8
    # BatchNorm momentum small enough to converge on small data.
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            assert layer.momentum == pytest.approx(0.9)


def test_micro_kws_cnn_layer_shapes():
    m = build_model("micro_kws_cnn", AUDIO_SHAPE, 4)
    convs = [l for l in m.layers if l.__class__.__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(16, (8, 8)), (12, (6, 6)), (16, (4, 4))]
    dense = [l.units for l in m.layers if l.__class__.__name__ == "Dense"]
    assert dense == [32, 16, 4]


def test_ds_cnn_shapes_follow_the_reference():
    s = build_model("ds_cnn_s", AUDIO_SHAPE, 12)
    dw = [l for l in s.layers if l.__class__.__name__ == "DepthwiseConv2D"]
    assert len(dw) == 4
    first = [l for l in s.layers if l.__class__.__name__ == "Conv2D"][0]
    assert first.filters == 64 and first.kernel_size == (10, 4) and first.strides == (2, 2)
    m = build_model("ds_cnn_m", AUDIO_SHAPE, 12)
    first = [l for l in m.layers if l.__class__.__name__ == "Conv2D"][0]
    assert first.filters == 172 and first.strides == (2, 1)


def test_unknown_model_name_lists_the_zoo():
    with pytest.raises(UnknownModelError) as e:
        build_model("resnet999", AUDIO_SHAPE, 4)
    for name in MODELS:
        assert name in str(e.value)


def test_bad_model_parameters_are_reported():
    with pytest.raises(MpymlError, match="bad parameters"):
        build_model("tiny_conv", AUDIO_SHAPE, 4, no_such_option=3)
    with pytest.raises(MpymlError, match="at least 2 classes"):
        build_model("dnn", AUDIO_SHAPE, 1)
    with pytest.raises(MpymlError, match="sensor models need"):
        build_model("sensor_mlp", AUDIO_SHAPE, 3)


def test_unsupported_op_is_named():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def f(x):
        return tf.exp(x) + 1.0

    data = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()
    with pytest.raises(UnsupportedOpError, match="EXP"):
        check_supported(data)


def test_representative_data_must_match_the_model():
    model = build_model("sensor_mlp", SENSOR_SHAPE, 3)
    with pytest.raises(MpymlError, match="representative data has shape"):
        quantize_int8(model, np.zeros((4, 10, 3), np.float32))
    with pytest.raises(MpymlError, match="NaN"):
        quantize_int8(model, np.full((4, *SENSOR_SHAPE), np.nan, np.float32))


def test_quantize_array_rounds_half_away_from_zero_and_saturates():
    q = quantize_array(np.array([0.25, 0.75, -0.25, -0.75, 100.0, -100.0]), 0.5, 0)
    assert q.tolist() == [1, 2, -1, -2, 127, -128]
    assert quantize_array(np.array([0.0, 1.0]), 0.5, -128).tolist() == [-128, -126]
