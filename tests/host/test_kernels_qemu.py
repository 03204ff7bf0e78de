"""Kernel conformance on the emulated Cortex-M cores: single-op models run on
qemu-m0 (armv6m kernels), qemu-m3 (armv7m) and qemu-m4 (armv7em, DSP), each
board in ONE QEMU boot, compared with TFLM (the tflite-micro package).

The cases (``qemu_opcases.py``): one ``mpyml.opgen`` model of every case kind
(int8 and float32; three more CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED),
plus layer-shaped convolutions of the real models and awkward shapes (odd
channel counts, stride 2, VALID padding, depth multipliers 2/3/8, batch 2,
per-tensor filters), 3 random inputs each. int8 outputs must be
byte-identical; float32 kernels equal up to rounding (the boards' libm and
fused multiply-adds). A canary case with one expected byte changed must be
reported at exactly that byte, so the comparison itself is checked each run.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

import qemu_opcases as oc

BOARDS = ["qemu-m0", "qemu-m3", "qemu-m4"]
EXTRA = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 3}


@pytest.fixture(scope="module")
def cases() -> list[oc.PackedCase]:
    start = time.perf_counter()
    built = oc.build_cases(EXTRA)
    # The canary: a copy of the first int8 layer case with one expected byte off.
    base = next(c for c in built if c.name == "conv1x1_odd_13x11")
    exp = bytearray(base.expected)
    pos = len(exp) // 2 + 3
    exp[pos] ^= 0x01
    built.append(replace(base, name="canary", expected=bytes(exp)))
    print(f"\n{len(built)} single-op models and TFLM outputs in {time.perf_counter() - start:.1f} s")
    return built


def _canary_position(cases: list[oc.PackedCase]) -> tuple[int, int, int]:
    """(input set, output, byte offset) of the byte the canary changed."""
    canary = cases[-1]
    base = next(c for c in cases if c.name == "conv1x1_odd_13x11")
    pos = next(p for p in range(len(base.expected)) if base.expected[p] != canary.expected[p])
    per_set = len(base.expected) // oc.INPUT_SETS
    return pos // per_set, 0, pos % per_set


@pytest.fixture(scope="module", params=BOARDS)
def board_run(request, cases) -> tuple[str, oc.DeviceResults]:
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    board = request.param
    firmware_path(board)  # raises with the build command when missing
    start = time.perf_counter()
    with QemuSession(board, oc.device_files(cases)) as session:
        r = session.repl.exec(oc.device_code(cases), timeout=600)
    assert not r.error.strip(), r.error[-2000:]
    print(f"\n{board}: {len(cases)} models in one boot, {time.perf_counter() - start:.1f} s")
    return board, oc.parse_results(r.output)


def test_single_op_models_match_tflm(board_run, cases):
    board, res = board_run
    assert res.done == len(cases), f"{board}: the device script stopped after {len(res.status)} cases"
    failures = []
    for i, case in enumerate(cases[:-1]):
        status = res.status.get(i, "missing")
        if not status.startswith("OK"):
            failures.append(f"{case.name} {case.params}: {status}")
        elif case.is_float:
            why = oc.float_mismatch(case, res.outputs.get(i, {}))
            if why:
                failures.append(f"{case.name} {case.params}: {why}")
    assert not failures, f"{board}: {len(failures)} of {len(cases) - 1} differ from TFLM:\n" + "\n".join(failures)


def test_a_wrong_byte_is_reported_where_it_is(board_run, cases):
    board, res = board_run
    k, j, p = _canary_position(cases)
    status = res.status.get(len(cases) - 1, "missing").split()
    assert status[0] == "BAD", f"{board}: the changed byte went unnoticed: {status}"
    assert [int(v) for v in status[2:5]] == [k, j, p]
    got, want = int(status[5]), int(status[6])
    assert got ^ want == 0x01


def test_the_cases_cover_the_kernel_variants(cases):
    """The QEMU set reaches the shapes the optimized kernels special-case."""
    from mpyml import opgen
    from mpyml.tflite_model import read_model

    names = {c.name.split("#")[0] for c in cases}
    assert set(opgen.ALL_CASES) <= names
    seen: dict[str, set] = {op: set() for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}
    for c in cases[:-1]:
        if c.op not in seen or c.is_float:
            continue
        g = read_model(c.tflite)
        op = next(o for o in g.operators if o.op == c.op)
        x, w, y = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
        s = seen[c.op]
        s.add(("per_channel", c.per_channel))
        s.add(("odd_in", x.shape[-1] % 4 != 0))
        s.add(("odd_out", y.shape[-1] % 4 != 0))
        s.add(("batch>1", x.shape[0] > 1))
        s.add(("input_zp!=0", x.zero_point[0] != 0))
        opts = op.options
        if c.op != "FULLY_CONNECTED":
            s.add(("padding", opts.get("padding")))
            s.add(("stride>1", opts.get("strideH", 1) > 1))
            s.add(("kernel", tuple(w.shape[1:3])))
        if c.op == "DEPTHWISE_CONV_2D":
            s.add(("dm>1", opts.get("depthMultiplier", 1) > 1 or y.shape[-1] != x.shape[-1]))
        s.add(("act", opts.get("fusedActivationFunction")))
    for op, s in seen.items():
        for feature in ("per_channel", "odd_in", "odd_out", "batch>1"):
            assert {(feature, True), (feature, False)} <= s, f"{op}: the cases lack a {feature} variant"
        assert ("input_zp!=0", True) in s, op
        if op != "FULLY_CONNECTED":
            assert {("stride>1", True), ("stride>1", False)} <= s, op
            assert len({v for k, v in s if k == "padding"}) == 2, op
            assert ("kernel", (3, 3)) in s, op
        assert len({v for k, v in s if k == "act"}) >= 3, op
    assert ("dm>1", True) in seen["DEPTHWISE_CONV_2D"]
    assert {("kernel", (1, 1)), ("kernel", (10, 4))} <= seen["CONV_2D"]
