"""The mpyml int8 runtime on the host, with numpy conveniences.

``Interpreter`` is the C runtime of the firmware (``mpyml._native.Interpreter``,
same sources, same arithmetic) plus numpy conveniences for host tools::

    from mpyml.runtime import Interpreter
    it = Interpreter(open("model.tflite", "rb").read())
    it.set_input(x)                  # int8 array of the input's shape (or any shape with its size)
    it.invoke()
    y = it.get_output()              # a copy, shaped like the output tensor
    ys = it.evaluate(xs)             # many inputs in one C loop

The model bytes are used in place (zero-copy); the interpreter keeps a
reference to them.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from . import _native

Tensor = _native.Tensor

_DTYPES = {
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "float32": np.float32, "float16": np.float16, "bool": np.bool_, "float64": np.float64,
    "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
}


def tensor_array(t: Tensor) -> np.ndarray:
    """A writable numpy view of a tensor's memory (shape and dtype of the tensor)."""
    return np.frombuffer(memoryview(t).cast("B"), dtype=_DTYPES[t.dtype]).reshape(t.shape)


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: type = np.int8) -> np.ndarray:
    """round(x / scale) + zero_point (half away from zero), saturated to dtype."""
    info = np.iinfo(dtype)
    x = np.asarray(values, dtype=np.float64) / scale
    q = np.sign(x) * np.floor(np.abs(x) + 0.5)  # np.round would round halves to even
    return np.clip(q + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """scale * (q - zero_point) as float32."""
    return (scale * (np.asarray(q, dtype=np.float64) - zero_point)).astype(np.float32)


class Interpreter(_native.Interpreter):
    """The device runtime on the host: ``Interpreter(model, arena_size=None)``."""

    def input_array(self, i: int = 0) -> np.ndarray:
        return tensor_array(self.input(i))

    def output_array(self, i: int = 0) -> np.ndarray:
        return tensor_array(self.output(i))

    def set_input(self, x: np.ndarray, i: int = 0) -> None:
        dst = self.input_array(i)
        x = np.asarray(x)
        if x.size != dst.size:
            raise ValueError(f"input {i} takes {dst.size} elements {dst.shape}, got {x.size} {x.shape}")
        dst.reshape(-1)[:] = x.reshape(-1).astype(dst.dtype, copy=False)

    def get_output(self, i: int = 0) -> np.ndarray:
        return self.output_array(i).copy()

    def evaluate(self, inputs: np.ndarray, progress: bool = False, chunk: int = 512) -> np.ndarray:
        """Run input 0 -> output 0 for every row of ``inputs`` (first axis = samples)."""
        tin, tout = self.input(0), self.output(0)
        in_dtype, out_dtype = _DTYPES[tin.dtype], _DTYPES[tout.dtype]
        n = len(inputs)
        xs = np.ascontiguousarray(np.asarray(inputs).reshape(n, -1), dtype=in_dtype)
        if xs.shape[1] * xs.itemsize != tin.nbytes:
            raise ValueError(f"each input needs {tin.nbytes // xs.itemsize} elements, got {xs.shape[1]}")
        out = np.empty((n, *tout.shape[1:]) if tout.shape and tout.shape[0] == 1 else (n, *tout.shape),
                       dtype=out_dtype)
        flat = out.reshape(n, -1)
        with tqdm(total=n, desc="mpyml runtime", unit="inf", disable=not progress, leave=False) as bar:
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                part = np.empty((e - s, flat.shape[1]), dtype=out_dtype)
                self.invoke_many(xs[s:e], part, e - s)
                flat[s:e] = part
                bar.update(e - s)
        return out
