"""Loading one split of a dataset as arrays: keywords, _unknown_, _silence_."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .augment import AugmentConfig, augment_clips, noise_crop
from .layout import (CLIP_SAMPLES, SAMPLE_RATE, SILENCE_LABEL, UNKNOWN_LABEL, DatasetError, Layout,
                     check_clip_header, normalize_split, scan)
from .wavio import WavError, read_wav


@dataclass
class Split:
    """One split as arrays.

    ``clips`` int16 ``[N, 16000]``, ``labels`` int64 ``[N]`` indexing
    ``label_names`` = ``["_silence_", "_unknown_", *words]``; ``sources`` says
    where each clip came from ("word/file.wav" or "_silence_:<noise>@<start>");
    ``noises`` holds the background recordings (for further augmentation).
    """

    clips: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    sources: list[str] = field(default_factory=list)
    noises: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {name: int(c) for name, c in zip(self.label_names, counts)}


def _split_code(split: str) -> int:
    return {"training": 1, "validation": 2, "testing": 3}[split]


def _word_key(words: Sequence[str]) -> int:
    return zlib.crc32(",".join(words).encode())


def read_clip(path: Path) -> np.ndarray:
    """A clip of the layout as int16 [16000] (zero-padded at the end)."""
    problem = check_clip_header(path)
    if problem:
        raise DatasetError(problem)
    try:
        data, _ = read_wav(path)
    except WavError as e:
        raise DatasetError(str(e)) from e
    out = np.zeros(CLIP_SAMPLES, np.int16)
    out[: data.shape[0]] = data[:, 0]
    return out


def read_noises(layout: Layout) -> list[np.ndarray]:
    """The background-noise recordings as int16 arrays (16 kHz mono 16-bit)."""
    out = []
    for p in layout.noise_files:
        problem = check_clip_header(p, max_samples=1 << 62)
        if problem:
            raise DatasetError(problem)
        data, _ = read_wav(p)
        if data.shape[0] < SAMPLE_RATE:
            raise DatasetError(f"{p}: background noise shorter than 1 s ({data.shape[0]} samples)")
        out.append(np.ascontiguousarray(data[:, 0]))
    return out


def load_split(dataset_dir: str | Path, split: str, words: Sequence[str], *, unknown_percentage: float = 10,
               silence_percentage: float = 10, seed: int = 0, augment: AugmentConfig | None = None,
               silence_volume: tuple[float, float] = (0.0, 1.0), progress: bool = False) -> Split:
    """Clips and labels of one split (``training``, ``validation``, ``testing``).

    Classes: ``_silence_`` (0), ``_unknown_`` (1), then ``words`` in the given
    order. ``_unknown_`` clips are drawn (without replacement) from the split's
    clips of all other words: ``unknown_percentage`` percent of the number of
    keyword clips. ``_silence_`` clips are random 1 s crops of the background
    noise recordings at a volume drawn from ``silence_volume``:
    ``silence_percentage`` percent of the keyword clips. The same arguments
    always give the same arrays; the result is shuffled.

    ``augment`` (typically for training only) time-shifts the keyword and
    unknown clips and mixes in background noise; with ``copies`` > 1 every
    such clip appears that many times with different augmentation.
    """
    split = normalize_split(split)
    words = list(words)
    if not words:
        raise ValueError("load_split needs at least one keyword")
    if len(set(words)) != len(words):
        raise ValueError(f"keywords repeat: {words}")
    for w in words:
        if w.startswith("_"):
            raise ValueError(f"{w!r} cannot be a keyword (names starting with '_' are reserved)")
    if unknown_percentage < 0 or silence_percentage < 0:
        raise ValueError("unknown_percentage and silence_percentage must be >= 0")
    layout = scan(dataset_dir)
    missing = [w for w in words if w not in layout.files]
    if missing:
        raise DatasetError(f"{layout.root}: no folder for keyword(s) {', '.join(missing)} "
                           f"(words present: {', '.join(layout.words)})")
    rng = np.random.default_rng([seed, _split_code(split), _word_key(words)])

    items: list[tuple[str, int]] = []  # (relative path, label)
    for i, w in enumerate(words):
        rels = layout.split_files(w, split)
        if not rels:
            raise DatasetError(f"{layout.root}: keyword {w!r} has no clips in the {split} split")
        items += [(r, i + 2) for r in rels]
    n_keywords = len(items)

    n_unknown = int(round(n_keywords * unknown_percentage / 100))
    pool = [r for w in layout.words if w not in words for r in layout.split_files(w, split)]
    if n_unknown and not pool:
        raise DatasetError(f"{layout.root}: _unknown_ needs clips of words other than the keywords in the "
                           f"{split} split; there are none (set unknown_percentage=0 or add other words)")
    n_unknown = min(n_unknown, len(pool))
    if n_unknown:
        chosen = rng.choice(len(pool), size=n_unknown, replace=False)
        items += [(pool[int(j)], 1) for j in sorted(chosen)]

    noises = read_noises(layout)
    n_silence = int(round(n_keywords * silence_percentage / 100))
    if n_silence and not noises:
        raise DatasetError(f"{layout.root}: _silence_ needs background noise recordings in _background_noise_/ "
                           f"(or set silence_percentage=0)")

    clips = np.empty((len(items) + n_silence, CLIP_SAMPLES), np.int16)
    labels = np.empty(len(items) + n_silence, np.int64)
    sources: list[str] = []
    iterator = enumerate(items)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(items), desc=f"load {split}", unit="clip")
    for k, (rel, label) in iterator:
        clips[k] = read_clip(layout.root / rel)
        labels[k] = label
        sources.append(rel)

    lo, hi = silence_volume
    for k in range(len(items), len(items) + n_silence):
        idx = int(rng.integers(len(noises)))
        noise = noises[idx]
        start = int(rng.integers(0, noise.shape[0] - CLIP_SAMPLES + 1))
        vol = float(rng.uniform(lo, hi))
        y = noise[start:start + CLIP_SAMPLES].astype(np.float32) * np.float32(vol)
        clips[k] = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
        labels[k] = 0
        sources.append(f"{SILENCE_LABEL}:{layout.noise_files[idx].name}@{start}x{vol:.3f}")

    if augment is not None:
        aug_rng = np.random.default_rng([seed, _split_code(split), _word_key(words), 1])
        speech = np.flatnonzero(labels != 0)
        parts_c, parts_l, parts_s = [clips], [labels], [sources]
        for copy in range(augment.copies):
            aug = augment_clips(clips[speech], noises, augment, aug_rng)
            if copy == 0:
                clips[speech] = aug
            else:
                parts_c.append(aug)
                parts_l.append(labels[speech])
                parts_s.append([f"{sources[int(j)]}#aug{copy}" for j in speech])
        clips = np.concatenate(parts_c)
        labels = np.concatenate(parts_l)
        sources = [s for part in parts_s for s in part]

    order = rng.permutation(labels.shape[0])
    return Split(clips=clips[order], labels=labels[order], label_names=[SILENCE_LABEL, UNKNOWN_LABEL, *words],
                 sources=[sources[int(i)] for i in order], noises=noises)


# Re-exported for callers that crop noise themselves.
__all__ = ["Split", "load_split", "read_clip", "read_noises", "noise_crop"]
