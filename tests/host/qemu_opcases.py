"""Single-op conformance cases for the QEMU boards: the models, their inputs
and TFLM's outputs, packed as files for one QEMU boot, and the device script
that runs them all and compares every output byte.

Two sources of models:
- ``mpyml.opgen`` random cases (the generator of test_kernels_conformance.py),
  one or more per case kind, int8 and float32;
- layer-shaped cases with explicit parameters (``LAYER_CASES``): the shapes of
  the real models' layers (64 channels, 1x1 and 10x4 convolutions, depthwise
  3x3 at stride 1 and 2, depth multiplier 8) and awkward ones (odd channel
  counts, batch 2, per-tensor filters), where optimized kernels take their
  fast paths and their remainder loops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mpyml import opgen

DEVICE_DIR = "/opcases"
INPUT_SETS = 3


@dataclass
class LayerCase:
    name: str
    op: str  # CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
    in_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    out_ch: int = 0  # CONV_2D filters / FC units
    depth_multiplier: int = 1
    stride: int = 1
    padding: str = "SAME"
    activation: str = "NONE"
    per_channel: bool = True
    in_range: tuple[float, float] = (-1.5, 2.5)
    dilation: int = 1
    groups: int = 1  # CONV_2D: filters see in_channels / groups

    @property
    def params(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "name"}


LAYER_CASES: tuple[LayerCase, ...] = (
    # kws_ref_model: first layer 10x4 stride 2 on one channel, then 1x1 and
    # depthwise 3x3 at 64 channels on 25x5 pixels, dense 64 -> 12.
    LayerCase("kws_conv10x4_s2", "CONV_2D", (1, 49, 10, 1), (10, 4), 64, stride=2, activation="RELU"),
    LayerCase("kws_conv1x1_64", "CONV_2D", (1, 25, 5, 64), (1, 1), 64, activation="RELU"),
    LayerCase("kws_dw3x3_64", "DEPTHWISE_CONV_2D", (1, 25, 5, 64), (3, 3), activation="RELU"),
    LayerCase("kws_fc_64x12", "FULLY_CONNECTED", (1, 64), out_ch=12, per_channel=False),
    # micro_speech: depthwise 10x8 stride 2 with depth multiplier 8; dense 4000 -> 4 (smaller here).
    LayerCase("speech_dw10x8_dm8_s2", "DEPTHWISE_CONV_2D", (1, 49, 40, 1), (10, 8), depth_multiplier=8, stride=2,
              activation="RELU"),
    LayerCase("speech_fc_1000x4", "FULLY_CONNECTED", (1, 1000), out_ch=4, per_channel=False),
    # person_detect: 3x3 stride 2 from one channel, depthwise stride 2, 1x1 with 8 -> 16.
    LayerCase("pd_conv3x3_s2", "CONV_2D", (1, 24, 24, 1), (3, 3), 8, stride=2, activation="RELU6"),
    LayerCase("pd_dw3x3_s2_16", "DEPTHWISE_CONV_2D", (1, 12, 12, 16), (3, 3), stride=2, activation="RELU6"),
    LayerCase("pd_conv1x1_8x16", "CONV_2D", (1, 12, 12, 8), (1, 1), 16, activation="RELU6"),
    # Odd channel counts (remainder loops), VALID padding, batch 2, per-tensor filters.
    LayerCase("conv1x1_odd_13x11", "CONV_2D", (1, 7, 5, 13), (1, 1), 11),
    LayerCase("conv3x3_valid_5x9", "CONV_2D", (1, 8, 7, 5), (3, 3), 9, padding="VALID", activation="RELU"),
    LayerCase("conv3x3_s2_odd_batch2", "CONV_2D", (2, 9, 11, 3), (3, 3), 7, stride=2, activation="RELU6"),
    LayerCase("conv1x1_per_tensor_24x20", "CONV_2D", (1, 6, 6, 24), (1, 1), 20, per_channel=False),
    LayerCase("conv3x3_per_tensor_s2_valid", "CONV_2D", (1, 9, 9, 5), (3, 3), 7, stride=2, padding="VALID",
              per_channel=False, activation="RELU"),
    LayerCase("dw3x3_s1_odd_17", "DEPTHWISE_CONV_2D", (1, 6, 7, 17), (3, 3), activation="RELU6"),
    LayerCase("dw3x3_valid_dm2_5", "DEPTHWISE_CONV_2D", (1, 7, 6, 5), (3, 3), depth_multiplier=2, padding="VALID"),
    LayerCase("dw3x3_s2_valid_dm3_3", "DEPTHWISE_CONV_2D", (1, 9, 9, 3), (3, 3), depth_multiplier=3, stride=2,
              padding="VALID", activation="RELU"),
    LayerCase("dw3x3_per_tensor_12", "DEPTHWISE_CONV_2D", (1, 8, 8, 12), (3, 3), per_channel=False),
    LayerCase("dw5x5_s2_batch2_7", "DEPTHWISE_CONV_2D", (2, 11, 9, 7), (5, 5), stride=2, activation="RELU"),
    LayerCase("fc_37x13_per_channel_rows3", "FULLY_CONNECTED", (3, 37), out_ch=13, activation="RELU"),
    LayerCase("fc_129x7_per_tensor_relu6", "FULLY_CONNECTED", (2, 129), out_ch=7, per_channel=False,
              activation="RELU6"),
    LayerCase("fc_16x16_per_channel", "FULLY_CONNECTED", (1, 16), out_ch=16),
)


def _layer_fn(tf, case: LayerCase, rng: np.random.Generator):
    acts = {"NONE": lambda t: t, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6}
    act = acts[case.activation]
    cin = case.in_shape[-1]
    s = case.stride
    if case.op == "CONV_2D":
        w = rng.normal(0, 0.3, (*case.kernel, cin // case.groups, case.out_ch)).astype(np.float32)
        w *= rng.uniform(0.2, 2.0, case.out_ch).astype(np.float32)  # uneven per-channel scales
        b = rng.normal(0, 0.5, case.out_ch).astype(np.float32)
        W, B = tf.constant(w), tf.constant(b)
        dil = [1, case.dilation, case.dilation, 1]
        return lambda x: act(tf.nn.bias_add(tf.nn.conv2d(x, W, [1, s, s, 1], case.padding, dilations=dil), B))
    if case.op == "DEPTHWISE_CONV_2D":
        dm = case.depth_multiplier
        w = rng.normal(0, 0.3, (*case.kernel, cin, dm)).astype(np.float32)
        w *= rng.uniform(0.2, 2.0, (cin, dm)).astype(np.float32)
        b = rng.normal(0, 0.5, cin * dm).astype(np.float32)
        W, B = tf.constant(w), tf.constant(b)
        dil = [case.dilation, case.dilation]
        return lambda x: act(tf.nn.bias_add(tf.nn.depthwise_conv2d(x, W, [1, s, s, 1], case.padding, dilations=dil), B))
    if case.op == "FULLY_CONNECTED":
        w = rng.normal(0, 0.3, (cin, case.out_ch)).astype(np.float32)
        w *= rng.uniform(0.2, 2.0, case.out_ch).astype(np.float32)
        b = rng.normal(0, 0.5, case.out_ch).astype(np.float32)
        W, B = tf.constant(w), tf.constant(b)
        return lambda x: act(tf.matmul(x, W) + B)
    raise ValueError(f"no builder for {case.op}")


def build_layer_case(tf, case: LayerCase, seed: int) -> bytes:
    """Full-int8 model (int8 input and output) of one layer."""
    rng = np.random.default_rng(seed)
    fn = _layer_fn(tf, case, rng)
    func = tf.function(fn, input_signature=[tf.TensorSpec(case.in_shape, tf.float32)], autograph=False)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([func.get_concrete_function()], func)
    lo, hi = case.in_range

    def rep():
        for i in range(12):
            x = rng.uniform(lo, hi, case.in_shape).astype(np.float32)
            if i == 0:
                x.reshape(-1)[0], x.reshape(-1)[-1] = lo, hi
            yield [x]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if not case.per_channel:
        conv._experimental_disable_per_channel = True
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif case.op == "FULLY_CONNECTED":
        conv._experimental_disable_per_channel_quantization_for_dense_layers = False
    return bytes(conv.convert())


@dataclass
class PackedCase:
    name: str
    op: str
    params: dict
    tflite: bytes
    inputs: bytes  # INPUT_SETS x (every input tensor's bytes in order)
    expected: bytes  # INPUT_SETS x (every output tensor's bytes in order), TFLM's
    per_channel: bool | None = None  # filters quantized per channel (conv/dw/FC)
    is_float: bool = False  # float32 outputs
    n_outputs: int = 1


def _filter_per_channel(tflite: bytes) -> bool | None:
    from mpyml.tflite_model import read_model

    g = read_model(tflite)
    for op in g.operators:
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            return len(g.tensors[op.inputs[1]].scale) > 1
    return None


def tflm_run(tflite: bytes, input_sets: list[list[np.ndarray]]) -> bytes:
    """TFLM's output bytes (all outputs, all input sets, in order)."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)
    out = bytearray()
    n_out = _num_outputs(tflite)
    for xs in input_sets:
        for i, x in enumerate(xs):
            interp.set_input(x, i)
        interp.invoke()
        for j in range(n_out):
            out += np.ascontiguousarray(interp.get_output(j)).tobytes()
    return bytes(out)


def _num_outputs(tflite: bytes) -> int:
    from mpyml.tflite_model import read_model

    return len(read_model(tflite).outputs)


def _input_details(tflite: bytes) -> list[dict]:
    from tflite_micro.python.tflite_micro import runtime

    from mpyml.tflite_model import read_model

    interp = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)
    return [interp.get_input_details(i) for i in range(len(read_model(tflite).inputs))]


def pack(name: str, op: str, params: dict, tflite: bytes, input_sets: list[list[np.ndarray]],
         is_float: bool = False) -> PackedCase:
    """A case with TFLM's outputs. ``is_float``: float32 kernels, whose
    outputs are compared as numbers; all others byte for byte."""
    inputs = b"".join(np.ascontiguousarray(x).tobytes() for xs in input_sets for x in xs)
    from mpyml.tflite_model import read_model

    g = read_model(tflite)
    return PackedCase(name, op, params, tflite, inputs, tflm_run(tflite, input_sets), _filter_per_channel(tflite),
                      is_float, len(g.outputs))


def build_cases(extra_per_kind: dict[str, int] | None = None) -> list[PackedCase]:
    """Case 0 of every opgen kind (+ ``extra_per_kind`` more of some kinds),
    then the layer-shaped cases; each with INPUT_SETS inputs and TFLM's outputs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    extra = extra_per_kind or {}
    packed = []
    tf = opgen._import_tf()
    for kind in opgen.ALL_CASES:
        for index in range(1 + extra.get(kind, 0)):
            seed = opgen.case_seed(kind, index, 0)
            case = opgen.build_case(kind, seed, tf=tf)
            details = _input_details(case.tflite)
            sets = opgen.random_inputs(case, details, INPUT_SETS, seed)
            packed.append(pack(f"{kind}#{index}", case.required_op, dict(case.params), case.tflite, sets,
                               is_float=kind.endswith("/f32")))
    for i, lc in enumerate(LAYER_CASES):
        tflite = build_layer_case(tf, lc, 1000 + i)
        details = _input_details(tflite)
        rng = np.random.default_rng(2000 + i)
        sets = [[rng.integers(-128, 128, tuple(int(s) for s in d["shape"]), dtype=np.int8) for d in details]
                for _ in range(INPUT_SETS)]
        packed.append(pack(lc.name, lc.op, lc.params, tflite, sets))
    return packed


def device_files(cases: list[PackedCase]) -> dict[str, bytes]:
    files = {}
    for i, c in enumerate(cases):
        files[f"{DEVICE_DIR}/{i}.tflite"] = c.tflite
        files[f"{DEVICE_DIR}/{i}.in"] = c.inputs
        files[f"{DEVICE_DIR}/{i}.exp"] = c.expected
    return files


# Runs every case: input sets in, all outputs compared with TFLM's bytes.
# Prints "OK i" or "BAD i set output offset got expected" (first wrong byte)
# or "ERR i message"; then "DONE n". Cases in _FLOAT print their outputs as
# "OUT i set output hex" instead. Files are memory-mapped from ROMFS.
DEVICE_SCRIPT = """
import gc, tinyml
def _case(i, sets):
    d = _DIR + '/' + str(i)
    model = memoryview(open(d + '.tflite', 'rb'))
    xs = memoryview(open(d + '.in', 'rb'))
    exp = memoryview(open(d + '.exp', 'rb'))
    it = tinyml.Interpreter(model)
    xo = eo = 0
    for k in range(sets):
        for j in range(it.num_inputs):
            t = it.input(j)
            n = t.nbytes
            t[:] = xs[xo:xo + n]
            xo += n
        it.invoke()
        for j in range(it.num_outputs):
            got = it.output(j)[:]
            n = len(got)
            if i in _FLOAT:
                # Float outputs go to the host, which compares them as numbers.
                print('OUT {} {} {} {}'.format(i, k, j, got.hex()))
                eo += n
                continue
            want = bytes(exp[eo:eo + n])
            if got != want:
                p = 0
                while p < n and got[p] == want[p]:
                    p += 1
                if p == n:
                    return 'BAD {} {} {} short output'.format(i, k, j)
                return 'BAD {} {} {} {} {} {}'.format(i, k, j, p, got[p], want[p])
            eo += n
    if xo != len(xs) or eo != len(exp):
        return 'BAD {} sizes: input {}/{} B, output {}/{} B'.format(i, xo, len(xs), eo, len(exp))
    return 'OK {}'.format(i)
def _run_all(n, sets):
    for i in range(n):
        try:
            print(_case(i, sets))
        except Exception as e:
            print('ERR {} {}: {}'.format(i, type(e).__name__, e))
        gc.collect()
    print('DONE', n)
"""


def device_code(cases: list[PackedCase]) -> str:
    floats = {i for i, c in enumerate(cases) if c.is_float}
    return (f"_DIR = {DEVICE_DIR!r}\n_FLOAT = {floats!r}\n" + DEVICE_SCRIPT
            + f"_run_all({len(cases)}, {INPUT_SETS})\n")


@dataclass
class DeviceResults:
    status: dict[int, str]  # case index -> "OK i" / "BAD ..." / "ERR ..."
    outputs: dict[int, dict[tuple[int, int], bytes]]  # float cases: (set, output) -> bytes
    done: int | None


def parse_results(output: str) -> DeviceResults:
    res = DeviceResults({}, {}, None)
    for line in output.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("OK", "BAD", "ERR") and len(parts) > 1 and parts[1].isdigit():
            res.status[int(parts[1])] = line.strip()
        elif parts[0] == "OUT" and len(parts) in (4, 5):
            i, k, j = int(parts[1]), int(parts[2]), int(parts[3])
            res.outputs.setdefault(i, {})[(k, j)] = bytes.fromhex(parts[4] if len(parts) == 5 else "")
        elif parts[0] == "DONE":
            res.done = int(parts[1])
    return res


def float_mismatch(case: PackedCase, outputs: dict[tuple[int, int], bytes]) -> str | None:
    """Float32 outputs vs TFLM's: equal up to rounding (the boards' libm and
    fused multiply-adds differ from the host's in the last bits). None when
    they match, else what differs."""
    got = b"".join(outputs[key] for key in sorted(outputs))
    if len(got) != len(case.expected):
        return f"{len(got)} output bytes, TFLM gives {len(case.expected)}"
    a = np.frombuffer(got, np.float32)
    b = np.frombuffer(case.expected, np.float32)
    if len(outputs) != INPUT_SETS * case.n_outputs:
        return f"{len(outputs)} outputs, expected {INPUT_SETS * case.n_outputs}"
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    bad = ~np.isclose(a, b, rtol=1e-5, atol=1e-6 * scale)
    if bad.any():
        k = int(np.argmax(bad))
        return f"{int(bad.sum())} of {b.size} values differ, e.g. [{k}] {a[k]!r} vs TFLM {b[k]!r}"
    return None
