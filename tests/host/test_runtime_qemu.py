"""The int8 runtime on emulated Cortex-M cores (QEMU): Cortex-M0 (RP2040's
ISA, faults on unaligned word loads) and Cortex-M4F. Outputs must equal the
host binding's (itself byte-identical to TFLM), also for a model placed at an
odd address."""

from __future__ import annotations

import numpy as np
import pytest

from runtime_cases import MODELS, tflm_outputs

QEMU_MODELS = ["hello_world_int8", "micro_speech_quantized", "kws_ref_model"]

SCRIPT = """
import tinyml
def run(m, xs, tag):
    it = tinyml.Interpreter(m)
    inp = it.input(0)
    n = len(inp)
    outs = []
    for k in range(len(xs) // n):
        inp[:] = xs[k * n:(k + 1) * n]
        it.invoke()
        outs.append(bytes(it.output(0)).hex())
    print("RT", tag, it.arena_used, ",".join(outs))
for name, path, xs in JOBS:
    f = open(path, "rb")
    m = f.read()
    f.close()
    run(m, xs, name)
    odd = bytearray(len(m) + 1)
    odd[1:] = m
    m = None
    run(memoryview(odd)[1:], xs, name + "-odd")
    odd = None
"""


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_qemu_outputs_equal_tflm(board, testdata):
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    if not firmware_path(board).is_file():
        pytest.fail(f"{board} firmware not built: run `make firmware-qemu`")
    jobs, expected, files = [], {}, {}
    rng = np.random.default_rng(3)
    for name in QEMU_MODELS:
        path = testdata / MODELS[name]
        model = path.read_bytes()
        files[str(path)] = model
        from mpyml.runtime import Interpreter

        shape = Interpreter(model).input(0).shape
        xs = rng.integers(-128, 128, (4, *shape), dtype=np.int8)
        expected[name] = [r.tobytes().hex() for r in tflm_outputs(model, xs)]
        jobs.append((name, str(path), xs.tobytes()))
    code = f"JOBS = {jobs!r}\n" + SCRIPT
    with QemuSession(board, files, testdata) as session:
        r = session.repl.exec(code, timeout=600)
    assert not r.error.strip(), r.error
    results = {}
    for line in r.output.splitlines():
        if line.startswith("RT "):
            _, tag, used, outs = line.split()
            results[tag] = (int(used), outs.split(","))
    for name in QEMU_MODELS:
        used, outs = results[name]
        assert outs == expected[name], f"{board} {name}"
        odd_used, odd_outs = results[name + "-odd"]
        assert odd_outs == expected[name], f"{board} {name} at an odd address"
        assert 0 < used <= odd_used
