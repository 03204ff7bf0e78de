"""Tiny datasets for the training-pipeline tests (built in a temp folder, seconds to train)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def blobs_npz(path: Path, *, n_per_class: int = 60, classes: int = 3, shape: tuple[int, int] = (16, 3),
              seed: int = 0) -> Path:
    """Separable Gaussian 'sensor windows': class k has mean (k - 1) * 1.5 on every value."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("training", n_per_class), ("validation", n_per_class // 3), ("testing", n_per_class // 3)):
        xs, ys = [], []
        for k in range(classes):
            xs.append(rng.normal((k - 1) * 1.5, 1.0, size=(n, *shape)).astype(np.float32))
            ys.append(np.full(n, k))
        x = np.concatenate(xs)
        y = np.concatenate(ys)
        order = rng.permutation(len(y))
        out[f"x_{split}"] = x[order]
        out[f"y_{split}"] = y[order]
    out["labels"] = np.array(["idle", "walk", "run"][:classes] + [f"c{i}" for i in range(3, classes)])
    np.savez(path, **out)
    return path


def _tone(freq: float, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    t = np.arange(rate) / rate
    start = int(rng.integers(1000, 5000))
    length = int(rng.integers(5000, 9000))
    env = np.zeros(rate)
    env[start:start + length] = np.hanning(length)
    y = env * np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t) * rng.uniform(3000, 12000)
    y += rng.normal(0, 50, rate)
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


def tone_dataset(root: Path, *, words=("yes", "no"), other=("cat",), clips: int = 12, seed: int = 0,
                 sample_rate: int = 16000) -> Path:
    """A Speech Commands layout whose 'words' are tones (one frequency per word)."""
    from mpyml.data import write_wav

    rng = np.random.default_rng(seed)
    freqs = {w: 400.0 * (i + 1) for i, w in enumerate([*words, *other])}
    val, test = [], []
    for w in [*words, *other]:
        (root / w).mkdir(parents=True, exist_ok=True)
        for i in range(clips):
            speaker = f"spk{i % 6}"
            rel = f"{w}/{speaker}_nohash_{i}.wav"
            write_wav(root / rel, _tone(freqs[w], rng), sample_rate)
            if i % 6 == 4:
                val.append(rel)
            elif i % 6 == 5:
                test.append(rel)
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir(parents=True, exist_ok=True)
    write_wav(noise_dir / "hiss.wav", np.clip(rng.normal(0, 800, 3 * 16000), -32768, 32767).astype(np.int16))
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root
