"""Shared cases of the runtime tests: the real models, their inputs, the TFLM
oracle, and deterministic corruptions of the model bytes."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

MODELS = {
    "hello_world_int8": "tflite-micro/hello_world_int8.tflite",
    "micro_speech_quantized": "tflite-micro/micro_speech_quantized.tflite",
    "person_detect": "tflite-micro/person_detect.tflite",
    "kws_ref_model": "mlperf-tiny/kws_ref_model.tflite",
}
N_RANDOM = 100


def schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def input_spec(model: bytes) -> tuple[tuple[int, ...], np.dtype]:
    m = schema().Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    t = sg.Tensors(sg.Inputs(0))
    return tuple(int(d) for d in t.ShapeAsNumpy()), np.dtype(np.int8)


def model_inputs(name: str, model: bytes, testdata: Path) -> np.ndarray:
    """Inputs every conformance test feeds: the shipped sample (KWS), edge
    values, then N_RANDOM uniform random int8 tensors (all 256 values for the
    one-number hello_world model)."""
    shape, dtype = input_spec(model)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    parts = []
    if name == "kws_ref_model":
        parts.append(np.load(testdata / "mlperf-tiny" / "kws_input_0.npy").astype(np.int8).reshape(1, *shape))
    if int(np.prod(shape)) == 1:
        parts.append(np.arange(-128, 128, dtype=np.int8).reshape(256, *shape))
    parts.append(np.stack([np.full(shape, v, dtype=np.int8) for v in (-128, 0, 127)]))
    parts.append(rng.integers(-128, 128, (N_RANDOM, *shape), dtype=np.int8))
    return np.concatenate(parts)


def tflm_outputs(model: bytes, inputs: np.ndarray) -> np.ndarray:
    """Output 0 of TFLM (the tflite-micro package) for every input."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), dtype=np.int8))
    return np.stack(outs)


def constant_ranges(model: bytes) -> list[tuple[int, int]]:
    """(start, end) of every constant buffer's bytes in the model."""
    m = schema().Model.GetRootAs(model, 0)
    ranges = []
    for i in range(m.BuffersLength()):
        tab = m.Buffers(i)._tab
        o = tab.Offset(4)
        if o:
            start = tab.Vector(o)
            ranges.append((start, start + tab.VectorLen(o)))
    return ranges


def corruptions(name: str, model: bytes, n_trunc: int = 40, n_flip: int = 160) -> list[tuple[str, int, int]]:
    """Deterministic corruptions: ("trunc", length, 0) and ("flip", byte, bit).

    Most bit flips hit the flatbuffer structure (tables, vectors, offsets,
    shapes, quantization) rather than weights, where a flip only changes the
    numbers; a quarter land anywhere."""
    rng = np.random.default_rng(zlib.crc32(b"corrupt-" + name.encode()))
    size = len(model)
    lengths = sorted({0, 1, 4, 7, 8, 12, 16, 31, size // 2, size - 1,
                      *(int(v) for v in rng.integers(1, size, n_trunc - 10))})
    cases = [("trunc", n, 0) for n in lengths if n < size]
    const = np.zeros(size, dtype=bool)
    for s, e in constant_ranges(model):
        const[s:e] = True
    structural = np.flatnonzero(~const)
    for k in range(n_flip):
        pos = int(rng.integers(0, size)) if k % 4 == 0 else int(structural[rng.integers(0, len(structural))])
        cases.append(("flip", pos, int(rng.integers(0, 8))))
    return cases


def apply_corruption(model: bytes, case: tuple[str, int, int]) -> bytes:
    kind, pos, bit = case
    if kind == "trunc":
        return model[:pos]
    b = bytearray(model)
    b[pos] ^= 1 << bit
    return bytes(b)


def find_opcode_fields(model: bytes, index: int = 0) -> dict[str, int]:
    """Byte positions of the fields of operator code `index` that are present."""
    oc = schema().Model.GetRootAs(model, 0).OperatorCodes(index)
    tab = oc._tab
    out = {}
    for name, slot in (("deprecated_builtin_code", 4), ("version", 8), ("builtin_code", 10)):
        o = tab.Offset(slot)
        if o:
            out[name] = tab.Pos + o
    return out
