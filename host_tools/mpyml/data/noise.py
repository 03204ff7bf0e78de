"""Background noise recordings made from numbers (reproducible with a seed).

Each generator returns int16 audio at 16 kHz; the kinds cover broadband
(white, pink, brown), tonal (mains hum, a fan) and textured (running water,
clattering dishes) backgrounds, roughly the families of Speech Commands'
``_background_noise_`` recordings.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .layout import SAMPLE_RATE

# RMS of the written recordings, as a fraction of full scale (about -20 dBFS).
TARGET_RMS = 0.1


def _shaped(n: int, rng: np.random.Generator, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Gaussian noise whose amplitude spectrum is multiplied by gain(freq_hz)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    g = gain(np.maximum(f, 1.0))
    g[0] = 0.0  # no DC
    return np.fft.irfft(spec * g, n)


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    return _shaped(n, rng, lambda f: 1.0 / np.sqrt(f))


def brown(n: int, rng: np.random.Generator) -> np.ndarray:
    return _shaped(n, rng, lambda f: 1.0 / np.maximum(f, 20.0))


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz) with odd and even harmonics and a little hiss."""
    t = np.arange(n) / SAMPLE_RATE
    base = 50.0 if rng.random() < 0.5 else 60.0
    y = np.zeros(n)
    for k in range(1, 9):
        y += rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
    return y / np.std(y) + 0.05 * rng.standard_normal(n)


def fan(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brown rumble plus a blade tone whose speed wanders slowly."""
    wander = np.cumsum(rng.standard_normal(n)) / np.sqrt(SAMPLE_RATE) * 0.5
    f0 = rng.uniform(90, 180)
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.tanh(wander))) / SAMPLE_RATE
    tone = np.sin(phase) + 0.4 * np.sin(2 * phase)
    r = brown(n, rng)
    return r / np.std(r) + 0.3 * tone


def running_water(n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise (about 0.5-6 kHz) with a fast, irregular loudness."""
    lo, hi = rng.uniform(300, 800), rng.uniform(4000, 7000)
    band = _shaped(n, rng, lambda f: ((f > lo) & (f < hi)).astype(float))
    env = _shaped(n, rng, lambda f: (f < 30).astype(float))
    env = 1.0 + 0.6 * env / (np.std(env) + 1e-12)
    return band * np.clip(env, 0.1, None)


def dishes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Clicks and short ringing clatters over a quiet pink floor."""
    y = pink(n, rng)
    y = y / (np.std(y) + 1e-12) * 0.1
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    events = rng.poisson(3.0 * n / SAMPLE_RATE)
    for _ in range(events):
        start = int(rng.integers(0, max(1, n - t.size)))
        freq = rng.uniform(1500, 6000)
        ring = np.sin(2 * np.pi * freq * t) * np.exp(-t * rng.uniform(20, 60))
        ring[:40] += rng.standard_normal(40)
        seg = y[start:start + t.size]
        seg += rng.uniform(0.3, 1.5) * ring[: seg.size]
    return y


NOISE_KINDS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "white_noise": white,
    "pink_noise": pink,
    "brown_noise": brown,
    "mains_hum": hum,
    "fan": fan,
    "running_water": running_water,
    "dishes": dishes,
}


def to_pcm(y: np.ndarray, rms: float = TARGET_RMS) -> np.ndarray:
    """Scale to ``rms`` of full scale and convert to int16 (saturating)."""
    y = y - np.mean(y)
    y = y * (rms * 32767.0 / (np.std(y) + 1e-12))
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


def make_noise(kind: str, seconds: float, seed: int) -> np.ndarray:
    """One recording of ``kind`` (see NOISE_KINDS) as int16 at 16 kHz."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(NOISE_KINDS)})")
    if seconds < 1:
        raise ValueError(f"noise recordings must be at least 1 s long (got {seconds})")
    rng = np.random.default_rng([seed, list(NOISE_KINDS).index(kind)])
    return to_pcm(NOISE_KINDS[kind](int(round(seconds * SAMPLE_RATE)), rng))
