# tinyml.Interpreter on the device: tensor access, zero-copy model, errors,
# no allocation per invoke. Byte equality with TFLM is checked from the host
# (tests/host/test_runtime_firmware.py) on the same firmware.
import gc
import os

import tinyml
from tinyml.testing import SkipTest, raises


def _model(rel):
    base = os.getenv("MPYML_TESTDATA") or "../shared/testdata"
    try:
        with open(base + "/" + rel, "rb") as f:
            return f.read()
    except OSError:
        raise SkipTest("test data not available on this device")


def _kws():
    return _model("mlperf-tiny/kws_ref_model.tflite")


def test_tensors_describe_the_model():
    it = tinyml.Interpreter(_kws())
    assert it.num_inputs == 1 and it.num_outputs == 1
    assert it.ops[0] == "CONV_2D" and it.ops[-1] == "SOFTMAX" and len(it.ops) == 13
    t = it.input(0)
    assert t.shape == (1, 49, 10, 1) and t.dtype == "int8" and len(t) == 490 and t.nbytes == 490
    assert t.zero_point == 83 and abs(t.scale - 0.5847029) < 1e-5
    o = it.output(0)
    assert o.shape == (1, 12) and o.zero_point == -128 and abs(o.scale - 1 / 256) < 1e-9
    assert it.arena_used > 0 and it.arena_size >= it.arena_used


def test_model_is_not_copied():
    m = _kws()
    it = tinyml.Interpreter(m)
    assert it.model is m
    # Free the first arena before the second: small boards have room for one.
    it = None
    gc.collect()
    mv = memoryview(m)
    assert tinyml.Interpreter(mv).model is mv


def test_fill_by_slice_and_by_memoryview_agree():
    it = tinyml.Interpreter(_kws())
    inp, out = it.input(0), it.output(0)
    data = bytes((i * 7) & 0xFF for i in range(len(inp)))
    inp[:] = data
    assert bytes(inp) == data
    it.invoke()
    first = bytes(out)
    inp[:] = bytes(len(inp))
    memoryview(inp)[:] = data
    it.invoke()
    assert bytes(out) == first
    # Softmax output: probabilities add up to about one.
    total = sum(out.dequantize(v) for v in memoryview(out))
    assert abs(total - 1.0) < 0.05


def test_element_access():
    it = tinyml.Interpreter(_kws())
    t = it.input(0)
    t[0] = -5
    t[-1] = 100
    assert t[0] == -5 and t[489] == 100 and t[-1] == 100
    assert t[0:2] == bytes([0xFB, t[1] & 0xFF])
    with raises(IndexError):
        t[490]
    with raises(ValueError, "slice needs 490 bytes"):
        t[:] = b"abc"


def test_quantize_round_trip():
    t = tinyml.Interpreter(_kws()).input(0)
    assert t.quantize(0.0) == t.zero_point
    assert t.quantize(1e9) == 127 and t.quantize(-1e9) == -128
    for v in (-20.0, -1.0, 0.3, 5.5):
        assert abs(t.dequantize(t.quantize(v)) - v) <= t.scale / 2 + 1e-6


def test_invoke_allocates_nothing():
    it = tinyml.Interpreter(_kws())
    it.invoke()
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(5):
        it.invoke()
    assert gc.mem_alloc() == before


def test_errors_have_messages():
    m = _kws()
    with raises(ValueError, "malformed"):
        tinyml.Interpreter(m[:len(m) // 2])
    with raises(ValueError, "not a TFLite model"):
        tinyml.Interpreter(bytes(64))
    with raises(ValueError, "arena too small"):
        tinyml.Interpreter(m, 1000)
    with raises(TypeError):
        tinyml.Interpreter(12)
    it = tinyml.Interpreter(m)
    with raises(IndexError, "out of range"):
        it.output(1)


def test_exact_arena_size_works():
    m = _model("tflite-micro/micro_speech_quantized.tflite")
    used = tinyml.Interpreter(m).arena_used
    it = tinyml.Interpreter(m, used)
    it.invoke()
    try:
        tinyml.Interpreter(m, used - 16)
    except ValueError as e:
        assert ("%d bytes" % used) in str(e)
    else:
        raise AssertionError("an arena 16 bytes short was accepted")
