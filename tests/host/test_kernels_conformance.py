"""Kernel conformance: random single-op models, byte-identical to TFLM.

Every case of ``mpyml.opgen`` (random shapes, strides, padding, dilations,
fused activations, per-channel/per-tensor weights, broadcasting, int8 and
float32) is converted by TensorFlow's converter in this process, then run on
several random inputs through TFLM (the ``tflite-micro`` package) and through
the mpyml runtime's host binding; every output must match byte for byte.
Two builds of the binding run every case: the installed one (with this
machine's architecture fast path, tml_fast_host.c) and a second one compiled
with the fast paths left out (``-DTML_FAST_NONE``: the portable kernels of
every core without its own fast path; see _portable_native.py).

Size of the sweep: ``MPYML_CONFORMANCE_N`` models in total (default 224, i.e.
8 per case kind), seed ``MPYML_CONFORMANCE_SEED``. ``make conformance-full
N=2000`` runs a larger one.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mpyml import opgen

TOTAL = int(os.environ.get("MPYML_CONFORMANCE_N", str(8 * len(opgen.ALL_CASES))))
PER_KIND = max(1, -(-TOTAL // len(opgen.ALL_CASES)))
SEED = int(os.environ.get("MPYML_CONFORMANCE_SEED", "0"))
INPUTS_PER_MODEL = 4

CASE_IDS = [(kind, i) for kind in opgen.ALL_CASES for i in range(PER_KIND)]


@pytest.fixture(scope="module")
def cases() -> dict[tuple[str, int], opgen.OpCase]:
    start = time.perf_counter()
    generated = opgen.generate(opgen.ALL_CASES, PER_KIND, SEED)
    elapsed = time.perf_counter() - start
    print(f"\nopgen: converted {len(generated)} models in {elapsed:.1f} s")
    return {(c.kind, i % PER_KIND): c for i, c in enumerate(generated)}


def _tflm(tflite: bytes):
    from tflite_micro.python.tflite_micro import runtime

    # An explicit arena: the default (10x the model size) is too small for
    # tiny float models with large activations.
    return runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)


def _mpyml(tflite: bytes):
    from mpyml import _native

    return _native.Interpreter(tflite)


def _run_both(case: opgen.OpCase, n_inputs: int, seed: int,
              portable=None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(variant, TFLM output, our output) for every input set and output;
    variant "fast" is the installed binding, "portable" the one given."""
    ref = _tflm(case.tflite)
    variants = [("fast", _mpyml(case.tflite))]
    if portable is not None:
        variants.append(("portable", portable.Interpreter(case.tflite)))
    ours = variants[0][1]
    n_in = ours.num_inputs
    details = [ref.get_input_details(i) for i in range(n_in)]
    triples = []
    for xs in opgen.random_inputs(case, details, n_inputs, seed):
        for i, x in enumerate(xs):
            ref.set_input(x, i)
        ref.invoke()
        expected = [np.asarray(ref.get_output(j)) for j in range(ours.num_outputs)]
        for name, interp in variants:
            for i, x in enumerate(xs):
                memoryview(interp.input(i)).cast("B")[:] = np.ascontiguousarray(x).tobytes()
            interp.invoke()
            for j, e in enumerate(expected):
                got = np.frombuffer(bytes(memoryview(interp.output(j)).cast("B")), dtype=e.dtype)
                triples.append((name, e, got.reshape(e.shape)))
    return triples


def assert_all_match(label: str, triples: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    for variant, expected, got in triples:
        if expected.tobytes() != got.tobytes():
            diff = np.argwhere(expected.view(np.uint8) != got.view(np.uint8)) if expected.dtype == np.int8 else []
            pytest.fail(f"{label} ({variant} kernels): output differs from TFLM at {len(diff)} positions, "
                        f"e.g. expected {expected.ravel()[:8]} got {got.ravel()[:8]}")


@pytest.mark.parametrize("kind,index", CASE_IDS, ids=[f"{k}-{i}" for k, i in CASE_IDS])
def test_op_matches_tflm(cases, portable_native, kind, index):
    case = cases[(kind, index)]
    assert not case.error, f"generating {case.name} failed: {case.error}"
    triples = _run_both(case, INPUTS_PER_MODEL, seed=case.seed, portable=portable_native)
    assert {v for v, _, _ in triples} == {"fast", "portable"}
    assert_all_match(f"{case.name} {case.params}", triples)


def test_portable_build_has_no_fast_path(root, portable_native):
    """The second build really leaves the fast-path layer out, and the
    installed one on this host has it."""
    import ctypes
    import platform

    from mpyml import _native

    assert not hasattr(ctypes.CDLL(portable_native.__file__), "tml_fast_conv2d")
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        assert hasattr(ctypes.CDLL(_native.__file__), "tml_fast_conv2d")


def test_generated_models_hold_only_the_op_under_test(cases):
    kinds_seen = set()
    failed = [f"{c.name}: {c.error}" for c in cases.values() if c.error]
    assert not failed, "generation failed:\n" + "\n".join(failed)
    for case in cases.values():
        opgen.check_ops(case)
        ops = set(opgen.model_ops(case.tflite))
        assert case.required_op in ops
        assert ops <= case.allowed_ops | {case.required_op}
        if not case.kind.endswith("/f32") and case.kind not in ("QUANTIZE", "DEQUANTIZE"):
            # Full int8 models take and give int8 tensors.
            ref = _tflm(case.tflite)
            assert np.dtype(ref.get_input_details(0)["dtype"]) == np.int8, case.name
        kinds_seen.add(case.kind)
    assert kinds_seen == set(opgen.ALL_CASES)


def test_op_check_rejects_foreign_ops(cases):
    add_case = cases[("ADD", 0)]
    wrong = opgen.OpCase("CONV_2D", add_case.seed, add_case.params, add_case.tflite,
                         frozenset({"CONV_2D"}), "CONV_2D")
    with pytest.raises(opgen.OpGenError, match="ADD"):
        opgen.check_ops(wrong)


def test_cases_are_reproducible():
    a = opgen.build_case("CONV_2D", 1234)
    b = opgen.build_case("CONV_2D", 1234)
    assert a.params == b.params
    assert a.tflite == b.tflite


def test_sweep_covers_the_variants(cases):
    """The random parameters reach the variants the kernels must handle."""
    convs = [c.params for c in cases.values() if c.kind == "CONV_2D"] + \
        [c.params for c in cases.values() if c.kind == "DEPTHWISE_CONV_2D"]
    assert {p["padding"] for p in convs} == {"SAME", "VALID"}
    acts = {c.params.get("activation") for c in cases.values()}
    assert {"NONE", "RELU", "RELU6"} <= acts
    if PER_KIND >= 8:
        assert any(p["dilation"] not in (1, (1, 1)) for p in convs)
        dms = {c.params["depth_multiplier"] for c in cases.values() if c.kind == "DEPTHWISE_CONV_2D"}
        assert len(dms) > 1
        fcs = [c for c in cases.values() if c.kind == "FULLY_CONNECTED"]
        assert {c.params["per_channel"] for c in fcs} == {True, False}
        quant = [c.params.get("inner") for c in cases.values() if c.kind == "QUANTIZE"]
        assert "requantize" in quant and len(set(quant)) > 1


def test_weights_are_quantized_per_channel_and_per_tensor(cases):
    """Convolutions get per-channel filter scales; dense layers both kinds."""
    from mpyml.tflite_model import read_model

    seen = set()
    for case in cases.values():
        if case.kind not in ("CONV_2D", "FULLY_CONNECTED") or case.error:
            continue
        g = read_model(case.tflite)
        op = g.operators[0]
        w = g.tensors[op.inputs[1]]
        units = w.shape[0]
        seen.add((case.kind, len(w.scale) > 1 or units == 1))
        if case.kind == "FULLY_CONNECTED" and len(g.tensors[op.inputs[0]].shape) == 3:
            assert op.options.get("keepNumDims") is True
    assert ("CONV_2D", True) in seen
    assert {("FULLY_CONNECTED", True), ("FULLY_CONNECTED", False)} <= seen


@pytest.mark.parametrize("kind", ["SOFTMAX", "ADD", "LOGISTIC", "MAX_POOL_2D"])
def test_int16_activations_are_refused_with_the_op_name(kind):
    tflite = opgen.build_int16_model(kind, 99)
    assert kind in opgen.model_ops(tflite)
    with pytest.raises(ValueError, match=kind):
        _mpyml(tflite)
