"""Prepare-time checks of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
AVERAGE_POOL_2D, which share one implementation (kernels/tml_kprep.c): each
op must still reject a bad option or tensor with its own error text. Also
SOFTMAX with an int16 output (its scale check and results against TFLM).

The edits change one operator of kws_ref_model (ops 0/2/... CONV_2D,
1/3/... DEPTHWISE_CONV_2D, 9 AVERAGE_POOL_2D, 11 FULLY_CONNECTED; tensor 1
is the 12-entry bias of FULLY_CONNECTED, 3 the 64-entry bias of op 0).
Zero is the schema default of the integer options, which the encoder leaves
out (the kernels then read their own default), so bad values are negative.
"""

from __future__ import annotations

import numpy as np
import pytest

from mpyml.runtime import Interpreter
from runtime_cases import schema

TANH = 4   # a fused activation code the int8 kernels do not take


def _model(testdata) -> bytes:
    return (testdata / "mlperf-tiny" / "kws_ref_model.tflite").read_bytes()


def _edited(model: bytes, op: int, **options) -> bytes:
    """The model with fields of operator `op` (its options, or its inputs
    when `inputs` is given) changed, re-encoded."""
    import flatbuffers

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAs(model, 0))
    target = m.subgraphs[0].operators[op]
    if "inputs" in options:
        target.inputs = np.array(options.pop("inputs"), dtype=np.int32)
    for k, v in options.items():
        assert hasattr(target.builtinOptions, k), k
        setattr(target.builtinOptions, k, v)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


CASES = {
    "conv activation": (0, {"fusedActivationFunction": TANH}, "CONV_2D", "CONV_2D: unsupported fused activation"),
    "conv padding": (2, {"padding": 5}, "CONV_2D", "CONV_2D: unknown padding"),
    "conv stride": (0, {"strideW": -2}, "CONV_2D", "CONV_2D: strides and dilations must be positive"),
    "conv dilation": (4, {"dilationHFactor": -1}, "CONV_2D", "CONV_2D: strides and dilations must be positive"),
    "conv output size": (0, {"strideW": 1}, "CONV_2D", "CONV_2D: output size does not match padding and strides"),
    "conv bias size": (0, {"inputs": [0, 17, 1]}, "CONV_2D", "CONV_2D: bias size differs from output channels"),
    "dw activation": (1, {"fusedActivationFunction": TANH}, "DEPTHWISE_CONV_2D",
                      "DEPTHWISE_CONV_2D: unsupported fused activation"),
    "dw padding": (3, {"padding": 3}, "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D: unknown padding"),
    "dw dilation": (1, {"dilationWFactor": 0}, "DEPTHWISE_CONV_2D",
                    "DEPTHWISE_CONV_2D: strides and dilations must be positive"),
    "dw output size": (5, {"strideH": 2}, "DEPTHWISE_CONV_2D",
                       "DEPTHWISE_CONV_2D: output size does not match padding and strides"),
    "dw bias size": (1, {"inputs": [22, 5, 1]}, "DEPTHWISE_CONV_2D",
                     "DEPTHWISE_CONV_2D: bias size differs from output channels"),
    "fc activation": (11, {"fusedActivationFunction": TANH}, "FULLY_CONNECTED",
                      "FULLY_CONNECTED: unsupported fused activation"),
    "fc shuffled": (11, {"weightsFormat": 1}, "FULLY_CONNECTED", "FULLY_CONNECTED: shuffled weights are not supported"),
    "fc bias size": (11, {"inputs": [32, 16, 3]}, "FULLY_CONNECTED", "FULLY_CONNECTED: bias size differs from units"),
    "pool stride": (9, {"strideW": -5}, "AVERAGE_POOL_2D", "POOL_2D: strides and filter size must be positive"),
    "pool filter": (9, {"filterHeight": -1}, "AVERAGE_POOL_2D", "POOL_2D: strides and filter size must be positive"),
    "pool padding": (9, {"padding": 2}, "AVERAGE_POOL_2D", "POOL_2D: unknown padding"),
    "pool output size": (9, {"strideH": 1, "filterHeight": 12}, "AVERAGE_POOL_2D", "POOL_2D: output size does not match padding and strides"),
    "pool activation": (9, {"fusedActivationFunction": TANH}, "AVERAGE_POOL_2D", "POOL_2D: unsupported fused activation"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_prepare_names_the_op_and_the_problem(case, testdata):
    op, options, name, detail = CASES[case]
    model = _edited(_model(testdata), op, **options)
    with pytest.raises(ValueError) as e:
        Interpreter(model)
    assert str(e.value) == f"op {op} ({name}): {detail}"


def test_unedited_reencoding_loads(testdata):
    # The edits above are the only difference: the re-encoded model loads.
    it = Interpreter(_edited(_model(testdata), 0))
    assert it.arena_used == Interpreter(_model(testdata)).arena_used


def _int16_softmax_output(model: bytes, scale: float) -> bytes:
    """kws_ref_model with its SOFTMAX writing int16 (zero point -32768)."""
    import flatbuffers

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAs(model, 0))
    sg = m.subgraphs[0]
    t = sg.tensors[sg.operators[12].outputs[0]]
    t.type = 7      # INT16
    t.quantization.scale = [scale]
    t.quantization.zeroPoint = [-32768]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_int8_softmax_with_int16_output_matches_tflm(testdata):
    from tflite_micro.python.tflite_micro import runtime

    model = _int16_softmax_output(_model(testdata), 1.0 / 65536.0)
    ours = Interpreter(model)
    ref = runtime.Interpreter.from_bytes(model)
    rng = np.random.default_rng(16)
    shape = ours.input_array(0).shape
    for _ in range(8):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        ours.set_input(x)
        ours.invoke()
        ref.set_input(x, 0)
        ref.invoke()
        want = np.asarray(ref.get_output(0))
        assert want.dtype == np.int16
        np.testing.assert_array_equal(ours.get_output(), want)


@pytest.mark.parametrize("factor, accepted", [(1.0009, True), (0.9991, True), (1.0011, False), (0.9989, False)])
def test_int16_softmax_output_scale_tolerance(testdata, factor, accepted):
    # The reference accepts output scales within 0.1% of 1/65536 (negative
    # and NaN scales are refused when the model is read).
    model = _int16_softmax_output(_model(testdata), factor / 65536.0)
    if accepted:
        Interpreter(model)
    else:
        with pytest.raises(ValueError, match=r"^op 12 \(SOFTMAX\): SOFTMAX: int16 output needs scale 1/65536 "
                                             r"and zero point -32768$"):
            Interpreter(model)
