"""User recordings into the dataset layout, checked file by file.

Every file is either imported (with notes on what was changed: padding,
trimming, and with ``resample=True`` rate/channel/sample-width conversion) or
skipped with the reason. Nothing is used silently: a recording at the wrong
rate, in stereo, clipped or silent is reported, never quietly fixed unless
conversion was asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

from .layout import (CLIP_SAMPLES, SAMPLE_RATE, SPEAKER_SEPARATOR, TESTING_LIST, VALIDATION_LIST, DatasetError,
                     normalize_split)
from .wavio import WavError, read_wav, to_int16, write_wav

MIN_SECONDS = 0.1
CLIP_FRACTION = 0.001  # more than 0.1% of samples at full scale: clipped
SILENCE_DBFS = -50.0  # loudest 50 ms quieter than this: silent


@dataclass
class ImportEntry:
    source: Path
    status: str  # "imported" or "skipped"
    reason: str = ""  # why skipped
    notes: list[str] = field(default_factory=list)  # what was changed
    dest: str = ""  # "word/file.wav"


@dataclass
class ImportReport:
    word: str
    split: str
    entries: list[ImportEntry]

    @property
    def imported(self) -> list[ImportEntry]:
        return [e for e in self.entries if e.status == "imported"]

    @property
    def skipped(self) -> list[ImportEntry]:
        return [e for e in self.entries if e.status == "skipped"]

    def lines(self) -> list[str]:
        out = []
        for e in self.entries:
            if e.status == "imported":
                extra = f" ({'; '.join(e.notes)})" if e.notes else ""
                out.append(f"imported  {e.source} -> {e.dest}{extra}")
            else:
                out.append(f"SKIPPED   {e.source}: {e.reason}")
        out.append(f"{len(self.imported)} imported into '{self.word}' ({self.split}), {len(self.skipped)} skipped")
        return out


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    try:
        from scipy.signal import resample_poly
    except ImportError as e:  # pragma: no cover - scipy is a training dependency
        raise DatasetError("resampling needs scipy (pip install scipy)") from e
    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(x.astype(np.float64), SAMPLE_RATE // g, rate // g)


def _loudest_window(x: np.ndarray, length: int) -> int:
    """Start of the ``length``-sample window with the most energy."""
    e = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    sums = e[length:] - e[:-length]
    return int(np.argmax(sums))


def check_recording(path: Path, *, resample: bool = False, clip_fraction: float = CLIP_FRACTION,
                    silence_dbfs: float = SILENCE_DBFS) -> tuple[np.ndarray | None, str, list[str]]:
    """(int16 [16000] clip or None, reason if rejected, notes on changes)."""
    notes: list[str] = []
    try:
        data, info = read_wav(path)
    except WavError as e:
        return None, f"not a readable PCM WAV file ({str(e).split(': ', 1)[-1]}); convert it with sox or ffmpeg", notes
    problems = []
    if info.sample_rate != SAMPLE_RATE:
        problems.append(f"sample rate {info.sample_rate} Hz")
    if info.channels != 1:
        problems.append(f"{info.channels} channels")
    if info.sample_width != 2:
        problems.append(f"{8 * info.sample_width}-bit samples")
    if problems and not resample:
        return None, f"{', '.join(problems)} (need 16 kHz mono 16-bit; pass --resample to convert)", notes
    if data.shape[0] == 0:
        return None, "no samples", notes

    # Clipping is judged on the original samples, before any conversion.
    full = (1 << (8 * info.sample_width - 1)) - 1
    at_limit = int(np.count_nonzero((data >= full) | (data <= -full - 1)))
    if at_limit > clip_fraction * data.size:
        return None, f"clipped: {at_limit} samples at full scale (record at a lower level)", notes

    x = data.astype(np.float64)
    if info.channels != 1:
        x = x.mean(axis=1, keepdims=True)
        notes.append(f"mixed {info.channels} channels to mono")
    x = x[:, 0]
    if info.sample_width != 2:
        x = to_int16(np.rint(x).astype(np.int64), info.sample_width).astype(np.float64)
        notes.append(f"converted {8 * info.sample_width}-bit to 16-bit")
    if info.sample_rate != SAMPLE_RATE:
        x = _resample(x, info.sample_rate)
        notes.append(f"resampled {info.sample_rate} Hz to {SAMPLE_RATE} Hz")
    pcm = np.clip(np.rint(x), -32768, 32767).astype(np.int16)

    ms = 1000 * pcm.size / SAMPLE_RATE
    if pcm.size < MIN_SECONDS * SAMPLE_RATE:
        return None, f"too short ({ms:.0f} ms; need at least {1000 * MIN_SECONDS:.0f} ms)", notes
    win = SAMPLE_RATE // 20
    if pcm.size >= win:
        start = _loudest_window(pcm, win)
        loudest = np.sqrt(np.mean(pcm[start:start + win].astype(np.float64) ** 2))
    else:
        loudest = np.sqrt(np.mean(pcm.astype(np.float64) ** 2))
    level = 20 * np.log10(max(loudest, 1e-9) / 32768)
    if level < silence_dbfs:
        return None, f"silent (loudest 50 ms at {level:.1f} dBFS, threshold {silence_dbfs:.0f} dBFS)", notes

    if pcm.size > CLIP_SAMPLES:
        start = _loudest_window(pcm, CLIP_SAMPLES)
        notes.append(f"trimmed {ms:.0f} ms to 1000 ms (kept {1000 * start / SAMPLE_RATE:.0f}-"
                     f"{1000 * start / SAMPLE_RATE + 1000:.0f} ms)")
        pcm = pcm[start:start + CLIP_SAMPLES]
    elif pcm.size < CLIP_SAMPLES:
        pad = CLIP_SAMPLES - pcm.size
        notes.append(f"padded {ms:.0f} ms to 1000 ms with silence")
        pcm = np.concatenate([np.zeros(pad // 2, np.int16), pcm, np.zeros(pad - pad // 2, np.int16)])
    return pcm, "", notes


def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9.+-]+", "-", name).strip("-")
    return s or "speaker"


def import_recordings(src: str | Path, out: str | Path, word: str, *, speaker: str | None = None,
                      split: str = "training", resample: bool = False, clip_fraction: float = CLIP_FRACTION,
                      silence_dbfs: float = SILENCE_DBFS) -> ImportReport:
    """Check every WAV under ``src`` (a file or folder) and add the good ones
    to ``out/<word>/`` as ``<speaker>_nohash_<n>.wav``.

    ``split`` "validation"/"testing" appends them to that list file (all of
    one speaker's clips should go to one split). ``out`` is created as a
    dataset folder (with empty split lists) if needed.
    """
    split = normalize_split(split)
    if not word or word.startswith("_") or "/" in word or "\\" in word or word.startswith("."):
        raise DatasetError(f"{word!r} is not usable as a word (no '/', not starting with '_' or '.')")
    src = Path(src)
    if not src.exists():
        raise DatasetError(f"{src} does not exist")
    files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    files = [p for p in files if not p.name.startswith(".")]
    if not files:
        raise DatasetError(f"{src}: no files to import")
    speaker = _sanitize(speaker or (src.name if src.is_dir() else src.stem))
    out = Path(out)
    word_dir = out / word
    word_dir.mkdir(parents=True, exist_ok=True)
    for name in (VALIDATION_LIST, TESTING_LIST):
        (out / name).touch(exist_ok=True)

    existing = {p.name for p in word_dir.glob("*.wav")}
    n = 0
    entries = []
    added = []
    for f in files:
        if f.suffix.lower() != ".wav":
            entries.append(ImportEntry(f, "skipped", f"not a .wav file ({f.suffix or 'no extension'}); "
                                                     f"convert it with sox or ffmpeg"))
            continue
        pcm, reason, notes = check_recording(f, resample=resample, clip_fraction=clip_fraction,
                                             silence_dbfs=silence_dbfs)
        if pcm is None:
            entries.append(ImportEntry(f, "skipped", reason, notes))
            continue
        while f"{speaker}{SPEAKER_SEPARATOR}{n:05d}.wav" in existing:
            n += 1
        name = f"{speaker}{SPEAKER_SEPARATOR}{n:05d}.wav"
        existing.add(name)
        write_wav(word_dir / name, pcm)
        rel = f"{word}/{name}"
        added.append(rel)
        entries.append(ImportEntry(f, "imported", "", notes, rel))
    if split != "training" and added:
        list_file = out / (VALIDATION_LIST if split == "validation" else TESTING_LIST)
        with open(list_file, "a", encoding="utf-8") as fh:
            fh.write("".join(r + "\n" for r in added))
    if not any(word_dir.iterdir()):
        word_dir.rmdir()  # an empty class folder would make the dataset invalid
    return ImportReport(word, split, entries)
