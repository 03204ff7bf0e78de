"""Audio features exactly as the device computes them: the microfrontend.

The microfrontend (windowed FFT, mel-like filterbank, noise reduction, PCAN
gain control, log scaling, all in fixed point) turns 16-bit audio into uint16
frames of ``num_channels`` values. A model is trained on these features
multiplied by ``float_scale`` and the same numbers are computed on the device,
so a model package stores the :class:`FeatureConfig` (its ``id()`` and
``params()``) and the device refuses a package whose id differs from the
frontend it runs.

Two implementations compute the features on the host:

* ``native``: the C frontend of the device through the CPython extension
  (``mpyml.frontend``), used automatically when it is present;
* ``tf``: TensorFlow's ``audio_microfrontend`` op (the same fixed-point
  algorithm), the reference the C frontend is tested against.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np

# Feature id scheme version: the "mf1" prefix of FeatureConfig.id().
ID_PREFIX = "mf1"

# Names of FeatureConfig fields that are NOT microfrontend parameters: they
# describe how the host slices clips and maps features to model inputs, and
# are stored in the package separately ("frames", "input_mapping").
_NON_FRONTEND_FIELDS = ("clip_ms", "float_scale")


@dataclass(frozen=True)
class FeatureConfig:
    """Microfrontend parameters plus the clip length and the input mapping.

    Defaults are the micro_speech settings (30 ms windows every 20 ms, 40
    channels: 49 frames for a 1 s clip) with every other parameter at the
    microfrontend's own default.
    """

    sample_rate: int = 16000
    clip_ms: int = 1000
    window_size: int = 30  # ms
    window_step: int = 20  # ms
    num_channels: int = 40
    upper_band_limit: float = 7500.0
    lower_band_limit: float = 125.0
    smoothing_bits: int = 10
    even_smoothing: float = 0.025
    odd_smoothing: float = 0.06
    min_signal_remaining: float = 0.05
    enable_pcan: bool = True
    pcan_strength: float = 0.95
    pcan_offset: float = 80.0
    gain_bits: int = 21
    enable_log: bool = True
    scale_shift: int = 6
    # Training convention: model float input = uint16 feature * float_scale.
    float_scale: float = 10.0 / 256.0

    def __post_init__(self) -> None:
        # Normalise types so that e.g. FeatureConfig(upper_band_limit=7500)
        # and the float default give the same canonical JSON and id.
        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": float, "bool": bool}[f.type if isinstance(f.type, str) else f.type.__name__]
            if kind is bool:
                if not isinstance(value, (bool, np.bool_)):
                    raise TypeError(f"FeatureConfig.{f.name} must be a bool, got {value!r}")
                value = bool(value)
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"FeatureConfig.{f.name} must be a number, got {value!r}")
            elif kind is int:
                if float(value) != int(value):
                    raise ValueError(f"FeatureConfig.{f.name} must be an integer, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            object.__setattr__(self, f.name, value)
        self._validate()

    def _validate(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ValueError(f"invalid feature config: {msg}")

        need(self.sample_rate > 0, f"sample_rate must be > 0 (got {self.sample_rate})")
        need(self.window_size > 0, f"window_size must be > 0 ms (got {self.window_size})")
        need(self.window_step > 0, f"window_step must be > 0 ms (got {self.window_step})")
        need(self.clip_ms >= self.window_size, f"clip_ms ({self.clip_ms}) must be >= window_size ({self.window_size})")
        need(self.num_channels > 0, f"num_channels must be > 0 (got {self.num_channels})")
        need(0 <= self.lower_band_limit < self.upper_band_limit <= self.sample_rate / 2,
             f"need 0 <= lower_band_limit < upper_band_limit <= sample_rate/2 "
             f"(got {self.lower_band_limit}, {self.upper_band_limit})")
        need(0 <= self.smoothing_bits <= 16, f"smoothing_bits must be in [0, 16] (got {self.smoothing_bits})")
        for name in ("even_smoothing", "odd_smoothing", "min_signal_remaining"):
            v = getattr(self, name)
            need(0.0 <= v <= 1.0, f"{name} must be in [0, 1] (got {v})")
        need(self.pcan_strength >= 0, f"pcan_strength must be >= 0 (got {self.pcan_strength})")
        need(self.pcan_offset >= 0, f"pcan_offset must be >= 0 (got {self.pcan_offset})")
        need(0 < self.gain_bits <= 30, f"gain_bits must be in [1, 30] (got {self.gain_bits})")
        need(0 <= self.scale_shift <= 15, f"scale_shift must be in [0, 15] (got {self.scale_shift})")
        need(self.float_scale > 0, f"float_scale must be > 0 (got {self.float_scale})")

    # -- derived sizes -------------------------------------------------------
    @property
    def window_samples(self) -> int:
        return self.sample_rate * self.window_size // 1000

    @property
    def step_samples(self) -> int:
        return self.sample_rate * self.window_step // 1000

    @property
    def clip_samples(self) -> int:
        return self.sample_rate * self.clip_ms // 1000

    @property
    def n_frames(self) -> int:
        """Frames the frontend emits for one clip of ``clip_ms``."""
        return 1 + (self.clip_samples - self.window_samples) // self.step_samples

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_frames, self.num_channels)

    # -- identity ------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The microfrontend parameters (every one; nothing else)."""
        d = asdict(self)
        for name in _NON_FRONTEND_FIELDS:
            del d[name]
        return d

    def canonical_json(self) -> str:
        """The text whose sha256 names the config (see :func:`canonical_json`)."""
        return canonical_json(self.params())

    def id(self) -> str:
        """``mf1-<rate>-<win>-<step>-<ch>-<8 hex of sha256(canonical_json)>``."""
        digest = hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()[:8]
        return (f"{ID_PREFIX}-{self.sample_rate}-{self.window_size}-{self.window_step}-"
                f"{self.num_channels}-{digest}")

    def to_dict(self) -> dict[str, Any]:
        """Every field (frontend parameters, clip length, float scale) plus the id."""
        d = asdict(self)
        d["id"] = self.id()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureConfig":
        """Inverse of :meth:`to_dict`; accepts ``params()`` dicts too.

        Unknown keys are an error; an ``id`` key, if present, must match.
        """
        if not isinstance(d, dict):
            raise TypeError(f"feature config must be a dict, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known - {"id"})
        if extra:
            raise ValueError(f"unknown feature config keys: {', '.join(extra)}")
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        if "id" in d and d["id"] != cfg.id():
            raise ValueError(f"feature config id {d['id']!r} does not match its parameters (computed {cfg.id()!r})")
        return cfg


def _micro_units(obj: Any) -> Any:
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("canonical JSON cannot hold NaN or infinity")
        return round(obj * 1_000_000)  # ties to even, as the device library
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"canonical JSON keys must be strings, not {k!r}")
        return {k: _micro_units(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_micro_units(v) for v in obj]
    raise TypeError(f"canonical JSON cannot hold {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    """Canonical JSON of docs/model-package.md: every float replaced by the
    nearest integer of ``value * 1e6`` (micro-units, so 32-bit-float boards
    produce the same text), then sorted keys, no spaces, ASCII only."""
    return json.dumps(_micro_units(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# -- computing features --------------------------------------------------------

_Backend = Callable[[np.ndarray, FeatureConfig], np.ndarray]


def _tf_backend() -> _Backend:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as fe

    import tensorflow as tf

    def run(clips: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
        p = cfg.params()
        out = np.empty((clips.shape[0], cfg.n_frames, cfg.num_channels), np.uint16)
        for i in range(clips.shape[0]):
            f = fe.audio_microfrontend(tf.constant(clips[i]), out_type=tf.uint16, **p).numpy()
            if f.shape != out.shape[1:]:
                raise RuntimeError(f"audio_microfrontend returned shape {f.shape}, expected {out.shape[1:]}")
            out[i] = f
        return out

    return run


def _native_backend() -> _Backend | None:
    """The C frontend through ``mpyml.frontend`` if that binding is built."""
    try:
        from . import frontend  # type: ignore[attr-defined]
    except ImportError:
        return None
    fn = getattr(frontend, "compute_features", None)
    if fn is None:
        return None

    def run(clips: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
        out = np.asarray(fn(clips, cfg))
        if out.shape != (clips.shape[0], cfg.n_frames, cfg.num_channels):
            raise RuntimeError(f"native frontend returned shape {out.shape}")
        return out.astype(np.uint16, copy=False)

    return run


def available_backends() -> list[str]:
    names = []
    if _native_backend() is not None:
        names.append("native")
    try:
        _tf_backend()
        names.append("tf")
    except ImportError:
        pass
    return names


def _check_clips(clips: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    clips = np.asarray(clips)
    if clips.dtype != np.int16:
        raise TypeError(f"clips must be int16 audio, got dtype {clips.dtype}")
    if clips.ndim == 1:
        clips = clips[None, :]
    if clips.ndim != 2:
        raise ValueError(f"clips must have shape [N, samples], got {clips.shape}")
    if clips.shape[1] != cfg.clip_samples:
        raise ValueError(f"clips hold {clips.shape[1]} samples, the feature config wants {cfg.clip_samples} "
                         f"({cfg.clip_ms} ms at {cfg.sample_rate} Hz)")
    return np.ascontiguousarray(clips)


def compute_features(clips: np.ndarray, cfg: FeatureConfig | None = None, *, backend: str = "auto",
                     progress: bool = False) -> np.ndarray:
    """uint16 features ``[N, n_frames, num_channels]`` of int16 clips ``[N, samples]``.

    ``backend``: "auto" (native C frontend when built, else TensorFlow's op),
    "native" or "tf". Each clip is processed from a fresh frontend state, as
    the device does for one clip.
    """
    cfg = cfg or FeatureConfig()
    clips = _check_clips(clips, cfg)
    if backend not in ("auto", "native", "tf"):
        raise ValueError(f"unknown feature backend {backend!r} (use auto, native or tf)")
    run = _native_backend() if backend in ("auto", "native") else None
    if run is None:
        if backend == "native":
            raise RuntimeError("the native audio frontend (mpyml.frontend) is not available in this build")
        run = _tf_backend()
    if not progress or clips.shape[0] < 512:
        return run(clips, cfg)
    from tqdm import tqdm

    out = np.empty((clips.shape[0], cfg.n_frames, cfg.num_channels), np.uint16)
    with tqdm(total=clips.shape[0], desc="features", unit="clip") as bar:
        for s in range(0, clips.shape[0], 256):
            out[s:s + 256] = run(clips[s:s + 256], cfg)
            bar.update(min(256, clips.shape[0] - s))
    return out


def to_float(features: np.ndarray, cfg: FeatureConfig | None = None) -> np.ndarray:
    """Model float input: ``features * float_scale`` as float32."""
    scale = (cfg or FeatureConfig()).float_scale
    return np.asarray(features, dtype=np.float32) * np.float32(scale)
