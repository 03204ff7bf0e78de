"""Conversion to TensorFlow Lite: float models and full-int8 post-training quantization.

Models are converted through a concrete function with batch size 1, so every
shape in the graph is static (no SHAPE/STRIDED_SLICE ops from a dynamic
batch). Every converted graph is checked against the mpyml runtime's op set.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import MpymlError
from .tflite_model import check_supported, read_model


@dataclass
class Quantized:
    tflite: bytes
    ops: list[str]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    representative_samples: int

    @property
    def size(self) -> int:
        return len(self.tflite)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.tflite)
        return path


def batch1_model(model):
    """A copy of a functional Keras model whose input has batch size 1 (static shapes)."""
    import keras

    cfg = model.get_config()
    for layer in cfg["layers"]:
        if layer["class_name"] == "InputLayer":
            c = layer["config"]
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            c.pop("batch_input_shape", None)
            c["batch_shape"] = [1, *list(shape)[1:]]
    fixed = keras.Model.from_config(cfg)
    fixed.set_weights(model.get_weights())
    return fixed


def _converter(model):
    import tensorflow as tf

    fixed = batch1_model(model)
    return tf.lite.TFLiteConverter.from_keras_model(fixed), list(fixed.inputs[0].shape)


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _captured_output() -> Iterator[None]:
    """Silence the converter's prints and C-level logging (kept if it fails)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        except BaseException:
            sys.stdout.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            tmp.seek(0)
            tail = tmp.read().decode(errors="replace").splitlines()[-15:]
            sys.stderr.write("\n".join(tail) + "\n")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def convert_float(model) -> bytes:
    """Float32 .tflite of a Keras model (for size comparison and analysis)."""
    _quiet_tf()
    with _captured_output():
        conv, _ = _converter(model)
        data = bytes(conv.convert())
    check_supported(data, f"float model {model.name}")
    return data


def quantize_int8(model, representative: np.ndarray, *, max_samples: int = 300, seed: int = 0) -> Quantized:
    """Full-int8 PTQ: int8 weights, activations, input and output.

    ``representative`` is float model input (e.g. training features),
    shape ``[N, *input_shape]``; up to ``max_samples`` of them, drawn with
    ``seed``, calibrate the activation ranges.
    """
    import tensorflow as tf

    _quiet_tf()
    rep = np.asarray(representative, dtype=np.float32)
    want = tuple(int(d) for d in model.inputs[0].shape[1:])
    if rep.ndim == len(want) and rep.shape == want:
        rep = rep[None]
    if rep.ndim != len(want) + 1 or tuple(rep.shape[1:]) != want:
        raise MpymlError(f"representative data has shape {rep.shape}, the model wants [N, {', '.join(map(str, want))}]")
    if len(rep) == 0:
        raise MpymlError("the representative dataset is empty")
    if not np.all(np.isfinite(rep)):
        raise MpymlError("the representative dataset contains NaN or infinite values")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(rep))[:max_samples]
    samples = rep[np.sort(pick)]

    def gen() -> Iterator[list[np.ndarray]]:
        for s in samples:
            yield [s[None]]

    with _captured_output():
        conv, _ = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    try:
        with _captured_output(), warnings.catch_warnings():
            # "Statistics for quantized inputs were expected": the representative set provides them.
            warnings.simplefilter("ignore", UserWarning)
            data = bytes(conv.convert())
    except Exception as e:  # converter errors are long; keep the first lines
        msg = str(e).strip().splitlines()
        raise MpymlError(f"int8 conversion of {model.name} failed: {' '.join(msg[:3])}") from e
    ops = check_supported(data, f"int8 model {model.name}")
    g = read_model(data)
    i, o = g.input(), g.output()
    if i.dtype != "int8" or o.dtype != "int8":
        raise MpymlError(f"int8 conversion produced {i.dtype} input / {o.dtype} output, expected int8")
    return Quantized(data, ops, i.scale[0], i.zero_point[0], o.scale[0], o.zero_point[0], len(samples))


def quantize_array(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 as TFLM's QUANTIZE does it: round half away from zero, then saturate."""
    v = np.asarray(x, dtype=np.float32) / np.float32(scale)
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


def dequantize_array(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, dtype=np.float32) - zero_point) * np.float32(scale)


def load_run_model(run):
    """The trained float Keras model of a run."""
    path = run.artifact("model_float.keras")
    if not path.is_file():
        raise MpymlError(f"{path} is missing: train the run first (`mpyml train`)")
    import keras

    return keras.models.load_model(path)


def quantize_run(run, *, model=None, representative: np.ndarray | None = None, max_samples: int | None = None,
                 progress: bool = False) -> Quantized:
    """PTQ of a run's float model; writes artifacts/model_int8.tflite, model_float.tflite, quantization.json."""
    from .train import TrainConfig

    cfg = TrainConfig.from_dict({k: v for k, v in run.config().items() if k != "created"})
    if model is None:
        model = load_run_model(run)
    if representative is None:
        from .inputs import load_inputs

        representative = load_inputs(cfg, "training", progress=progress).x
    n = max_samples or cfg.representative_samples
    float_bytes = convert_float(model)
    run.artifact("model_float.tflite").write_bytes(float_bytes)
    q = quantize_int8(model, representative, max_samples=n, seed=cfg.seed)
    q.save(run.artifact("model_int8.tflite"))
    info = {
        "float_tflite_bytes": len(float_bytes),
        "int8_tflite_bytes": q.size,
        "ops": q.ops,
        "input": {"scale": q.input_scale, "zero_point": q.input_zero_point},
        "output": {"scale": q.output_scale, "zero_point": q.output_zero_point},
        "representative_samples": q.representative_samples,
    }
    run.write_json("quantization.json", info)
    run.log(f"int8 PTQ: {q.size} B (float {len(float_bytes)} B), ops {', '.join(q.ops)}, "
            f"{q.representative_samples} representative samples")
    return q
