"""Requantization corners on the emulated cores, byte-identical to TFLM.

The real models and the generated cases all have per-channel multipliers
below one and small accumulators, so the optimized kernels always take their
shortest requantization route. Here layer-shaped models are edited after
conversion so that the other routes run too:

- the output scale shrunk 16x (small right shifts), and shrunk until the
  largest multiplier is in [1, 2) (a left shift; no bias and inputs near the
  zero point, so that not every output saturates);
- one bias set near 2^30: the accumulators no longer fit the fast route's
  bound, so the exact route runs (the other channels keep their values).

TFLM (the tflite-micro package) runs the same edited models. qemu-m4 has the
DSP fast paths, qemu-m3 the portable kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

import qemu_opcases as oc

BOARDS = ["qemu-m3", "qemu-m4"]

BASE = (
    oc.LayerCase("rq_conv1x1_64", "CONV_2D", (1, 5, 3, 64), (1, 1), 64, activation="RELU"),
    oc.LayerCase("rq_conv3x3_odd", "CONV_2D", (1, 6, 5, 7), (3, 3), 9),
    oc.LayerCase("rq_dw3x3_32", "DEPTHWISE_CONV_2D", (1, 6, 7, 32), (3, 3), activation="RELU6"),
    oc.LayerCase("rq_dw3x3_dm4", "DEPTHWISE_CONV_2D", (1, 7, 6, 1), (3, 3), depth_multiplier=4),
    oc.LayerCase("rq_fc_67x10", "FULLY_CONNECTED", (1, 67), out_ch=10),
)


def _edit(tflite: bytes, out_scale_div: float = 1.0, big_bias: bool = False, zero_bias: bool = False) -> bytes:
    """The model with its output scale divided, bias[0] set to 2^30 + 7 or
    all biases zero."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    sub = model.subgraphs[0]
    op = next(o for o in sub.operators if len(o.inputs) >= 3)
    out = sub.tensors[op.outputs[0]]
    out.quantization.scale = [float(s) / out_scale_div for s in out.quantization.scale]
    if big_bias or zero_bias:
        buf = model.buffers[sub.tensors[op.inputs[2]].buffer]
        bias = np.frombuffer(bytes(bytearray(buf.data)), np.int32).copy()
        if zero_bias:
            bias[:] = 0
        if big_bias:
            bias[0] = (1 << 30) + 7
        buf.data = np.frombuffer(bias.tobytes(), np.uint8)
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _max_shift(tflite: bytes) -> int:
    """The largest power of two of the op's multipliers (> 0: a left shift)."""
    from mpyml.tflite_model import read_model

    g = read_model(tflite)
    op = next(o for o in g.operators if o.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
    x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    real = x.scale[0] * np.asarray(w.scale) / y.scale[0]
    return int(max(np.frexp(real)[1]))


def _input_zero_point(tflite: bytes) -> int:
    from mpyml.tflite_model import read_model

    g = read_model(tflite)
    return int(g.tensors[g.inputs[0]].zero_point[0])


@pytest.fixture(scope="module")
def cases() -> list[oc.PackedCase]:
    tf = oc.opgen._import_tf()
    packed = []
    for i, lc in enumerate(BASE):
        base = oc.build_layer_case(tf, lc, 3000 + i)
        rng = np.random.default_rng(4000 + i)
        shape = tuple(int(s) for s in oc._input_details(base)[0]["shape"])
        zp = _input_zero_point(base)
        full = [[rng.integers(-128, 128, shape, dtype=np.int8)] for _ in range(oc.INPUT_SETS)]
        # Inputs close to the zero point and no bias keep the left-shifted
        # outputs off the rails.
        near = [[np.clip(zp + rng.integers(-1, 2, shape), -128, 127).astype(np.int8)]
                for _ in range(oc.INPUT_SETS)]
        # The largest multiplier becomes one in [1, 2): a left shift of 1.
        div = 2.0 ** (1 - _max_shift(base))
        for tag, kw, sets in (("right16", {"out_scale_div": 16.0}, full),
                              ("left", {"out_scale_div": div, "zero_bias": True}, near),
                              ("bigbias", {"big_bias": True}, full)):
            packed.append(oc.pack(f"{lc.name}_{tag}", lc.op, dict(kw), _edit(base, **kw), sets))
    return packed


def test_the_edits_reach_the_routes(cases):
    for c in cases:
        if c.name.endswith("_left"):
            assert _max_shift(c.tflite) >= 1, c.name
        elif c.name.endswith("_bigbias"):
            assert _max_shift(c.tflite) <= 0, c.name
        # Not everything saturated: the comparison means something.
        assert len(set(c.expected)) > 2, c.name


@pytest.mark.parametrize("board", BOARDS)
def test_requant_routes_match_tflm(board, cases):
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    firmware_path(board)  # raises with the build command when missing
    with QemuSession(board, oc.device_files(cases)) as session:
        r = session.repl.exec(oc.device_code(cases), timeout=600)
    assert not r.error.strip(), r.error[-2000:]
    res = oc.parse_results(r.output)
    assert res.done == len(cases), f"{board}: the device script stopped early"
    bad = [f"{c.name}: {res.status.get(i, 'missing')}" for i, c in enumerate(cases)
           if not res.status.get(i, "").startswith("OK")]
    assert not bad, f"{board}: {len(bad)} of {len(cases)} differ from TFLM:\n" + "\n".join(bad)
