"""The int8 runtime through its host binding (mpyml._native / mpyml.runtime):
bit-exact against TFLM on the real models, arena vs TFLM, API and errors."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mpyml import _native
from mpyml.interpreters import tflm_arena_bytes
from mpyml.runtime import Interpreter, dequantize, quantize
from runtime_cases import MODELS, find_opcode_fields, model_inputs, tflm_outputs


@pytest.fixture(scope="module")
def models(testdata):
    return {name: (testdata / rel).read_bytes() for name, rel in MODELS.items()}


@pytest.fixture(scope="module")
def oracle(models, testdata):
    """Inputs and TFLM's outputs per model, computed once."""
    cases = {}
    for name, model in models.items():
        xs = model_inputs(name, model, testdata)
        cases[name] = (xs, tflm_outputs(model, xs))
    return cases


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_identical_to_tflm(name, models, oracle):
    xs, ref = oracle[name]
    assert len(xs) >= 100
    it = Interpreter(models[name])
    # One at a time through the tensor buffers ...
    for x, r in zip(xs[:10], ref[:10]):
        it.set_input(x)
        it.invoke()
        np.testing.assert_array_equal(it.get_output().reshape(-1), r.reshape(-1))
    # ... and the whole set through the batch loop.
    got = it.evaluate(xs).reshape(len(xs), -1)
    mismatch = np.flatnonzero(np.any(got != ref.reshape(len(xs), -1), axis=1))
    assert mismatch.size == 0, f"{mismatch.size} of {len(xs)} outputs differ from TFLM (first: {mismatch[:5]})"
    # The outputs are not degenerate: different inputs give different outputs.
    assert len({bytes(r) for r in got}) > 1


def test_kws_shipped_input_gives_tflm_class(testdata, models, oracle):
    x = np.load(testdata / "mlperf-tiny" / "kws_input_0.npy")
    it = Interpreter(models["kws_ref_model"])
    it.set_input(x)
    it.invoke()
    y = it.get_output()
    np.testing.assert_array_equal(y.reshape(-1), oracle["kws_ref_model"][1][0].reshape(-1))
    assert int(np.argmax(y)) == int(np.argmax(oracle["kws_ref_model"][1][0]))


@pytest.mark.parametrize("name", list(MODELS))
def test_arena_not_larger_than_tflm(name, models, record_property, capsys):
    model = models[name]
    ours = Interpreter(model).arena_used
    tflm = tflm_arena_bytes(model)
    record_property("arena_mpyml", ours)
    record_property("arena_tflm", tflm)
    with capsys.disabled():
        print(f"\n{name}: arena_used {ours} B, TFLM arena total {tflm} B")
    assert 0 < ours <= tflm


@pytest.mark.parametrize("name", list(MODELS))
def test_arena_used_is_the_minimum(name, models):
    model = models[name]
    used = Interpreter(model).arena_used
    assert used % 16 == 0
    exact = Interpreter(model, used)
    assert exact.arena_used == used
    exact.invoke()
    with pytest.raises(ValueError, match=rf"arena too small: needs (at least )?{used} bytes \(has {used - 16}\)"):
        Interpreter(model, used - 16)


def test_tiny_arena_reports_a_lower_bound(models):
    with pytest.raises(ValueError, match=r"arena too small: needs at least \d+ bytes \(has 96\)"):
        Interpreter(models["person_detect"], 100)


def test_tensor_metadata(models):
    it = Interpreter(models["kws_ref_model"])
    assert it.num_inputs == 1 and it.num_outputs == 1
    assert it.ops == ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4 + ["AVERAGE_POOL_2D", "RESHAPE",
                                                                            "FULLY_CONNECTED", "SOFTMAX"]
    t = it.input(0)
    assert t.shape == (1, 49, 10, 1) and t.dtype == "int8" and t.nbytes == 490
    assert t.zero_point == 83 and abs(t.scale - 0.5847029) < 1e-6
    o = it.output(0)
    assert o.shape == (1, 12) and o.scale == 1 / 256 and o.zero_point == -128
    mv = memoryview(t)
    assert mv.format == "b" and mv.shape == (1, 49, 10, 1) and not mv.readonly
    with pytest.raises(IndexError, match="input index 1 out of range"):
        it.input(1)
    with pytest.raises(IndexError):
        it.output(-1)


def test_quantize_functions_match_tensor_methods(models):
    t = Interpreter(models["kws_ref_model"]).input(0)
    xs = np.array([-1000.0, -1.2, 0.0, 0.29, 0.5847029 / 2, 3.3, 1e6])
    q = quantize(xs, t.scale, t.zero_point)
    assert q.tolist() == [t.quantize(float(x)) for x in xs]
    assert q[-1] == 127 and q[0] == -128
    back = dequantize(q, t.scale, t.zero_point)
    assert back.tolist() == pytest.approx([t.dequantize(int(v)) for v in q])
    assert abs(t.dequantize(t.quantize(1.0)) - 1.0) <= t.scale / 2


def test_model_is_used_in_place(models):
    # The interpreter keeps the very object it got, and reads the weights from
    # it: changing a weight byte afterwards changes the result.
    model = bytearray(models["hello_world_int8"])
    it = Interpreter(model)
    assert it.model is model
    it.set_input(np.array([[10]], dtype=np.int8))
    it.invoke()
    before = it.get_output().copy()
    from runtime_cases import constant_ranges

    start, end = max(constant_ranges(bytes(model)), key=lambda r: r[1] - r[0])
    for k in range(start, end):
        model[k] = 0x7F
    it.invoke()
    assert not np.array_equal(before, it.get_output())


def test_unsupported_operator_is_named(models):
    model = bytearray(models["hello_world_int8"])
    fields = find_opcode_fields(bytes(model))
    model[fields["deprecated_builtin_code"]] = 16
    struct.pack_into("<i", model, fields["builtin_code"], 16)
    with pytest.raises(ValueError, match=r"^unsupported operator LSTM \(code 16\)$"):
        Interpreter(bytes(model))


def test_unsupported_operator_version_is_named(models):
    model = bytearray(models["hello_world_int8"])
    fields = find_opcode_fields(bytes(model))
    struct.pack_into("<i", model, fields["version"], 99)
    with pytest.raises(ValueError, match=r"^FULLY_CONNECTED version 99 not supported$"):
        Interpreter(bytes(model))


@pytest.mark.parametrize("data, message", [
    (b"", "model too short"),
    (b"TFL3", "model too short"),
    (b"\x00" * 64, "not a TFLite model"),
    (b"\x08\x00\x00\x00TFL3" + b"\xff" * 32, "malformed model root table"),
])
def test_garbage_is_rejected_with_a_message(data, message):
    with pytest.raises(ValueError, match=message):
        Interpreter(data)


def test_bad_arguments():
    with pytest.raises(TypeError):
        Interpreter(12)
    with pytest.raises(ValueError, match="arena_size"):
        Interpreter(b"x" * 16, -1)


def test_interpreters_are_independent(models):
    # No hidden global state: two models interleaved give their own results.
    a = Interpreter(models["kws_ref_model"])
    b = Interpreter(models["micro_speech_quantized"])
    xa = np.random.default_rng(1).integers(-128, 128, a.input(0).shape, dtype=np.int8)
    xb = np.random.default_rng(2).integers(-128, 128, b.input(0).shape, dtype=np.int8)
    ref_a = tflm_outputs(models["kws_ref_model"], xa[None])[0]
    ref_b = tflm_outputs(models["micro_speech_quantized"], xb[None])[0]
    a.set_input(xa)
    b.set_input(xb)
    a.invoke()
    b.invoke()
    np.testing.assert_array_equal(a.get_output().ravel(), ref_a.ravel())
    np.testing.assert_array_equal(b.get_output().ravel(), ref_b.ravel())


def test_tensor_outlives_interpreter(models):
    it = Interpreter(models["hello_world_int8"])
    t = it.output(0)
    del it
    assert len(bytes(memoryview(t).cast("B"))) == t.nbytes


def test_native_class_is_exported(models):
    assert issubclass(Interpreter, _native.Interpreter)
    assert re.match(r"<Tensor \d+ int8 \(1, 1\)>", repr(Interpreter(models["hello_world_int8"]).input(0)))


MALFORMED_RUNNER = textwrap.dedent("""
    import sys
    from mpyml.runtime import Interpreter
    sys.path.insert(0, sys.argv[1])
    from runtime_cases import MODELS, apply_corruption, corruptions
    from pathlib import Path
    counts = {}
    for name, rel in MODELS.items():
        model = (Path(sys.argv[2]) / rel).read_bytes()
        for case in corruptions(name, model):
            data = apply_corruption(model, case)
            try:
                it = Interpreter(data)
            except ValueError as e:
                outcome = ("E" if str(e) else "empty message")
            except BaseException as e:
                outcome = f"BAD {type(e).__name__}: {e} for {name} {case}"
            else:
                it.invoke()
                outcome = "ok"
            if case[0] == "trunc" and outcome != "E":
                outcome = f"BAD truncation accepted: {name} {case}"
            counts[outcome] = counts.get(outcome, 0) + 1
    print(counts)
""")


def test_truncated_and_bit_flipped_models_raise_value_error(testdata, root):
    # A separate process: a crash shows up as an exit status, not a dead run.
    r = subprocess.run([sys.executable, "-c", MALFORMED_RUNNER, str(root / "tests" / "host"), str(testdata)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    counts = eval(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in counts.items() if k not in ("E", "ok")}
    assert not bad, bad
    assert counts.get("E", 0) >= 400, counts  # most corruptions are detected


def test_reinitialising_is_refused(models):
    it = Interpreter(models["hello_world_int8"])
    t = it.input(0)
    with pytest.raises(RuntimeError, match="already initialised"):
        it.__init__(models["kws_ref_model"])
    assert t.shape == (1, 1)


@pytest.mark.parametrize("name", list(MODELS))
def test_memory_plan_never_overlaps_live_tensors(name, models):
    # Independent check of the planner: tensors whose lifetimes (first to
    # last op using them; graph inputs from the start, outputs to the end)
    # overlap must not share bytes, and all of them lie inside the arena.
    import ctypes

    from runtime_cases import schema

    model = models[name]
    it = Interpreter(model)
    sg = schema().Model.GetRootAs(model, 0).Subgraphs(0)
    n_ops = sg.OperatorsLength()
    life: dict[int, list[int]] = {}
    for i in range(n_ops):
        op = sg.Operators(i)
        for t in [*op.InputsAsNumpy().tolist(), *op.OutputsAsNumpy().tolist()]:
            if t >= 0:
                life.setdefault(t, [i, i])[1] = i
    for t in sg.InputsAsNumpy().tolist():
        life.setdefault(t, [0, 0])[0] = 0
    for t in sg.OutputsAsNumpy().tolist():
        life.setdefault(t, [0, 0])[1] = n_ops - 1
    spans = []
    for t, (first, last) in life.items():
        tensor = it.tensor(t)
        if tensor.is_const:
            continue
        addr = ctypes.addressof(ctypes.c_char.from_buffer(memoryview(tensor).cast("B")))
        spans.append((t, first, last, addr, addr + tensor.nbytes))
    assert spans
    lo = min(s[3] for s in spans)
    assert max(s[4] for s in spans) - lo <= it.arena_used
    for a in spans:
        for b in spans:
            if a[0] < b[0] and a[1] <= b[2] and b[1] <= a[2] and a[3] < b[4] and b[3] < a[4]:
                # Only a RESHAPE output may share its dying input's bytes.
                codes = schema().Model.GetRootAs(model, 0).OperatorCodes
                ops = [sg.Operators(i) for i in range(n_ops)]
                shared = any(
                    max(codes(op.OpcodeIndex()).BuiltinCode(), codes(op.OpcodeIndex()).DeprecatedBuiltinCode()) == 22
                    and {op.Inputs(0), op.Outputs(0)} == {a[0], b[0]} for op in ops)
                assert shared and a[3] == b[3], f"tensors {a[0]} and {b[0]} overlap while both live"


@pytest.mark.parametrize("name", ["kws_ref_model", "micro_speech_quantized"])
def test_model_at_an_odd_address_gives_the_same_results(name, models, oracle):
    # Wide constants (int32 biases) then sit at odd addresses: they are copied
    # into the arena, everything else is still read in place.
    model = models[name]
    padded = bytearray(len(model) + 16)
    for shift in (1, 2, 3):
        view = memoryview(padded)[shift:shift + len(model)]
        view[:] = model
        it = Interpreter(view)
        assert it.model is view
        xs, ref = oracle[name]
        got = it.evaluate(xs[:20]).reshape(20, -1)
        np.testing.assert_array_equal(got, ref[:20].reshape(20, -1))
        assert it.arena_used > Interpreter(model).arena_used


def _edited(model: bytes, edit) -> bytes:
    """The model decoded with the schema's object API, changed by `edit`, re-encoded."""
    import flatbuffers

    from runtime_cases import schema

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAs(model, 0))
    edit(m, s)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _set(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)


def _sparse(m, s):
    m.subgraphs[0].tensors[6].sparsity = s.SparsityParametersT()


def _custom_op(m, s):
    m.operatorCodes[0].builtinCode = 32
    m.operatorCodes[0].deprecatedBuiltinCode = 32
    m.operatorCodes[0].customCode = b"MyOp"


# Edits of hello_world_int8 (tensor 0 input, 6/4/2 weights, 5/3/1 biases,
# 7/8 intermediates, 9 output; op k = FULLY_CONNECTED) and the error each gets.
MODEL_EDITS = {
    "schema version": (lambda m, s: _set(m, version=2), r"^model schema version 2 not supported \(expected 3\)$"),
    "no subgraph": (lambda m, s: _set(m, subgraphs=[]), r"^model has no subgraph$"),
    "external buffer": (lambda m, s: _set(m.buffers[7], offset=4096, size=16),
                        r"^tensor 6: buffers outside the flatbuffer are not supported$"),
    "negative dimension": (lambda m, s: _set(m.subgraphs[0].tensors[7], shape=[1, -1]),
                           r"^tensor 7 has dimension -1$"),
    "7 dimensions": (lambda m, s: _set(m.subgraphs[0].tensors[7], shape=[1] * 7),
                     r"^tensor 7 has 7 dimensions \(at most 6\)$"),
    "buffer index": (lambda m, s: _set(m.subgraphs[0].tensors[6], buffer=999),
                     r"^tensor 6: buffer 999 out of range \(13 buffers\)$"),
    "constant size": (lambda m, s: _set(m.subgraphs[0].tensors[6], shape=[16, 2]),
                      r"^tensor 6: buffer holds 16 bytes, shape needs 32$"),
    "string tensor": (lambda m, s: _set(m.subgraphs[0].tensors[7], type=5), r"^tensor 7 has unsupported type 5$"),
    "sparse tensor": (_sparse, r"^tensor 6: sparse tensors are not supported$"),
    "zero scale": (lambda m, s: _set(m.subgraphs[0].tensors[7].quantization, scale=[0.0]),
                   r"^tensor 7: invalid scale$"),
    "zero point range": (lambda m, s: _set(m.subgraphs[0].tensors[7].quantization, zeroPoint=[300]),
                         r"^tensor 7: zero point out of range$"),
    "scales vs zero points": (lambda m, s: _set(m.subgraphs[0].tensors[4].quantization, scale=[0.1, 0.2]),
                              r"^tensor 4: 2 scales but 1 zero points$"),
    "per-channel dimension": (lambda m, s: _set(m.subgraphs[0].tensors[4].quantization, scale=[0.1] * 16,
                                                zeroPoint=[0] * 16, quantizedDimension=5),
                              r"^tensor 4: 16 scales do not match quantized dimension 5$"),
    "op input index": (lambda m, s: _set(m.subgraphs[0].operators[1], inputs=[7, 500, 3]),
                       r"^op 1 \(FULLY_CONNECTED\): input 1 refers to tensor 500 of 10$"),
    "op output index": (lambda m, s: _set(m.subgraphs[0].operators[2], outputs=[-1]),
                        r"^op 2 \(FULLY_CONNECTED\): output 0 refers to tensor -1 of 10$"),
    "writes a constant": (lambda m, s: _set(m.subgraphs[0].operators[0], outputs=[5]),
                          r"^op 0 \(FULLY_CONNECTED\) writes constant tensor 5$"),
    "writes its input": (lambda m, s: _set(m.subgraphs[0].operators[0], outputs=[0]),
                         r"^op 0 \(FULLY_CONNECTED\): tensor 0 used twice as output$"),
    "opcode index": (lambda m, s: _set(m.subgraphs[0].operators[0], opcodeIndex=3),
                     r"^op 0: operator code 3 missing or malformed$"),
    "constant graph input": (lambda m, s: _set(m.subgraphs[0], inputs=[6]), r"^graph input 0 is a constant tensor$"),
    "graph output index": (lambda m, s: _set(m.subgraphs[0], outputs=[10]),
                           r"^graph output 0 refers to tensor 10 of 10$"),
    "custom operator": (_custom_op, r"^unsupported custom operator 'MyOp'$"),
}


@pytest.mark.parametrize("case", list(MODEL_EDITS))
def test_invalid_model_contents_are_named(case, models):
    edit, message = MODEL_EDITS[case]
    with pytest.raises(ValueError, match=message):
        Interpreter(_edited(models["hello_world_int8"], edit))


def test_reencoded_model_still_matches_tflm(models, oracle):
    # The object-API round trip used above changes only the layout.
    it = Interpreter(_edited(models["hello_world_int8"], lambda m, s: None))
    xs, ref = oracle["hello_world_int8"]
    np.testing.assert_array_equal(it.evaluate(xs).reshape(len(xs), -1), ref.reshape(len(xs), -1))


ARENA_SWEEP = textwrap.dedent("""
    import re, sys
    from pathlib import Path
    from mpyml.runtime import Interpreter
    sys.path.insert(0, sys.argv[1])
    from runtime_cases import MODELS
    bad = []
    tried = 0
    for name, rel in MODELS.items():
        model = (Path(sys.argv[2]) / rel).read_bytes()
        used = Interpreter(model).arena_used
        step = max(16, used // 1500 // 16 * 16)
        for size in [*range(0, used, step), *range(max(0, used - 64), used)]:
            tried += 1
            try:
                Interpreter(model, size)
            except ValueError as e:
                m = re.match(r"arena too small: needs (at least )?(\\d+) bytes \\(has (\\d+)\\)$", str(e))
                if not m or int(m.group(2)) > used or (not m.group(1) and int(m.group(2)) != used):
                    bad.append((name, size, str(e)))
            else:
                bad.append((name, size, "accepted"))
    print(tried, bad[:5])
""")


def test_every_too_small_arena_fails_cleanly(testdata, root):
    # Every allocation stage (tensor structs, ops, kernel memory, planner
    # temporaries, the plan) runs out of room somewhere in this sweep.
    r = subprocess.run([sys.executable, "-c", ARENA_SWEEP, str(root / "tests" / "host"), str(testdata)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    tried, bad = r.stdout.split(" ", 1)
    assert int(tried) > 3000 and bad.strip() == "[]", r.stdout


def test_profile_runs_the_model_and_times_each_op(models):
    """profile() is invoke() with a per-operator clock: same outputs, one
    non-negative figure (ns) per operator, and the state stays usable."""
    it = Interpreter(models["kws_ref_model"])
    x = np.random.default_rng(3).integers(-128, 128, it.input(0).shape, dtype=np.int8)
    it.set_input(x)
    it.invoke()
    want = it.get_output().copy()
    # (The input's memory may be reused once it is consumed: set it anew.)
    it.get_output()[...] = 0
    it.set_input(x)
    ns = it.profile()
    assert isinstance(ns, tuple) and len(ns) == len(it.ops) == 13
    assert all(isinstance(v, int) and v >= 0 for v in ns) and sum(ns) > 0
    assert np.array_equal(it.get_output(), want)
    it.set_input(x)
    it.invoke()
    assert np.array_equal(it.get_output(), want)
