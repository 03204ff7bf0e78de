"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED at the sizes of real models.

The random conformance sweep keeps channel counts below 9 so that it stays
fast; the kernels' vectorised and blocked paths start at 16 channels and split
large filters into blocks. These fixed cases reach them: channel counts that
are not multiples of 8 or 16, several output-channel blocks, windows too large
for the host fast path (portable fallback), batch > 1, one-channel depthwise
with a depth multiplier, input zero points != 0, padding SAME and VALID,
strides 1 and 2, dilation. Each model runs through TFLM and both builds of the
binding (fast path and portable kernels); outputs must be byte-identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from mpyml import opgen
from test_kernels_conformance import _run_both, assert_all_match

# kind, input shape (N, H, W, C), then per kind: conv (kh, kw, cout, stride,
# padding, dilation, activation); dwconv (kh, kw, depth multiplier, stride,
# padding, dilation, activation); fc (units, per-channel weights, activation).
CASES = {
    "conv1x1-c37-o70-batch2": ("conv", (2, 7, 5, 37), (1, 1, 70, 1, "VALID", 1, "RELU6")),
    "conv3x3-s2-c19-o33": ("conv", (1, 9, 11, 19), (3, 3, 33, 2, "SAME", 1, "RELU")),
    "conv10x4-s2-c1-o64": ("conv", (1, 49, 10, 1), (10, 4, 64, 2, "SAME", 1, "NONE")),
    "conv1x1-c300-o40": ("conv", (1, 4, 3, 300), (1, 1, 40, 1, "SAME", 1, "NONE")),
    "conv3x3-c64-o24-large-window": ("conv", (1, 6, 6, 64), (3, 3, 24, 1, "SAME", 1, "RELU")),
    "conv3x3-dil2-c20-o17": ("conv", (1, 9, 8, 20), (3, 3, 17, 1, "SAME", 2, "NONE")),
    "dw3x3-c45-batch2": ("dw", (2, 6, 7, 45), (3, 3, 1, 1, "SAME", 1, "RELU6")),
    "dw3x3-s2-c64-valid": ("dw", (1, 9, 9, 64), (3, 3, 1, 2, "VALID", 1, "NONE")),
    "dw3x3-s2-c1-m8": ("dw", (1, 12, 12, 1), (3, 3, 8, 2, "SAME", 1, "RELU6")),
    "dw5x5-dil2-c24": ("dw", (1, 10, 10, 24), (5, 5, 1, 1, "SAME", 2, "RELU")),
    "dw3x3-c20-m2": ("dw", (1, 5, 6, 20), (3, 3, 2, 1, "SAME", 1, "NONE")),
    "fc-batch5-d70-u40-per-channel": ("fc", (5, 70), (40, True, "RELU")),
    "fc-batch1-d600-u12": ("fc", (1, 600), (12, False, "NONE")),
    "fc-batch6-d33-u17": ("fc", (6, 33), (17, False, "RELU6")),
}

def _spec(tf, kind: str, shape: tuple[int, ...], p: tuple, rng: np.random.Generator):
    acts = {"NONE": lambda t: t, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6}
    lo, hi = -float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.5, 3.0))
    if kind == "conv":
        kh, kw, cout, s, padding, d, act = p
        w = tf.constant(rng.normal(0, 0.3, (kh, kw, shape[3], cout)).astype(np.float32)
                        * rng.uniform(0.1, 2.0, cout).astype(np.float32))
        b = tf.constant(rng.normal(0, 0.5, cout).astype(np.float32))

        def fn(x):
            y = tf.nn.conv2d(x, w, strides=[1, s, s, 1], padding=padding, dilations=[1, d, d, 1])
            return acts[act](tf.nn.bias_add(y, b))
        return opgen._Spec(fn, [shape], [(lo, hi)], {"p": p}, "CONV_2D")
    if kind == "dw":
        kh, kw, dm, s, padding, d, act = p
        w = tf.constant(rng.normal(0, 0.3, (kh, kw, shape[3], dm)).astype(np.float32))
        b = tf.constant(rng.normal(0, 0.5, shape[3] * dm).astype(np.float32))

        def fn(x):
            y = tf.nn.depthwise_conv2d(x, w, strides=[1, s, s, 1], padding=padding, dilations=[d, d])
            return acts[act](tf.nn.bias_add(y, b))
        return opgen._Spec(fn, [shape], [(lo, hi)], {"p": p}, "DEPTHWISE_CONV_2D")
    units, per_channel, act = p
    w = tf.constant(rng.normal(0, 0.2, (shape[1], units)).astype(np.float32))
    b = tf.constant(rng.normal(0, 0.5, units).astype(np.float32))

    def fn(x):
        return acts[act](tf.matmul(x, w) + b)
    return opgen._Spec(fn, [shape], [(lo, hi)], {"p": p}, "FULLY_CONNECTED", per_channel_dense=per_channel)


@pytest.mark.parametrize("name", list(CASES))
def test_wide_op_matches_tflm(portable_native, name):
    kind, shape, p = CASES[name]
    tf = opgen._import_tf()
    seed = sum(name.encode())
    rng = np.random.default_rng(seed)
    spec = _spec(tf, kind, shape, p, rng)
    tflite = opgen._convert(tf, spec, False, rng)
    case = opgen.OpCase(name, seed, spec.params, tflite, frozenset({spec.required_op}), spec.required_op,
                        list(spec.input_ranges))
    opgen.check_ops(case)
    triples = _run_both(case, 3, seed=seed, portable=portable_native)
    assert len(triples) == 6
    assert_all_match(name, triples)
