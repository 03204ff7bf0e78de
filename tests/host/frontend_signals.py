"""Deterministic test signals for the audio frontend: tones, chirps,
speech-like noise bursts, silence, clipping, DC offsets and very quiet audio,
at varied lengths (including shorter than a window and odd remainders)."""

from __future__ import annotations

import numpy as np


def _clip16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _length(rng: np.random.RandomState, sr: int) -> int:
    choice = rng.randint(6)
    if choice == 0:
        return int(rng.randint(sr // 100, sr // 20))  # around one window
    return int(rng.randint(sr // 4, sr + sr // 10))


def make_signals(count: int = 210, sample_rate: int = 16000, seed: int = 1234) -> list[tuple[str, np.ndarray]]:
    """``count`` named int16 signals, the same every run."""
    rng = np.random.RandomState(seed)
    kinds = ["tone", "chirp", "speechlike", "silence", "clipping", "dc", "quiet", "impulses", "mixture", "square"]
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        n = _length(rng, sample_rate)
        t = np.arange(n) / sample_rate
        if kind == "tone":
            f = rng.uniform(20, sample_rate / 2 - 10)
            x = rng.uniform(10, 32767) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        elif kind == "chirp":
            f0, f1 = rng.uniform(30, sample_rate / 2, size=2)
            phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * max(t[-1], 1e-3)))
            x = rng.uniform(100, 30000) * np.sin(phase)
        elif kind == "speechlike":
            # Noise through a few moving resonances, with syllable-like bursts.
            noise = rng.randn(n)
            x = np.zeros(n)
            for _ in range(3):
                fc = rng.uniform(200, 3500)
                bw = rng.uniform(50, 400)
                r = np.exp(-np.pi * bw / sample_rate)
                a1, a2 = -2 * r * np.cos(2 * np.pi * fc / sample_rate), r * r
                y = np.zeros(n)
                for k in range(2, n):
                    y[k] = noise[k] - a1 * y[k - 1] - a2 * y[k - 2]
                x += y
            env = np.zeros(n)
            pos = 0
            while pos < n:
                length = rng.randint(sample_rate // 20, sample_rate // 4)
                gap = rng.randint(0, sample_rate // 8)
                seg = np.hanning(min(length, n - pos)) if n - pos > 1 else np.ones(n - pos)
                env[pos:pos + len(seg)] = seg * rng.uniform(0.05, 1.0)
                pos += length + gap
            x = x * env
            x = x / (np.abs(x).max() + 1e-9) * rng.uniform(500, 32000)
        elif kind == "silence":
            x = np.zeros(n)
        elif kind == "clipping":
            f = rng.uniform(50, 2000)
            x = 4 * 32767 * np.sin(2 * np.pi * f * t) + rng.randn(n) * 3000
        elif kind == "dc":
            x = rng.choice([-1, 1]) * rng.uniform(1000, 30000) + rng.randn(n) * rng.uniform(0, 300)
        elif kind == "quiet":
            x = rng.randn(n) * rng.uniform(0.3, 4)
        elif kind == "impulses":
            x = np.zeros(n)
            idx = rng.randint(0, n, size=rng.randint(1, 30))
            x[idx] = rng.choice([-32768, 32767], size=len(idx))
        elif kind == "square":
            f = rng.uniform(20, 3000)
            x = np.where(np.sin(2 * np.pi * f * t) >= 0, 32767.0, -32768.0)
        else:
            x = (rng.uniform(100, 10000) * np.sin(2 * np.pi * rng.uniform(100, 4000) * t)
                 + rng.randn(n) * rng.uniform(10, 3000) + rng.uniform(-2000, 2000))
        out.append((f"{i:03d}-{kind}", _clip16(x)))
    return out
