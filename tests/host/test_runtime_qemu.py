"""The int8 runtime on emulated Cortex-M cores (QEMU): Cortex-M0 (RP2040's
ISA, faults on unaligned word loads) and Cortex-M4F. Outputs must equal the
host binding's (itself byte-identical to TFLM), also for a model placed at an
odd address; person_detect, mapped from ROMFS, with two inputs."""

from __future__ import annotations

import numpy as np
import pytest

from runtime_cases import MODELS, input_spec, tflm_outputs

QEMU_MODELS = ["hello_world_int8", "micro_speech_quantized", "kws_ref_model"]

# Prints output 0 for each input of xs (concatenated), hex, comma-separated.
RUN = """
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
"""

SCRIPT = RUN + """
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


# person_detect (300 KB) does not fit the RAM of qemu-m0 next to its arena:
# the model and inputs map from ROMFS, and two inputs keep the time short
# (about 41 M instructions per invoke on Cortex-M0).
PERSON_SCRIPT = RUN + """
run(memoryview(open(MODEL, "rb")), memoryview(open(INPUTS, "rb")), "person_detect")
"""


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_qemu_person_detect_equals_tflm(board, testdata, tmp_path):
    """MobileNet's 1x1 convolutions and stride-1/2 depthwise 3x3 layers
    through the board's fast paths: outputs byte-identical to TFLM's for a
    uniform random image and a smooth one (blocks plus noise, which keeps
    the scores away from saturation)."""
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    if not firmware_path(board).is_file():
        pytest.fail(f"{board} firmware not built: run `make firmware-qemu`")
    path = testdata / MODELS["person_detect"]
    model = path.read_bytes()
    shape, _ = input_spec(model)
    rng = np.random.default_rng(11)
    uniform = rng.integers(-128, 128, shape)
    blocks = np.kron(rng.integers(-128, 128, (1, 12, 12, 1)), np.ones((1, shape[1] // 12, shape[2] // 12, 1)))
    smooth = np.clip(blocks + rng.integers(-20, 21, shape), -128, 127)
    xs = np.stack([uniform, smooth]).astype(np.int8)
    expected = [r.tobytes().hex() for r in tflm_outputs(model, xs)]
    assert expected[0] != expected[1]
    inputs = tmp_path / "person_detect.in"
    inputs.write_bytes(xs.tobytes())
    files = {str(path): model, str(inputs): xs.tobytes()}
    code = f"MODEL = {str(path)!r}\nINPUTS = {str(inputs)!r}\n" + PERSON_SCRIPT
    with QemuSession(board, files, testdata) as session:
        r = session.repl.exec(code, timeout=600)
    assert not r.error.strip(), r.error
    got = [line.split()[3].split(",") for line in r.output.splitlines() if line.startswith("RT person_detect ")]
    assert got == [expected], f"{board} person_detect: {got} != {expected}"


# TFLM's arena_used_bytes for the same models on 32-bit ARM (reference
# kernels; ../shared/notes/tflm-anchors.md): the budget our arena must meet.
TFLM_ARM_ARENA = {"micro_speech_quantized": 6_788, "kws_ref_model": 22_772, "person_detect": 82_292}

ARENA_SCRIPT = """
import gc, tinyml
for name, path in JOBS:
    f = open(path, "rb")
    it = tinyml.Interpreter(memoryview(f))
    print("ARENA", name, it.arena_used)
    it = None
    f.close()
    gc.collect()
"""


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_arena_not_larger_than_tflm_on_arm(board, testdata, capsys):
    """arena_used measured on the board (32-bit pointers, the firmware's
    kernels and fast paths) is at most TFLM's on the same core."""
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    if not firmware_path(board).is_file():
        pytest.fail(f"{board} firmware not built: run `make firmware-qemu`")
    jobs = [(name, str(testdata / MODELS[name])) for name in TFLM_ARM_ARENA]
    files = {path: open(path, "rb").read() for _, path in jobs}
    with QemuSession(board, files, testdata, icount=False) as session:
        r = session.repl.exec(f"JOBS = {jobs!r}\n" + ARENA_SCRIPT, timeout=300)
    assert not r.error.strip(), r.error
    used = {}
    for line in r.output.splitlines():
        if line.startswith("ARENA "):
            _, name, n = line.split()
            used[name] = int(n)
    assert sorted(used) == sorted(TFLM_ARM_ARENA)
    with capsys.disabled():
        for name, n in used.items():
            print(f"\n{board} {name}: arena_used {n} B, TFLM {TFLM_ARM_ARENA[name]} B")
    for name, n in used.items():
        assert 0 < n <= TFLM_ARM_ARENA[name], f"{board} {name}: {n} B > TFLM's {TFLM_ARM_ARENA[name]} B"
