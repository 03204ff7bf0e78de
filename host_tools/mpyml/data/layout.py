"""The Speech Commands folder layout: mpyml's dataset interchange format.

::

    DATASET/
      yes/<speaker>_nohash_<n>.wav     one folder per word: 16 kHz mono 16-bit, <= 1 s
      no/...
      _background_noise_/*.wav         long noise recordings (16 kHz mono 16-bit)
      validation_list.txt              "word/file.wav" per line
      testing_list.txt                 "word/file.wav" per line

Every clip not named in one of the two lists belongs to the training split.
Clips shorter than 1 s are zero-padded at the end when loaded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MpymlError
from .wavio import WavError, wav_info

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
BACKGROUND_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
SPLITS = ("training", "validation", "testing")
_SPLIT_ALIASES = {"train": "training", "val": "validation", "valid": "validation", "test": "testing"}
SPEAKER_SEPARATOR = "_nohash_"


class DatasetError(MpymlError):
    """A dataset folder does not follow the layout (the message says where)."""


def normalize_split(split: str) -> str:
    s = _SPLIT_ALIASES.get(split, split)
    if s not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use training, validation or testing")
    return s


def speaker_of(filename: str) -> str:
    """Speaker id of a clip file name (the part before ``_nohash_``)."""
    name = Path(filename).name
    return name.split(SPEAKER_SEPARATOR, 1)[0] if SPEAKER_SEPARATOR in name else Path(name).stem


@dataclass
class Layout:
    """A scanned dataset folder. Paths in ``files`` are relative ("word/x.wav")."""

    root: Path
    files: dict[str, list[str]]  # word -> sorted relative paths
    noise_files: list[Path]
    validation: set[str] = field(default_factory=set)
    testing: set[str] = field(default_factory=set)

    @property
    def words(self) -> list[str]:
        return sorted(self.files)

    def split_of(self, rel: str) -> str:
        if rel in self.testing:
            return "testing"
        if rel in self.validation:
            return "validation"
        return "training"

    def split_files(self, word: str, split: str) -> list[str]:
        split = normalize_split(split)
        return [r for r in self.files.get(word, []) if self.split_of(r) == split]

    def counts(self) -> dict[str, Counter]:
        """word -> Counter(split -> clips)."""
        return {w: Counter(self.split_of(r) for r in rels) for w, rels in self.files.items()}


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path} is missing: a dataset needs {VALIDATION_LIST} and {TESTING_LIST} "
                           f"(one 'word/file.wav' per line; empty files are allowed)")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().replace("\\", "/")
        if line and not line.startswith("#"):
            out.append(line[2:] if line.startswith("./") else line)
    return out


def scan(root: str | Path) -> Layout:
    """Read the folder structure and split lists (headers are checked by
    :func:`validate`, samples when clips are loaded)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    files: dict[str, list[str]] = {}
    empty = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name.startswith("_") or d.name.startswith("."):
            continue
        wavs = sorted(f"{d.name}/{f.name}" for f in d.iterdir() if f.suffix.lower() == ".wav" and f.is_file())
        if not wavs:
            empty.append(d.name)
        files[d.name] = wavs
    if empty:
        raise DatasetError(f"{root}: class folder(s) without .wav files: {', '.join(empty)} "
                           f"(remove them or add recordings)")
    if not files:
        raise DatasetError(f"{root}: no word folders (expected one folder of .wav clips per word)")
    bg = root / BACKGROUND_DIR
    noise = sorted(p for p in bg.iterdir() if p.suffix.lower() == ".wav") if bg.is_dir() else []
    validation = _read_list(root / VALIDATION_LIST)
    testing = _read_list(root / TESTING_LIST)
    layout = Layout(root, files, noise, set(validation), set(testing))
    known = {r for rels in files.values() for r in rels}
    for name, entries in ((VALIDATION_LIST, validation), (TESTING_LIST, testing)):
        missing = [e for e in entries if e not in known]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise DatasetError(f"{root / name} names files that do not exist: {', '.join(missing[:3])}{more}")
    both = layout.validation & layout.testing
    if both:
        raise DatasetError(f"{root}: {len(both)} file(s) are in both {VALIDATION_LIST} and {TESTING_LIST}, "
                           f"e.g. {sorted(both)[0]}")
    return layout


def check_clip_header(path: Path, *, max_samples: int = CLIP_SAMPLES) -> str | None:
    """Why a clip cannot be used as is, or None if it can."""
    try:
        info = wav_info(path)
    except WavError as e:
        return str(e)
    problems = []
    if info.sample_rate != SAMPLE_RATE:
        problems.append(f"sample rate {info.sample_rate} Hz (need {SAMPLE_RATE})")
    if info.channels != 1:
        problems.append(f"{info.channels} channels (need mono)")
    if info.sample_width != 2:
        problems.append(f"{8 * info.sample_width}-bit samples (need 16-bit)")
    if info.frames == 0:
        problems.append("no samples")
    elif info.frames > max_samples:
        problems.append(f"{info.frames} samples (longer than {max_samples})")
    return f"{path}: {', '.join(problems)}" if problems else None


def validate(root: str | Path, *, check_audio: bool = True, max_problems: int = 10) -> Layout:
    """Scan and check every clip's and noise file's WAV header.

    Raises DatasetError listing the first problems (sample rate, channels,
    sample width, length, empty class folders, broken split lists).
    """
    layout = scan(root)
    if check_audio:
        problems = []
        for rels in layout.files.values():
            for rel in rels:
                p = check_clip_header(layout.root / rel)
                if p:
                    problems.append(p)
        for noise in layout.noise_files:
            p = check_clip_header(noise, max_samples=1 << 62)
            if p:
                problems.append(p)
        if problems:
            shown = "\n  ".join(problems[:max_problems])
            more = f"\n  ... and {len(problems) - max_problems} more" if len(problems) > max_problems else ""
            raise DatasetError(f"{layout.root}: {len(problems)} file(s) do not match the layout "
                               f"(16 kHz, mono, 16-bit, at most 1 s; `mpyml data import --resample` converts "
                               f"recordings):\n  {shown}{more}")
    return layout
