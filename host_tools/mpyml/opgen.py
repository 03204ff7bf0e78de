"""Small random single-op models for kernel conformance testing.

Every case is a TensorFlow graph around one operator (random shapes, strides,
padding, dilations, fused activations, broadcast shapes, ...), converted by
TensorFlow's TFLite converter — full int8 with a representative data set and
int8 input/output, or plain float32 — and seeded, so the same
``(op, seed)`` always gives the same model. ``generate()`` converts a whole
batch in one process; ``check_ops()`` verifies that a model holds only the
operator under test (plus QUANTIZE/DEQUANTIZE where the case intends them).

Used by ``tests/host/test_kernels_conformance.py`` and
``make conformance-full``.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

# Ops with an int8 generator, and the float32 cases ("<OP>/f32").
INT8_OPS: tuple[str, ...] = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SOFTMAX",
    "ADD", "MUL", "MEAN", "PAD", "PADV2", "CONCATENATION", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6",
)
FLOAT_OPS: tuple[str, ...] = (
    "FULLY_CONNECTED/f32", "ADD/f32", "MUL/f32", "RELU/f32", "RELU6/f32", "CONV_2D/f32", "DEPTHWISE_CONV_2D/f32",
    "AVERAGE_POOL_2D/f32", "MAX_POOL_2D/f32", "SOFTMAX/f32", "MEAN/f32", "PAD/f32", "CONCATENATION/f32",
    "LOGISTIC/f32", "TANH/f32", "RESHAPE/f32",
)
ALL_CASES: tuple[str, ...] = INT8_OPS + FLOAT_OPS


class OpGenError(Exception):
    """A generated model does not have the expected operators."""


@dataclass
class OpCase:
    """One generated model."""

    kind: str                   # "CONV_2D", "ADD/f32", ...
    seed: int
    params: dict
    tflite: bytes = b""
    allowed_ops: frozenset[str] = field(default_factory=frozenset)
    required_op: str = ""
    input_ranges: list[tuple[float, float]] = field(default_factory=list)
    error: str = ""             # why generation failed (then tflite is empty)

    @property
    def name(self) -> str:
        return f"{self.kind}#{self.seed}"


@dataclass
class _Spec:
    fn: Callable
    input_shapes: list[tuple[int, ...]]
    input_ranges: list[tuple[float, float]]
    params: dict
    required_op: str
    extra_ops: frozenset[str] = frozenset()
    float_io: bool = False      # int8 model with float32 input/output (QUANTIZE/DEQUANTIZE)
    per_channel_dense: bool | None = None
    # Applied to each calibration sample of input 0 (shapes the calibrated ranges).
    rep_transform: Callable[[np.ndarray], np.ndarray] | None = None


def _rng_range(rng: np.random.Generator) -> tuple[float, float]:
    """A random float range that contains zero at a random position."""
    lo = -float(rng.uniform(0.2, 4.0))
    hi = float(rng.uniform(0.2, 4.0))
    if rng.random() < 0.15:
        lo = -float(rng.uniform(0.0, 0.2))    # mostly positive data
    return lo, hi


def _act(tf, rng: np.random.Generator, params: dict, allow_n1: bool = True):
    choices = ["NONE", "RELU", "RELU6"] + (["RELU_N1_TO_1"] if allow_n1 else [])
    a = str(rng.choice(choices))
    params["activation"] = a
    if a == "RELU":
        return tf.nn.relu
    if a == "RELU6":
        return tf.nn.relu6
    if a == "RELU_N1_TO_1":
        return lambda t: tf.clip_by_value(t, -1.0, 1.0)
    return lambda t: t


def _weights(rng: np.random.Generator, shape, scale=None) -> np.ndarray:
    s = float(rng.uniform(0.05, 1.0)) if scale is None else scale
    w = rng.normal(0.0, s, size=shape).astype(np.float32)
    if rng.random() < 0.3:
        # Uneven per-channel magnitudes exercise per-channel scales.
        w *= rng.uniform(0.1, 2.0, size=shape[-1]).astype(np.float32)
    return w


def _spatial(rng: np.random.Generator, k_max: int = 4, dilate: bool = True):
    """Input size, kernel, strides, dilations and padding that give >= 1 output."""
    while True:
        h, w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        kh, kw = int(rng.integers(1, k_max + 1)), int(rng.integers(1, k_max + 1))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        dh = dw = 1
        if dilate and rng.random() < 0.3:
            sh = sw = 1
            dh, dw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        padding = str(rng.choice(["SAME", "VALID"]))
        eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        if padding == "VALID" and (h < eh or w < ew):
            continue
        return h, w, kh, kw, sh, sw, dh, dw, padding


def _spec_conv(tf, rng, f32: bool) -> _Spec:
    h, w, kh, kw, sh, sw, dh, dw, padding = _spatial(rng)
    cin, cout = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    groups = 1
    if not f32 and rng.random() < 0.15:
        # Grouped convolution: the filter sees cin / groups input channels.
        groups = int(rng.integers(2, 4))
        cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    p = dict(h=h, w=w, cin=cin, cout=cout, kh=kh, kw=kw, stride=(sh, sw), dilation=(dh, dw), padding=padding,
             groups=groups)
    act = _act(tf, rng, p)
    W = tf.constant(_weights(rng, (kh, kw, cin // groups, cout)))
    b = tf.constant(rng.normal(0, 0.5, size=cout).astype(np.float32))

    def fn(x):
        y = tf.nn.conv2d(x, W, strides=[1, sh, sw, 1], padding=padding, dilations=[1, dh, dw, 1])
        return act(tf.nn.bias_add(y, b))

    return _Spec(fn, [(1, h, w, cin)], [_rng_range(rng)], p, "CONV_2D")


def _spec_dwconv(tf, rng, f32: bool) -> _Spec:
    while True:
        h, w, kh, kw, s, _, d, _, padding = _spatial(rng)
        if padding == "VALID" and (h < (kh - 1) * d + 1 or w < (kw - 1) * d + 1):
            continue
        break
    cin, dm = int(rng.integers(1, 9)), int(rng.choice([1, 1, 1, 2, 3]))
    p = dict(h=h, w=w, cin=cin, depth_multiplier=dm, kh=kh, kw=kw, stride=s, dilation=d, padding=padding)
    act = _act(tf, rng, p)
    W = tf.constant(_weights(rng, (kh, kw, cin, dm)))
    b = tf.constant(rng.normal(0, 0.5, size=cin * dm).astype(np.float32))

    def fn(x):
        y = tf.nn.depthwise_conv2d(x, W, strides=[1, s, s, 1], padding=padding, dilations=[d, d])
        return act(tf.nn.bias_add(y, b))

    return _Spec(fn, [(1, h, w, cin)], [_rng_range(rng)], p, "DEPTHWISE_CONV_2D")


def _spec_fc(tf, rng, f32: bool) -> _Spec:
    n_in, units = int(rng.integers(1, 65)), int(rng.integers(1, 33))
    rows = int(rng.choice([1, 1, 1, 2, 3]))
    per_channel = bool(rng.random() < 0.4)
    # A rank-3 input keeps its leading dimensions (keep_num_dims).
    in_shape = (1, rows, n_in) if rng.random() < 0.3 else (rows, n_in)
    p = dict(n_in=n_in, units=units, rows=rows, per_channel=per_channel, input_shape=in_shape)
    act = _act(tf, rng, p)
    W = tf.constant(_weights(rng, (n_in, units)))
    b = tf.constant(rng.normal(0, 0.5, size=units).astype(np.float32))

    def fn(x):
        return act(tf.matmul(x, W) + b)

    return _Spec(fn, [in_shape], [_rng_range(rng)], p, "FULLY_CONNECTED", per_channel_dense=per_channel)


def _spec_pool(tf, rng, f32: bool, avg: bool) -> _Spec:
    h, w, kh, kw, sh, sw, _, _, padding = _spatial(rng, k_max=4, dilate=False)
    c = int(rng.integers(1, 9))
    p = dict(h=h, w=w, c=c, k=(kh, kw), stride=(sh, sw), padding=padding)
    act = _act(tf, rng, p, allow_n1=False)
    pool = tf.nn.avg_pool2d if avg else tf.nn.max_pool2d

    def fn(x):
        return act(pool(x, ksize=[kh, kw], strides=[sh, sw], padding=padding))

    return _Spec(fn, [(1, h, w, c)], [_rng_range(rng)], p, "AVERAGE_POOL_2D" if avg else "MAX_POOL_2D")


def _rand_shape(rng, rank_choices=(1, 2, 3, 4), max_dim=6) -> tuple[int, ...]:
    rank = int(rng.choice(rank_choices))
    return (1,) + tuple(int(rng.integers(1, max_dim + 1)) for _ in range(rank - 1)) if rank > 1 else \
        (int(rng.integers(1, 17)),)


def _spec_reshape(tf, rng, f32: bool) -> _Spec:
    shape = _rand_shape(rng, (2, 3, 4))
    n = int(np.prod(shape))
    # Another factorisation of the same size.
    dims = []
    rest = n
    while rest > 1 and len(dims) < 3:
        divs = [d for d in range(2, rest + 1) if rest % d == 0]
        d = int(rng.choice(divs))
        dims.append(d)
        rest //= d
    new_shape = [1] + dims + ([rest] if rest > 1 else [])
    if new_shape == list(shape):
        new_shape = [1, n] if list(shape) != [1, n] else [1, n, 1]
    p = dict(shape=shape, new_shape=new_shape)

    def fn(x):
        return tf.reshape(x, new_shape)

    return _Spec(fn, [shape], [_rng_range(rng)], p, "RESHAPE")


def _spec_softmax(tf, rng, f32: bool) -> _Spec:
    shape = _rand_shape(rng, (2, 2, 4), max_dim=12)
    lo, hi = _rng_range(rng)
    k = float(rng.uniform(1.0, 8.0))
    p = dict(shape=shape)

    def fn(x):
        return tf.nn.softmax(x, axis=-1)

    return _Spec(fn, [shape], [(lo * k, hi * k)], p, "SOFTMAX")


def _bcast_pair(rng) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rank = int(rng.choice([2, 3, 4, 4, 5]))
    full = [1] + [int(rng.integers(1, 6)) for _ in range(rank - 1)]
    a, b = list(full), list(full)
    mode = rng.random()
    if mode < 0.35:
        return tuple(a), tuple(b)
    for i in range(1, rank):
        r = rng.random()
        if r < 0.3:
            a[i] = 1
        elif r < 0.6:
            b[i] = 1
    if rng.random() < 0.3:
        b = b[int(rng.integers(1, rank)):]      # lower-rank operand
        if not b:
            b = [1]
    return tuple(a), tuple(b)


def _spec_binary(tf, rng, f32: bool, op: str) -> _Spec:
    sa, sb = _bcast_pair(rng)
    with_const = bool(rng.random() < 0.25)
    p = dict(a=sa, b=sb, const=with_const)
    act = _act(tf, rng, p, allow_n1=False) if rng.random() < 0.5 else (lambda t: t)
    p.setdefault("activation", "NONE")
    f = (lambda x, y: x + y) if op == "ADD" else (lambda x, y: x * y)
    if with_const:
        C = tf.constant(rng.uniform(-2, 2, size=sb).astype(np.float32))

        def fn1(x):
            return act(f(x, C))

        return _Spec(fn1, [sa], [_rng_range(rng)], p, op)

    def fn2(x, y):
        return act(f(x, y))

    return _Spec(fn2, [sa, sb], [_rng_range(rng), _rng_range(rng)], p, op)


def _spec_mean(tf, rng, f32: bool) -> _Spec:
    rank = int(rng.choice([2, 3, 4, 4]))
    while True:
        shape = (1,) + tuple(int(rng.integers(1, 7)) for _ in range(rank - 1))
        axes = sorted(int(a) for a in rng.choice(np.arange(1, rank), size=int(rng.integers(1, rank)), replace=False))
        if any(shape[a] > 1 for a in axes):
            break   # a mean over size-1 axes only is an identity the converter removes
    keep = bool(rng.random() < 0.5)
    # Calibration data constant along the reduced axes gives the output the
    # input's range, so the converter picks equal quantization: the
    # same-scale path of the kernel.
    same = bool(rng.random() < 0.3)
    p = dict(shape=shape, axes=axes, keepdims=keep, same_quant=same)

    def fn(x):
        return tf.reduce_mean(x, axis=axes, keepdims=keep)

    def flatten_axes(x: np.ndarray) -> np.ndarray:
        first = x[tuple(slice(0, 1) if i in axes else slice(None) for i in range(x.ndim))]
        return np.broadcast_to(first, x.shape).copy()

    return _Spec(fn, [shape], [_rng_range(rng)], p, "MEAN", rep_transform=flatten_axes if same else None)


def _spec_pad(tf, rng, f32: bool, v2: bool) -> _Spec:
    shape = _rand_shape(rng, (2, 3, 4), max_dim=6)
    pads = [[int(rng.integers(0, 3)), int(rng.integers(0, 3))] for _ in shape]
    pads[0] = [0, 0]
    if all(a == 0 and b == 0 for a, b in pads):
        pads[-1] = [1, 0]
    lo, hi = _rng_range(rng)
    cval = float(rng.uniform(lo, hi)) if v2 else 0.0
    p = dict(shape=shape, paddings=pads, constant=cval)

    def fn(x):
        return tf.pad(x, pads, constant_values=cval) if v2 else tf.pad(x, pads)

    return _Spec(fn, [shape], [(lo, hi)], p, "PADV2" if v2 else "PAD")


def _spec_concat(tf, rng, f32: bool) -> _Spec:
    base = list(_rand_shape(rng, (2, 3, 4), max_dim=5))
    axis = int(rng.integers(1, len(base)))
    n = int(rng.integers(2, 4))
    shapes = []
    for _ in range(n):
        s = list(base)
        s[axis] = int(rng.integers(1, 5))
        shapes.append(tuple(s))
    # One shared range keeps the converter from inserting requantizations.
    shared = _rng_range(rng)
    p = dict(shapes=shapes, axis=axis)

    def fn(*xs):
        return tf.concat(list(xs), axis=axis)

    return _Spec(fn, shapes, [shared] * n, p, "CONCATENATION", extra_ops=frozenset({"QUANTIZE"}))


def _spec_unary(tf, rng, f32: bool, op: str) -> _Spec:
    shape = _rand_shape(rng, (2, 3, 4), max_dim=8)
    lo, hi = _rng_range(rng)
    if op in ("LOGISTIC", "TANH"):
        k = float(rng.uniform(1.0, 4.0))
        lo, hi = lo * k, hi * k
    if op in ("RELU", "RELU6") and rng.random() < 0.5:
        hi = hi * 3.0
    fns = {"LOGISTIC": tf.sigmoid, "TANH": tf.tanh, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6}
    f = fns[op]
    p = dict(shape=shape, range=(lo, hi))

    def fn(x):
        return f(x)

    return _Spec(fn, [shape], [(lo, hi)], p, op)


def _spec_quant_io(tf, rng, f32: bool, op: str) -> _Spec:
    """Float input/output around one int8 op: QUANTIZE in front, DEQUANTIZE behind.

    For QUANTIZE, half of the cases are int8 -> int8 requantizations instead:
    CONCATENATION needs one scale for all inputs, and LOGISTIC's output
    scale is fixed, so the converter requantizes that branch.
    """
    if op == "QUANTIZE" and rng.random() < 0.5:
        rows, ca, cb = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        p = dict(shapes=[(1, rows, ca), (1, rows, cb)], inner="requantize")

        def fn_rq(x, z):
            return tf.concat([x, tf.sigmoid(z)], axis=-1)

        return _Spec(fn_rq, [(1, rows, ca), (1, rows, cb)], [_rng_range(rng), _rng_range(rng)], p, op,
                     extra_ops=frozenset({"LOGISTIC", "CONCATENATION"}))
    inner = str(rng.choice(["RELU", "MAX_POOL_2D", "RESHAPE", "ADD"]))
    shape = (1,) + tuple(int(rng.integers(1, 7)) for _ in range(3))
    p = dict(shape=shape, inner=inner)
    if inner == "RELU":
        fn = tf.nn.relu
    elif inner == "MAX_POOL_2D":
        def fn(x):
            return tf.nn.max_pool2d(x, ksize=[1, 1], strides=[1, 1], padding="VALID")
    elif inner == "RESHAPE":
        def fn(x):
            return tf.reshape(x, [1, -1])
    else:
        C = tf.constant(rng.uniform(-1, 1, size=shape[-1]).astype(np.float32))

        def fn(x):
            return x + C
    return _Spec(fn, [shape], [_rng_range(rng)], p, op, extra_ops=frozenset({"QUANTIZE", "DEQUANTIZE", inner}),
                 float_io=True)


def _spec_for(tf, kind: str, rng: np.random.Generator) -> _Spec:
    op, _, dtype = kind.partition("/")
    f32 = dtype == "f32"
    if op == "CONV_2D":
        return _spec_conv(tf, rng, f32)
    if op == "DEPTHWISE_CONV_2D":
        return _spec_dwconv(tf, rng, f32)
    if op == "FULLY_CONNECTED":
        return _spec_fc(tf, rng, f32)
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return _spec_pool(tf, rng, f32, op == "AVERAGE_POOL_2D")
    if op == "RESHAPE":
        return _spec_reshape(tf, rng, f32)
    if op == "SOFTMAX":
        return _spec_softmax(tf, rng, f32)
    if op in ("ADD", "MUL"):
        return _spec_binary(tf, rng, f32, op)
    if op == "MEAN":
        return _spec_mean(tf, rng, f32)
    if op in ("PAD", "PADV2"):
        return _spec_pad(tf, rng, f32, op == "PADV2")
    if op == "CONCATENATION":
        return _spec_concat(tf, rng, f32)
    if op in ("LOGISTIC", "TANH", "RELU", "RELU6"):
        return _spec_unary(tf, rng, f32, op)
    if op in ("QUANTIZE", "DEQUANTIZE"):
        return _spec_quant_io(tf, rng, f32, op)
    raise ValueError(f"no generator for {kind!r}")


def _import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process
    tf.get_logger().setLevel("ERROR")
    return tf


def _convert(tf, spec: _Spec, f32: bool, rng: np.random.Generator, int16: bool = False) -> bytes:
    sig = [tf.TensorSpec(s, tf.float32) for s in spec.input_shapes]
    func = tf.function(spec.fn, input_signature=sig, autograph=False)
    conc = func.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([conc], func)
    if not f32:
        ranges = spec.input_ranges
        data_rng = np.random.default_rng(int(rng.integers(1 << 31)))

        def rep():
            for i in range(16):
                xs = []
                for s, (lo, hi) in zip(spec.input_shapes, ranges):
                    x = data_rng.uniform(lo, hi, size=s).astype(np.float32)
                    if i == 0:
                        # Make sure the calibrated range reaches both ends.
                        x.reshape(-1)[0] = lo
                        x.reshape(-1)[-1] = hi
                    if spec.rep_transform is not None and not xs:
                        x = spec.rep_transform(x)
                    xs.append(x)
                yield xs

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        if int16:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not spec.float_io:
            conv.inference_input_type = tf.int16 if int16 else tf.int8
            conv.inference_output_type = tf.int16 if int16 else tf.int8
        if spec.per_channel_dense is not None:
            conv._experimental_disable_per_channel_quantization_for_dense_layers = not spec.per_channel_dense
    return bytes(conv.convert())


def case_seed(kind: str, index: int, base_seed: int) -> int:
    """Stable per-case seed: independent of which other cases are generated."""
    return (zlib.crc32(kind.encode()) ^ (base_seed * 1000003) ^ (index * 7919)) & 0x7FFFFFFF


def generate(kinds: Iterable[str], per_kind: int, base_seed: int = 0, progress: bool = False) -> list[OpCase]:
    """Build and convert ``per_kind`` models of every kind, in this process."""
    tf = _import_tf()
    plan = [(k, i) for k in kinds for i in range(per_kind)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plan), desc="converting", unit="model")
    cases = []
    for kind, i in plan:
        seed = case_seed(kind, i, base_seed)
        try:
            cases.append(build_case(kind, seed, tf=tf))
        except Exception as e:  # reported by the case's own test, not for the whole batch
            cases.append(OpCase(kind, seed, {}, error=f"{type(e).__name__}: {e}"))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return cases


def build_case(kind: str, seed: int, tf=None) -> OpCase:
    """Build, convert and check one model."""
    if kind not in ALL_CASES:
        raise ValueError(f"unknown case kind {kind!r}; choose from {', '.join(ALL_CASES)}")
    tf = tf or _import_tf()
    f32 = kind.endswith("/f32")
    rng = np.random.default_rng(seed)
    spec = _spec_for(tf, kind, rng)
    tflite = _convert(tf, spec, f32, rng)
    allowed = frozenset({spec.required_op}) | spec.extra_ops
    case = OpCase(kind, seed, spec.params, tflite, allowed, spec.required_op, list(spec.input_ranges))
    check_ops(case)
    return case


def build_int16_model(kind: str, seed: int) -> bytes:
    """The same kind of model with int16 activations (int16x8 quantization).

    The int8 runtime must refuse these with an error naming the operator.
    """
    tf = _import_tf()
    rng = np.random.default_rng(seed)
    spec = _spec_for(tf, kind, rng)
    return _convert(tf, spec, False, rng, int16=True)


def model_ops(tflite: bytes) -> list[str]:
    from .tflite_model import read_model

    return [o.op for o in read_model(tflite).operators]


def check_ops(case: OpCase) -> None:
    """Raise OpGenError unless the model holds the op under test and nothing unintended."""
    ops = model_ops(case.tflite)
    extra = sorted(set(ops) - case.allowed_ops)
    if extra or case.required_op not in ops:
        raise OpGenError(f"{case.name} {case.params}: expected {case.required_op} "
                         f"(allowed {sorted(case.allowed_ops)}), model has {ops}")


def random_inputs(case: OpCase, details: list[dict], n: int, seed: int) -> list[list[np.ndarray]]:
    """``n`` input sets for a model: full-range int8, or floats in the calibrated range.

    ``details`` are the input tensor descriptions (``dtype`` and ``shape``) in order.
    """
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        xs = []
        for i, d in enumerate(details):
            shape = tuple(int(s) for s in d["shape"])
            if np.dtype(d["dtype"]) == np.int8:
                xs.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
            else:
                lo, hi = case.input_ranges[i] if i < len(case.input_ranges) else (-1.0, 1.0)
                span = hi - lo
                xs.append(rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=shape).astype(np.float32))
        sets.append(xs)
    return sets
