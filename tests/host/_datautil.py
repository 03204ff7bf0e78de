"""Tiny datasets in the Speech Commands layout, built from tones and noise."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 16000


def tone(freq: float, seconds: float = 1.0, amp: float = 0.3, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.rint(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def write(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1, width: int = 2) -> Path:
    """Write PCM WAV of any layout (samples already in the target width's int range)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(samples)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            raw = (data.astype(np.int32) + 128).astype(np.uint8).tobytes()
        elif width == 2:
            raw = data.astype("<i2").tobytes()
        elif width == 3:
            x = data.astype(np.int32).reshape(-1)
            b = np.stack([x & 0xFF, (x >> 8) & 0xFF, (x >> 16) & 0xFF], axis=1).astype(np.uint8)
            raw = b.tobytes()
        else:
            raw = data.astype("<i4").tobytes()
        w.writeframes(raw)
    return path


def make_dataset(root: Path, words: dict[str, int], *, val: int = 1, test: int = 1, noise: bool = True,
                 seconds: float = 1.0) -> Path:
    """``words``: word -> clips; the first ``val`` clips of each word go to
    validation, the next ``test`` to testing. Each word has its own tone."""
    vlist, tlist = [], []
    for k, (word, n) in enumerate(sorted(words.items())):
        for i in range(n):
            rel = f"{word}/spk{i % 3}_nohash_{i}.wav"
            write(root / rel, tone(200 + 150 * k + 7 * i, seconds))
            if i < val:
                vlist.append(rel)
            elif i < val + test:
                tlist.append(rel)
    (root / "validation_list.txt").write_text("".join(r + "\n" for r in vlist))
    (root / "testing_list.txt").write_text("".join(r + "\n" for r in tlist))
    if noise:
        rng = np.random.default_rng(5)
        write(root / "_background_noise_" / "white.wav", (rng.standard_normal(3 * RATE) * 3000).astype(np.int16))
        write(root / "_background_noise_" / "hum.wav", tone(50, 2.5, 0.2))
    return root
