"""The int8 runtime inside the Unix-port firmware (tinyml.Interpreter):
byte-identical to TFLM on the real models, and corrupted models raise
ValueError without crashing the firmware. Every model's inputs go in one file
and all models run in one MicroPython process."""

from __future__ import annotations

import ast
import subprocess
import textwrap

import numpy as np
import pytest

from runtime_cases import MODELS, apply_corruption, corruptions, model_inputs, tflm_outputs

CONFORMANCE = textwrap.dedent("""
    import sys
    import tinyml
    jobs = [line.split() for line in open(sys.argv[1])]
    for model_path, in_path, out_path, how in jobs:
        model = open(model_path, "rb").read()
        it = tinyml.Interpreter(model)
        assert it.model is model
        inp = it.input(0)
        out = it.output(0)
        buf = bytearray(inp.nbytes)
        view = memoryview(inp)
        n = 0
        with open(in_path, "rb") as fi, open(out_path, "wb") as fo:
            while fi.readinto(buf) == len(buf):
                if how == "slice":
                    inp[:] = buf                 # slice assignment on the tensor
                else:
                    view[:] = buf                # through the buffer protocol
                it.invoke()
                fo.write(bytes(out))
                n += 1
        print(model_path.split("/")[-1], n, it.arena_used, inp.shape, inp.dtype, out.shape,
              inp.scale, inp.zero_point, ",".join(it.ops))
""")

MALFORMED = textwrap.dedent("""
    import sys
    import gc
    import tinyml
    counts = {}
    for line in open(sys.argv[1]):
        model_path, kind, pos, bit = line.split()
        pos = int(pos)
        data = open(model_path, "rb").read()
        if kind == "trunc":
            data = data[:pos]
        else:
            data = bytearray(data)
            data[pos] ^= 1 << int(bit)
        try:
            it = tinyml.Interpreter(data)
        except ValueError as e:
            outcome = "E" if str(e) else "empty message"
        except Exception as e:
            outcome = "BAD %s: %s (%s)" % (type(e).__name__, e, line.strip())
        else:
            it.invoke()
            outcome = "ok"
            if kind == "trunc":
                outcome = "BAD truncation accepted (%s)" % line.strip()
        counts[outcome] = counts.get(outcome, 0) + 1
        data = it = None
        gc.collect()
    print(counts)
""")


def _run(firmware, script, arg, tmp_path, timeout=900):
    path = tmp_path / "script.py"
    path.write_text(script)
    return subprocess.run([str(firmware), "-X", "heapsize=16M", str(path), str(arg)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def test_firmware_outputs_identical_to_tflm(firmware, testdata, tmp_path, capsys):
    jobs, expected = [], {}
    for k, (name, rel) in enumerate(MODELS.items()):
        model = (testdata / rel).read_bytes()
        xs = model_inputs(name, model, testdata)
        assert len(xs) >= 100
        expected[name] = tflm_outputs(model, xs).reshape(len(xs), -1)
        (tmp_path / f"{name}.in").write_bytes(xs.tobytes())
        jobs.append(f"{testdata / rel} {tmp_path / name}.in {tmp_path / name}.out {'slice' if k % 2 else 'view'}\n")
    (tmp_path / "jobs.txt").write_text("".join(jobs))
    r = _run(firmware, CONFORMANCE, tmp_path / "jobs.txt", tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    with capsys.disabled():
        print("\n" + r.stdout.rstrip())
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(MODELS)
    for name, line in zip(MODELS, lines):
        ref = expected[name]
        got = np.frombuffer((tmp_path / f"{name}.out").read_bytes(), dtype=np.int8).reshape(ref.shape)
        assert int(line.split()[1]) == len(ref)
        bad = np.flatnonzero(np.any(got != ref, axis=1))
        assert bad.size == 0, f"{name}: {bad.size} of {len(ref)} outputs differ from TFLM"


def test_firmware_metadata_matches_host(firmware, testdata, tmp_path):
    from mpyml.runtime import Interpreter

    model_path = testdata / MODELS["kws_ref_model"]
    script = textwrap.dedent("""
        import sys, tinyml
        it = tinyml.Interpreter(open(sys.argv[1], "rb").read())
        i = it.input(0)
        print(repr((it.arena_used, it.ops, i.shape, i.dtype, i.zero_point, len(i), i.quantize(1.0),
                    round(i.dequantize(100), 5))))
        try:
            tinyml.Interpreter(it.model, it.arena_used - 16)
        except ValueError as e:
            print(e)
        try:
            it.input(1)
        except IndexError as e:
            print(e)
    """)
    r = _run(firmware, script, model_path, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    host = Interpreter(model_path.read_bytes())
    t = host.input(0)
    used, ops, shape, dtype, zp, n, q, dq = ast.literal_eval(lines[0])
    # The Unix port is 64-bit like the host: the same arena plan.
    assert (used, ops, shape, dtype, zp, n) == (host.arena_used, host.ops, t.shape, t.dtype, t.zero_point, 490)
    assert q == t.quantize(1.0) and dq == pytest.approx(t.dequantize(100), abs=1e-5)
    assert lines[1].startswith(f"arena too small: needs") and f"{host.arena_used} bytes" in lines[1]
    assert lines[2] == "input index 1 out of range (model has 1)"


def test_firmware_rejects_corrupted_models(firmware, testdata, tmp_path):
    lines = []
    for name, rel in MODELS.items():
        model = (testdata / rel).read_bytes()
        for kind, pos, bit in corruptions(name, model):
            lines.append(f"{testdata / rel} {kind} {pos} {bit}\n")
    (tmp_path / "cases.txt").write_text("".join(lines))
    r = _run(firmware, MALFORMED, tmp_path / "cases.txt", tmp_path)
    # A crash of the firmware would end the run with a signal.
    assert r.returncode == 0, f"exit {r.returncode}: {r.stdout[-1000:]} {r.stderr[-2000:]}"
    counts = ast.literal_eval(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in counts.items() if k not in ("E", "ok")}
    assert not bad, bad
    assert sum(counts.values()) == len(lines) and counts["E"] >= 400, counts


def test_firmware_names_an_unsupported_operator(firmware, testdata, tmp_path):
    import struct

    from runtime_cases import find_opcode_fields

    model = bytearray((testdata / MODELS["hello_world_int8"]).read_bytes())
    fields = find_opcode_fields(bytes(model))
    model[fields["deprecated_builtin_code"]] = 44
    struct.pack_into("<i", model, fields["builtin_code"], 44)
    (tmp_path / "lstm.tflite").write_bytes(bytes(model))
    script = textwrap.dedent("""
        import sys, tinyml
        try:
            tinyml.Interpreter(open(sys.argv[1], "rb").read())
        except ValueError as e:
            print(e)
    """)
    r = _run(firmware, script, tmp_path / "lstm.tflite", tmp_path)
    assert r.stdout.strip() == "unsupported operator UNIDIRECTIONAL_SEQUENCE_LSTM (code 44)", r.stdout + r.stderr
