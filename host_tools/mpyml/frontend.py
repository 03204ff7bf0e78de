"""The device's fixed-point audio frontend on the host.

``AudioFrontend`` is the C frontend of the firmware (``native_modules/frontend``)
compiled into ``mpyml._native``: the same integer arithmetic, bit for bit, as
TensorFlow Lite Micro's microfrontend (TensorFlow's ``audio_microfrontend`` op).

* :func:`compute_features` turns many clips into features at once (training).
* :func:`microfrontend` is a drop-in for the op, including its frame stacking
  options (``left_context``, ``right_context``, ``frame_stride``,
  ``zero_padding``, ``out_scale``).
* :func:`int8_table` maps uint16 features to a model's int8 input exactly as
  the device does (``AudioFrontend.set_input_quantization``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._native import AudioFrontend

__all__ = ["AudioFrontend", "PARAMS", "DEFAULTS", "frontend_params", "make_frontend", "n_frames",
           "compute_features", "stack_frames", "microfrontend", "int8_table", "to_int8"]

# Every parameter of the frontend with the op's defaults.
DEFAULTS: dict[str, Any] = {
    "sample_rate": 16000,
    "window_size": 25,
    "window_step": 10,
    "num_channels": 32,
    "upper_band_limit": 7500.0,
    "lower_band_limit": 125.0,
    "smoothing_bits": 10,
    "even_smoothing": 0.025,
    "odd_smoothing": 0.06,
    "min_signal_remaining": 0.05,
    "enable_pcan": True,
    "pcan_strength": 0.95,
    "pcan_offset": 80.0,
    "gain_bits": 21,
    "enable_log": True,
    "scale_shift": 6,
}
PARAMS = tuple(DEFAULTS)

# Options of the op that only rearrange finished frames.
_STACKING = ("left_context", "right_context", "frame_stride", "zero_padding", "out_scale")

# micro_speech's training convention: model float input = uint16 feature * 10 / 256.
MICRO_SPEECH_FLOAT_SCALE = 10.0 / 256.0


def frontend_params(cfg: Any = None, **overrides: Any) -> dict[str, Any]:
    """Frontend parameters from a dict, an object with ``params()`` (such as
    ``mpyml.features.FeatureConfig``) or keywords; unknown names are an error."""
    params = dict(DEFAULTS)
    if cfg is not None:
        src = cfg.params() if hasattr(cfg, "params") else dict(cfg)
        params.update({k: v for k, v in src.items() if k in DEFAULTS})
        unknown = set(src) - set(DEFAULTS)
        if unknown and not hasattr(cfg, "params"):
            raise ValueError(f"unknown frontend parameter(s): {', '.join(sorted(unknown))}")
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown frontend parameter(s): {', '.join(sorted(unknown))}")
    params.update(overrides)
    return params


def make_frontend(cfg: Any = None, **overrides: Any) -> AudioFrontend:
    """An ``AudioFrontend`` for the given parameters (ValueError if unsupported)."""
    return AudioFrontend(**frontend_params(cfg, **overrides))


def n_frames(n_samples: int, window_samples: int, step_samples: int) -> int:
    """Frames produced by ``n_samples`` of audio from a fresh state."""
    if n_samples < window_samples:
        return 0
    return (n_samples - window_samples) // step_samples + 1


def _as_int16(audio: Any, what: str = "audio") -> np.ndarray:
    a = np.asarray(audio)
    if a.dtype != np.int16:
        raise ValueError(f"{what} must be int16 samples, got dtype {a.dtype}")
    return np.ascontiguousarray(a)


def compute_features(clips: Any, cfg: Any = None, **overrides: Any) -> np.ndarray:
    """uint16 features ``[N, frames, num_channels]`` of int16 clips ``[N, samples]``
    (a single 1-D clip gives ``[1, frames, num_channels]``). Each clip starts
    from a fresh frontend state, as the op does."""
    x = _as_int16(clips, "clips")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"clips must have shape [N, samples], got {x.shape}")
    fe = make_frontend(cfg, **overrides)
    frames = n_frames(x.shape[1], fe.window_samples, fe.step_samples)
    out = np.zeros((x.shape[0], frames, fe.num_channels), np.uint16)
    if frames == 0:
        return out
    for i in range(x.shape[0]):
        fe.reset()
        got = fe.process(x[i], out[i])
        if got != frames:  # pragma: no cover - an internal inconsistency
            raise RuntimeError(f"frontend produced {got} frames, expected {frames}")
    return out


def stack_frames(frames: np.ndarray, left_context: int = 0, right_context: int = 0, frame_stride: int = 1,
                 zero_padding: bool = False, out_scale: int = 1) -> np.ndarray:
    """The op's post-processing of a ``[frames, channels]`` array: keep every
    ``frame_stride``-th frame and attach ``left_context`` preceding and
    ``right_context`` following frames to it (edge frames repeated, or zeros
    with ``zero_padding``); every value is divided by ``out_scale``."""
    if left_context < 0 or right_context < 0 or frame_stride < 1 or out_scale < 1:
        raise ValueError("need left_context >= 0, right_context >= 0, frame_stride >= 1, out_scale >= 1")
    n, ch = frames.shape
    anchors = range(0, n, frame_stride)
    out = np.zeros((len(anchors), ch * (1 + left_context + right_context)), frames.dtype)
    for row, anchor in enumerate(anchors):
        for j, f in enumerate(range(anchor - left_context, anchor + right_context + 1)):
            if 0 <= f < n:
                src = frames[f]
            elif zero_padding:
                continue
            else:
                src = frames[0] if f < 0 else frames[n - 1]
            out[row, j * ch:(j + 1) * ch] = src // out_scale
    return out


def microfrontend(audio: Any, **kwargs: Any) -> np.ndarray:
    """Same result as ``audio_microfrontend(audio, **kwargs)`` with uint16 output."""
    stack = {k: kwargs.pop(k) for k in _STACKING if k in kwargs}
    feats = compute_features(_as_int16(audio).reshape(1, -1), **kwargs)[0]
    return stack_frames(feats, **stack)


def int8_table(input_scale: float, zero_point: int, float_scale: float = MICRO_SPEECH_FLOAT_SCALE) -> np.ndarray:
    """int8 model input for every uint16 feature value (65536 entries): the
    device's integer mapping ``round(feature * float_scale / input_scale) + zero_point``."""
    fe = AudioFrontend(window_size=30, window_step=20, num_channels=40)
    fe.set_input_quantization(input_scale, zero_point, float_scale)
    return np.array([fe.map_int8(v) for v in range(65536)], np.int8)


def to_int8(features: np.ndarray, input_scale: float, zero_point: int,
            float_scale: float = MICRO_SPEECH_FLOAT_SCALE) -> np.ndarray:
    """int8 model inputs of uint16 features (any shape)."""
    f = np.asarray(features)
    if f.dtype != np.uint16:
        raise ValueError(f"features must be uint16, got dtype {f.dtype}")
    return int8_table(input_scale, zero_point, float_scale)[f]
