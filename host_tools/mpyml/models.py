"""The model zoo: Keras models for keyword spotting and sensor windows.

Every model is built so that its converted graph uses only ops the mpyml
runtime executes (see ``mpyml.tflite_ops.SUPPORTED_OPS``): fixed-shape
``Reshape`` instead of ``Flatten``, 2-D convolutions (1-D CNNs are written as
``k x 1`` 2-D convolutions), pooling over the full remaining extent instead of
global pooling layers, and a final ``Softmax``. BatchNormalization uses
momentum 0.9, which converges on small datasets with few steps per epoch.

``build_model(name, input_shape, num_classes, **params)`` is the one entry
point; ``MODELS`` lists the names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .errors import MpymlError

BN_MOMENTUM = 0.9


class UnknownModelError(MpymlError):
    """A configuration names a model that is not in the zoo."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    kind: str  # "audio" (frames x channels) or "sensor" (samples x axes)
    builder: Callable[..., Any]


def _keras():
    import keras

    return keras


def _conv_bn_relu(x, filters: int, kernel: tuple[int, int], strides: tuple[int, int], name: str):
    layers = _keras().layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _image_input(input_shape: Sequence[int]):
    """Audio features as a one-channel image: (frames, channels) -> (frames, channels, 1)."""
    keras = _keras()
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or min(shape) < 1:
        raise MpymlError(f"audio models need an input shape (frames, channels[, 1]), got {tuple(input_shape)}")
    return keras.Input(shape=shape, name="features"), shape


def _flatten(x, name: str = "flatten"):
    # A Reshape to a known length converts to one RESHAPE op; Flatten with an
    # unknown batch size would add SHAPE/STRIDED_SLICE/PACK ops.
    n = math.prod(int(d) for d in x.shape[1:])
    return _keras().layers.Reshape((n,), name=name)(x)


def _head(x, num_classes: int, dropout: float):
    layers = _keras().layers
    if dropout > 0:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Softmax(name="probabilities")(x)


def tiny_conv(input_shape, num_classes: int, *, filters: int = 8, kernel: Sequence[int] = (10, 8),
              stride: int = 2, dropout: float = 0.5):
    """TinyConv: one strided convolution and a dense layer (TFLM micro_speech's tiny_conv)."""
    keras = _keras()
    layers = keras.layers
    inp, _ = _image_input(input_shape)
    x = layers.Conv2D(filters, tuple(kernel), strides=(stride, stride), padding="same", activation="relu",
                      name="conv")(inp)
    x = _flatten(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name="tiny_conv")


def micro_kws_cnn(input_shape, num_classes: int, *, dropout: float = 0.3):
    """MicroKWS CNN: conv 8x8x16, max-pool, conv 6x6x12, avg-pool, conv 4x4x16, avg-pool, FC 32-16-N."""
    keras = _keras()
    layers = keras.layers
    inp, _ = _image_input(input_shape)
    x = _conv_bn_relu(inp, 16, (8, 8), (1, 1), "conv1")
    x = layers.MaxPooling2D((2, 2), name="pool1")(x)
    x = _conv_bn_relu(x, 12, (6, 6), (1, 1), "conv2")
    x = layers.AveragePooling2D((2, 2), name="pool2")(x)
    x = _conv_bn_relu(x, 16, (4, 4), (1, 1), "conv3")
    x = layers.AveragePooling2D((2, 2), name="pool3")(x)
    x = _flatten(x)
    x = layers.Dense(32, activation="relu", name="fc1")(x)
    x = layers.Dense(16, activation="relu", name="fc2")(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name="micro_kws_cnn")


def _ds_cnn(input_shape, num_classes: int, *, filters: int, first_kernel: Sequence[int],
            first_stride: Sequence[int], block_strides: Sequence[Sequence[int]], dropout: float, name: str):
    keras = _keras()
    layers = keras.layers
    inp, _ = _image_input(input_shape)
    x = _conv_bn_relu(inp, filters, tuple(first_kernel), tuple(first_stride), "conv0")
    for i, stride in enumerate(block_strides, start=1):
        x = layers.DepthwiseConv2D((3, 3), strides=tuple(stride), padding="same", use_bias=False,
                                   name=f"dw{i}_conv")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"dw{i}_bn")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(x)
        x = _conv_bn_relu(x, filters, (1, 1), (1, 1), f"pw{i}")
    # Average over the whole remaining feature map: one AVERAGE_POOL_2D op.
    h, w = int(x.shape[1]), int(x.shape[2])
    x = layers.AveragePooling2D((h, w), name="avg_pool")(x)
    x = _flatten(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name=name)


def ds_cnn_s(input_shape, num_classes: int, *, filters: int = 64, dropout: float = 0.4,
             first_stride: Sequence[int] = (2, 2)):
    """DS-CNN S (ARM ML-zoo / MLPerf Tiny KWS): conv 10x4/2 + 4 depthwise-separable blocks, 64 filters."""
    return _ds_cnn(input_shape, num_classes, filters=filters, first_kernel=(10, 4), first_stride=first_stride,
                   block_strides=[(1, 1)] * 4, dropout=dropout, name="ds_cnn_s")


def ds_cnn_m(input_shape, num_classes: int, *, filters: int = 172, dropout: float = 0.4,
             first_stride: Sequence[int] = (2, 1)):
    """DS-CNN M (ARM ML-zoo): conv 10x4 stride 2x1 + 4 blocks (first one strided 2x2), 172 filters."""
    return _ds_cnn(input_shape, num_classes, filters=filters, first_kernel=(10, 4), first_stride=first_stride,
                   block_strides=[(2, 2), (1, 1), (1, 1), (1, 1)], dropout=dropout, name="ds_cnn_m")


def dnn(input_shape, num_classes: int, *, units: Sequence[int] = (144, 144, 144), dropout: float = 0.2):
    """DNN baseline (Hello Edge DNN-S): fully connected layers over the flattened features."""
    keras = _keras()
    layers = keras.layers
    inp, _ = _image_input(input_shape)
    x = _flatten(inp)
    for i, u in enumerate(units, start=1):
        x = layers.Dense(int(u), activation="relu", name=f"fc{i}")(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name="dnn")


def _sensor_input(input_shape: Sequence[int]):
    keras = _keras()
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise MpymlError(f"sensor models need an input shape (samples, axes), got {tuple(input_shape)}")
    return keras.Input(shape=shape, name="window"), shape


def sensor_cnn1d(input_shape, num_classes: int, *, filters: Sequence[int] = (16, 32), kernel: int = 5,
                 dropout: float = 0.2):
    """Small 1-D CNN for sensor windows (e.g. 128 samples x 3 axes), written as k x 1 2-D convolutions."""
    keras = _keras()
    layers = keras.layers
    inp, (n, axes) = _sensor_input(input_shape)
    x = layers.Reshape((n, 1, axes), name="as_image")(inp)
    for i, f in enumerate(filters, start=1):
        x = _conv_bn_relu(x, int(f), (kernel, 1), (1, 1), f"conv{i}")
        if int(x.shape[1]) >= 4:
            x = layers.MaxPooling2D((2, 1), name=f"pool{i}")(x)
    x = layers.AveragePooling2D((int(x.shape[1]), 1), name="avg_pool")(x)
    x = _flatten(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name="sensor_cnn1d")


def sensor_mlp(input_shape, num_classes: int, *, units: Sequence[int] = (64, 32), dropout: float = 0.1):
    """MLP for sensor windows (flattened samples x axes)."""
    keras = _keras()
    layers = keras.layers
    inp, _ = _sensor_input(input_shape)
    x = _flatten(inp)
    for i, u in enumerate(units, start=1):
        x = layers.Dense(int(u), activation="relu", name=f"fc{i}")(x)
    out = _head(x, num_classes, dropout)
    return keras.Model(inp, out, name="sensor_mlp")


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("tiny_conv", "TinyConv (TFLM micro_speech style)", "audio", tiny_conv),
        ModelSpec("micro_kws_cnn", "MicroKWS CNN (conv 8x8x16 / 6x6x12 / 4x4x16, FC 32-16-N)", "audio", micro_kws_cnn),
        ModelSpec("ds_cnn_s", "DS-CNN S (ML-zoo / MLPerf Tiny KWS, 64 filters)", "audio", ds_cnn_s),
        ModelSpec("ds_cnn_m", "DS-CNN M (ML-zoo, 172 filters)", "audio", ds_cnn_m),
        ModelSpec("dnn", "DNN baseline (3 x 144 fully connected)", "audio", dnn),
        ModelSpec("sensor_cnn1d", "small 1-D CNN for sensor windows", "sensor", sensor_cnn1d),
        ModelSpec("sensor_mlp", "MLP for sensor windows", "sensor", sensor_mlp),
    )
}


def get_spec(name: str) -> ModelSpec:
    key = name.strip().lower().replace("-", "_")
    if key not in MODELS:
        raise UnknownModelError(f"unknown model {name!r}; models: {', '.join(MODELS)}")
    return MODELS[key]


def build_model(name: str, input_shape: Sequence[int], num_classes: int, **params: Any):
    """Build a zoo model by name. ``params`` are the builder's keyword options."""
    spec = get_spec(name)
    if num_classes < 2:
        raise MpymlError(f"a classifier needs at least 2 classes, got {num_classes}")
    try:
        return spec.builder(tuple(input_shape), int(num_classes), **params)
    except TypeError as e:
        raise MpymlError(f"model {spec.name}: bad parameters {sorted(params)}: {e}") from e
