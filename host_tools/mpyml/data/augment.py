"""Data augmentation: time shift and background noise on audio, time and
frequency masking on features. Every function takes a numpy Generator, so a
seed fixes the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from .layout import SAMPLE_RATE


@dataclass(frozen=True)
class AugmentConfig:
    """How training clips are varied.

    Audio (applied by :func:`augment_clips`, e.g. through ``load_split``):
    a uniform time shift in ``[-time_shift_ms, +time_shift_ms]`` (zero fill),
    then, with probability ``background_frequency``, a random crop of a
    background-noise recording mixed in at a volume drawn uniformly from
    ``background_volume``. ``copies`` is how many differently augmented
    versions of every keyword/unknown clip a loaded split holds.

    Features (applied by :func:`mask_features`, on uint16 or float features):
    ``time_masks`` bands of up to ``time_mask_max`` frames and ``freq_masks``
    bands of up to ``freq_mask_max`` channels set to zero.
    """

    time_shift_ms: float = 100.0
    background_frequency: float = 0.8
    background_volume: tuple[float, float] = (0.0, 0.1)
    copies: int = 1
    time_masks: int = 0
    time_mask_max: int = 5
    freq_masks: int = 0
    freq_mask_max: int = 5

    def __post_init__(self) -> None:
        lo, hi = self.background_volume
        object.__setattr__(self, "background_volume", (float(lo), float(hi)))
        if self.time_shift_ms < 0:
            raise ValueError(f"time_shift_ms must be >= 0 (got {self.time_shift_ms})")
        if not 0.0 <= self.background_frequency <= 1.0:
            raise ValueError(f"background_frequency must be in [0, 1] (got {self.background_frequency})")
        if not 0.0 <= lo <= hi:
            raise ValueError(f"background_volume must be (low, high) with 0 <= low <= high (got {self.background_volume})")
        if self.copies < 1:
            raise ValueError(f"copies must be >= 1 (got {self.copies})")
        for name in ("time_masks", "time_mask_max", "freq_masks", "freq_mask_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)})")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["background_volume"] = list(self.background_volume)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AugmentConfig":
        d = dict(d)
        if "background_volume" in d:
            d["background_volume"] = tuple(d["background_volume"])
        return cls(**d)


def time_shift(clip: np.ndarray, shift: int) -> np.ndarray:
    """Move the clip by ``shift`` samples (positive: later), zero-filled."""
    out = np.zeros_like(clip)
    n = clip.shape[-1]
    if abs(shift) >= n:
        return out
    if shift >= 0:
        out[..., shift:] = clip[..., : n - shift]
    else:
        out[..., : n + shift] = clip[..., -shift:]
    return out


def noise_crop(noises: Sequence[np.ndarray], length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample piece of a random noise recording (int16)."""
    if not noises:
        raise ValueError("no background noise recordings to crop from")
    noise = noises[int(rng.integers(len(noises)))]
    if noise.shape[0] < length:
        reps = -(-length // noise.shape[0])
        noise = np.tile(noise, reps)
    start = int(rng.integers(0, noise.shape[0] - length + 1))
    return noise[start:start + length]


def mix(clip: np.ndarray, noise: np.ndarray, volume: float) -> np.ndarray:
    """clip + volume * noise, saturated to int16."""
    y = clip.astype(np.float32) + np.float32(volume) * noise.astype(np.float32)
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


def augment_clips(clips: np.ndarray, noises: Sequence[np.ndarray], cfg: AugmentConfig,
                  rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Time shift and background noise on int16 clips ``[N, samples]`` (a new array)."""
    clips = np.asarray(clips)
    if clips.dtype != np.int16 or clips.ndim != 2:
        raise TypeError(f"augment_clips needs int16 clips [N, samples], got {clips.dtype} {clips.shape}")
    max_shift = int(round(cfg.time_shift_ms * sample_rate / 1000))
    lo, hi = cfg.background_volume
    use_noise = bool(noises) and cfg.background_frequency > 0 and hi > 0
    out = np.empty_like(clips)
    for i in range(clips.shape[0]):
        shift = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
        y = time_shift(clips[i], shift) if shift else clips[i].copy()
        if use_noise and rng.random() < cfg.background_frequency:
            y = mix(y, noise_crop(noises, y.shape[0], rng), rng.uniform(lo, hi))
        out[i] = y
    return out


def mask_features(features: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator,
                  fill: float = 0) -> np.ndarray:
    """SpecAugment-style masks on features ``[N, frames, channels]`` (a new array).

    Each example gets ``cfg.time_masks`` bands of 0..time_mask_max frames and
    ``cfg.freq_masks`` bands of 0..freq_mask_max channels set to ``fill``.
    """
    x = np.array(features, copy=True)
    if x.ndim == 2:
        x = x[None]
        squeeze = True
    else:
        squeeze = False
    if x.ndim != 3:
        raise ValueError(f"mask_features needs features [N, frames, channels], got shape {features.shape}")
    n, frames, channels = x.shape
    for i in range(n):
        for _ in range(cfg.time_masks):
            w = int(rng.integers(0, min(cfg.time_mask_max, frames) + 1))
            s = int(rng.integers(0, frames - w + 1))
            x[i, s:s + w, :] = fill
        for _ in range(cfg.freq_masks):
            w = int(rng.integers(0, min(cfg.freq_mask_max, channels) + 1))
            s = int(rng.integers(0, channels - w + 1))
            x[i, :, s:s + w] = fill
    return x[0] if squeeze else x
