"""Running int8 models on the host: TFLM (the oracle) and the mpyml runtime.

``TflmRunner`` uses the ``tflite-micro`` package, TFLM's own interpreter.
``MpymlRunner`` uses the mpyml runtime's host binding (``mpyml.runtime`` /
``mpyml._native``), the same C code the firmware runs; ``mpyml_runtime_available()``
says whether it is importable. Both take and return raw int8 tensors.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import Callable

import numpy as np
from tqdm import tqdm

from .errors import MpymlError
from .tflite_model import read_model


class RuntimeMismatchError(MpymlError):
    """The mpyml runtime's output differs from TFLM's for the same input."""


class RuntimeRefusedError(MpymlError):
    """The mpyml runtime could not load or run a model."""


def _progress(total: int, desc: str, enabled: bool):
    return tqdm(total=total, desc=desc, unit="inf", disable=not enabled or total < 200, leave=False)


class TflmRunner:
    """TFLM's interpreter over one model; ``run`` feeds a batch one sample at a time."""

    name = "tflm"

    def __init__(self, tflite: bytes, arena_size: int | None = None):
        from tflite_micro.python.tflite_micro import runtime

        self.tflite = bytes(tflite)
        self.graph = read_model(self.tflite)
        self._interp = runtime.Interpreter.from_bytes(self.tflite, arena_size=arena_size)
        self.input_shape = tuple(self.graph.input().shape)
        self.output_shape = tuple(self.graph.output().shape)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_input(np.asarray(x, dtype=np.int8).reshape(self.input_shape), 0)
        self._interp.invoke()
        return np.array(self._interp.get_output(0), dtype=np.int8).reshape(self.output_shape)

    def run(self, batch: np.ndarray, progress: bool = True) -> np.ndarray:
        out = np.empty((len(batch), *self.output_shape[1:]), dtype=np.int8)
        with _progress(len(batch), "TFLM int8", progress) as bar:
            for i, x in enumerate(batch):
                out[i] = self.invoke(x)[0]
                bar.update()
        return out


def _load_mpyml_runtime():
    """The mpyml runtime's host Interpreter class (``mpyml.runtime``), or None when not built yet."""
    try:
        from . import runtime as rt  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(rt, "Interpreter", None)


def mpyml_runtime_available() -> bool:
    return _load_mpyml_runtime() is not None


def _tensor_array(t) -> np.ndarray:
    """A writable int8 numpy view of a runtime tensor (buffer protocol)."""
    return np.frombuffer(memoryview(t).cast("B"), dtype=np.int8)


class MpymlRunner:
    """The mpyml runtime's host binding (same C code as the firmware)."""

    name = "mpyml"

    def __init__(self, tflite: bytes, arena_size: int | None = None):
        cls = _load_mpyml_runtime()
        if cls is None:
            raise MpymlError("the mpyml runtime's host binding (mpyml.runtime) is not available in this build")
        self.tflite = bytes(tflite)
        self.graph = read_model(self.tflite)
        try:
            self._interp = cls(self.tflite) if arena_size is None else cls(self.tflite, arena_size)
        except (ValueError, TypeError, RuntimeError) as e:
            raise RuntimeRefusedError(f"the mpyml runtime refused the model: {e}") from e
        self.input_shape = tuple(self.graph.input().shape)
        self.output_shape = tuple(self.graph.output().shape)

    @property
    def arena_used(self) -> int | None:
        v = getattr(self._interp, "arena_used", None)
        return int(v() if callable(v) else v) if v is not None else None

    def invoke(self, x: np.ndarray) -> np.ndarray:
        try:
            inp = _tensor_array(self._interp.input(0))
            inp[:] = np.asarray(x, dtype=np.int8).reshape(-1)
            self._interp.invoke()
            return _tensor_array(self._interp.output(0)).copy().reshape(self.output_shape)
        except (ValueError, RuntimeError) as e:
            raise RuntimeRefusedError(f"the mpyml runtime failed to invoke: {e}") from e

    def run(self, batch: np.ndarray, progress: bool = True) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.int8)
        n = len(batch)
        out = np.empty((n, *self.output_shape[1:]), dtype=np.int8)
        many = getattr(self._interp, "invoke_many", None)
        if many is not None:
            # One C loop over the whole set, in chunks so the progress bar moves.
            with _progress(n, "mpyml int8", progress) as bar:
                for s in range(0, n, 256):
                    e = min(n, s + 256)
                    chunk = np.empty((e - s, *self.output_shape[1:]), dtype=np.int8)
                    try:
                        many(batch[s:e].reshape(-1), chunk.reshape(-1), e - s)
                    except (ValueError, RuntimeError) as err:
                        raise RuntimeRefusedError(f"the mpyml runtime failed to invoke: {err}") from err
                    out[s:e] = chunk
                    bar.update(e - s)
            return out
        with _progress(n, "mpyml int8", progress) as bar:
            for i, x in enumerate(batch):
                out[i] = self.invoke(x)[0]
                bar.update()
        return out


def compare_exact(reference: np.ndarray, other: np.ndarray, what: str = "mpyml runtime vs TFLM") -> None:
    """Raise RuntimeMismatchError unless both int8 output sets are identical."""
    if reference.shape != other.shape:
        raise RuntimeMismatchError(f"{what}: output shapes differ {reference.shape} vs {other.shape}")
    diff = np.any(reference.reshape(len(reference), -1) != other.reshape(len(other), -1), axis=1)
    if diff.any():
        first = int(np.argmax(diff))
        raise RuntimeMismatchError(
            f"{what}: outputs differ on {int(diff.sum())} of {len(diff)} inputs (first: sample {first}: "
            f"{reference[first].ravel()[:8].tolist()} vs {other[first].ravel()[:8].tolist()})"
        )


def _capture_fd2(fn: Callable[[], None]) -> str:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def tflm_arena_bytes(tflite: bytes) -> int:
    """TFLM's arena total for a model (RecordingMicroAllocator after one invoke)."""
    runner = TflmRunner(tflite)
    runner.invoke(np.zeros(runner.input_shape, dtype=np.int8))
    text = _capture_fd2(runner._interp.print_allocations)
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    if not m:
        raise MpymlError("could not read TFLM's arena allocation total")
    return int(m.group(1))


def mpyml_arena_bytes(tflite: bytes) -> int | None:
    """The mpyml runtime's planned arena (``arena_used``), or None without the host binding."""
    if not mpyml_runtime_available():
        return None
    return MpymlRunner(tflite).arena_used
