"""A keyword dataset from speech synthesis (espeak-ng + sox), no download.

Every clip is one word spoken by one *speaker* = an espeak-ng English voice
(accent) + a voice variant (timbre), at a random speed, pitch and amplitude,
with a random intonation (punctuation), microphone colouring (sox high/low
pass, bass/treble), sometimes room reverb and added noise, at a random level
and position inside the 1 s clip. Validation and test clips come from
*held-out* voices that never speak in the training split (``holdout``):

* ``variant`` (default): whole timbres are held out (with any accent);
* ``voice``: whole accents are held out (with any timbre);
* ``speaker``: accent+timbre pairs are held out (the mildest).

A clip's parameters depend only on (seed, word, index), so the result is
byte-identical for the same arguments whatever the parallelism; sox runs with
``-D`` (no random dither). The output follows the Speech Commands layout.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .layout import (BACKGROUND_DIR, CLIP_SAMPLES, SAMPLE_RATE, SPEAKER_SEPARATOR, TESTING_LIST, VALIDATION_LIST,
                     DatasetError)
from .noise import NOISE_KINDS, make_noise
from .wavio import write_wav

# The 35 words of Speech Commands v0.02; the first ten are its keywords.
SPEECH_COMMANDS_WORDS = [
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    "backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward", "four", "happy", "house",
    "learn", "marvin", "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "visual", "wow", "zero",
]
DEFAULT_KEYWORDS = SPEECH_COMMANDS_WORDS[:10]

# espeak-ng's English voices that synthesise well (MBROLA voices need extra data).
DEFAULT_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc"]
PLAIN_VARIANT = "plain"  # the voice without a variant
HOLDOUT_KINDS = ("variant", "voice", "speaker")
_PUNCTUATION = ["", ".", "!", "?", ","]

Log = Callable[[str], None]


@dataclass
class SynthConfig:
    """What to synthesise. ``other_clips`` is the total number of clips of
    ``other_words`` (the pool ``_unknown_`` is drawn from); by default 20% of
    the keyword clips, spread evenly."""

    words: list[str] = field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    clips_per_word: int = 100
    other_words: list[str] | None = None
    other_clips: int | None = None
    seed: int = 0
    voices: list[str] = field(default_factory=lambda: list(DEFAULT_VOICES))
    variants: list[str] | None = None  # None: every installed variant plus the plain voice
    holdout: str = "variant"
    validation_fraction: float = 0.1
    testing_fraction: float = 0.1
    speed_wpm: tuple[int, int] = (110, 240)
    pitch: tuple[int, int] = (15, 85)
    amplitude: tuple[int, int] = (60, 160)
    peak_dbfs: tuple[float, float] = (-30.0, -1.0)
    noisy_fraction: float = 0.5
    snr_db: tuple[float, float] = (5.0, 35.0)
    reverb_fraction: float = 0.25
    noise_kinds: list[str] = field(default_factory=lambda: list(NOISE_KINDS))
    noise_seconds: float = 60.0
    jobs: int = 2

    def resolved_other_words(self) -> list[str]:
        if self.other_words is not None:
            return list(self.other_words)
        return [w for w in SPEECH_COMMANDS_WORDS if w not in self.words]

    def resolved_other_clips(self) -> int:
        others = self.resolved_other_words()
        if not others:
            return 0
        if self.other_clips is not None:
            return self.other_clips
        return max(len(others), int(round(0.2 * self.clips_per_word * len(self.words))))

    def check(self) -> None:
        if not self.words:
            raise ValueError("synth needs at least one word")
        all_words = self.words + self.resolved_other_words()
        if len(set(all_words)) != len(all_words):
            raise ValueError("words and other words must be distinct and not repeat")
        for w in all_words:
            if not w or w.startswith("_") or w.startswith(".") or "/" in w or "\\" in w or not w.isprintable():
                raise ValueError(f"{w!r} is not usable as a word folder name")
        if self.clips_per_word < 1:
            raise ValueError(f"clips_per_word must be >= 1 (got {self.clips_per_word})")
        if self.other_clips is not None and self.other_clips < 0:
            raise ValueError(f"other_clips must be >= 0 (got {self.other_clips})")
        if self.holdout not in HOLDOUT_KINDS:
            raise ValueError(f"holdout must be one of {', '.join(HOLDOUT_KINDS)} (got {self.holdout!r})")
        if not (0 <= self.validation_fraction < 1 and 0 <= self.testing_fraction < 1
                and self.validation_fraction + self.testing_fraction < 1):
            raise ValueError("validation_fraction and testing_fraction must be >= 0 and sum to < 1")
        for name in ("speed_wpm", "pitch", "amplitude", "peak_dbfs", "snr_db"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name}: low {lo} > high {hi}")
        if not self.voices:
            raise ValueError("synth needs at least one voice")
        unknown = [k for k in self.noise_kinds if k not in NOISE_KINDS]
        if unknown:
            raise ValueError(f"unknown noise kinds {unknown} (known: {', '.join(NOISE_KINDS)})")
        if self.noise_seconds < 1:
            raise ValueError("noise_seconds must be >= 1")
        if self.jobs < 1:
            raise ValueError("jobs must be >= 1")


@dataclass
class SynthResult:
    root: Path
    clips: int
    counts: dict[str, dict[str, int]]  # word -> split -> clips
    holdout: dict[str, list[str]]  # split -> held-out names


# -- tools ------------------------------------------------------------------------


def _require_tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise DatasetError(f"{' and '.join(missing)} not found: install the Debian/Ubuntu packages "
                           f"({' '.join(missing)}), e.g. `sudo apt-get install espeak-ng sox`")


def installed_variants() -> list[str]:
    """espeak-ng's voice variants (``espeak-ng --voices=variant``), sorted."""
    _require_tools()
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5 and parts[4].startswith("!v/"):
            names.append(parts[4][3:])
    return sorted(set(names))


# -- planning ---------------------------------------------------------------------


def _assign_holdout(names: list[str], cfg: SynthConfig) -> dict[str, list[str]]:
    """Partition names into testing / validation / training (disjoint)."""
    rng = np.random.default_rng([cfg.seed, 7])
    order = [names[int(i)] for i in rng.permutation(len(names))]
    n = len(order)
    n_test = max(1, int(round(n * cfg.testing_fraction))) if cfg.testing_fraction > 0 else 0
    n_val = max(1, int(round(n * cfg.validation_fraction))) if cfg.validation_fraction > 0 else 0
    if n - n_test - n_val < 1:
        raise DatasetError(f"holdout={cfg.holdout}: {n} {cfg.holdout}s are too few to hold out "
                           f"{n_test} for testing and {n_val} for validation and keep some for training")
    return {"testing": sorted(order[:n_test]), "validation": sorted(order[n_test:n_test + n_val]),
            "training": sorted(order[n_test + n_val:])}


@dataclass(frozen=True)
class ClipPlan:
    word: str
    index: int
    split: str
    voice: str
    variant: str
    text: str
    speed: int
    pitch: int
    amplitude: int
    highpass: int
    lowpass: int
    bass_db: float
    treble_db: float
    reverb: int  # 0: none, else reverberance %
    peak_dbfs: float
    noise: str  # "" or a NOISE_KINDS key
    snr_db: float
    position: float  # 0..1 of the free room in the clip
    noise_seed: int

    @property
    def speaker(self) -> str:
        return f"{self.voice}+{self.variant}"

    @property
    def rel(self) -> str:
        return f"{self.word}/{self.speaker}{SPEAKER_SEPARATOR}{self.index:05d}.wav"


def _split_pattern(n: int, cfg: SynthConfig, rng: np.random.Generator) -> list[str]:
    n_test = int(round(n * cfg.testing_fraction))
    n_val = int(round(n * cfg.validation_fraction))
    if n >= 3:  # every split gets something once a word has a few clips
        n_test = max(n_test, 1 if cfg.testing_fraction > 0 else 0)
        n_val = max(n_val, 1 if cfg.validation_fraction > 0 else 0)
    labels = ["testing"] * n_test + ["validation"] * n_val + ["training"] * (n - n_test - n_val)
    return [labels[int(i)] for i in rng.permutation(n)]


def plan(cfg: SynthConfig, variants: Sequence[str]) -> tuple[list[ClipPlan], dict[str, list[str]]]:
    """Every clip's parameters and the held-out names per split."""
    voices = list(cfg.voices)
    variants = list(variants)
    if cfg.holdout == "variant":
        held = _assign_holdout(variants, cfg)
    elif cfg.holdout == "voice":
        held = _assign_holdout(voices, cfg)
    else:
        held = _assign_holdout([f"{v}+{t}" for v in voices for t in variants], cfg)

    def pick_speaker(split: str, rng: np.random.Generator) -> tuple[str, str]:
        names = held[split]
        if cfg.holdout == "variant":
            return voices[int(rng.integers(len(voices)))], names[int(rng.integers(len(names)))]
        if cfg.holdout == "voice":
            return names[int(rng.integers(len(names)))], variants[int(rng.integers(len(variants)))]
        v, t = names[int(rng.integers(len(names)))].split("+", 1)
        return v, t

    others = cfg.resolved_other_words()
    total_other = cfg.resolved_other_clips()
    counts = {w: cfg.clips_per_word for w in cfg.words}
    for k, w in enumerate(others):
        counts[w] = total_other // len(others) + (1 if k < total_other % len(others) else 0)

    # Keywords are split word by word; the other words (few clips each) share
    # one split pattern so that every split gets _unknown_ material.
    patterns = {w: _split_pattern(counts[w], cfg, np.random.default_rng([cfg.seed, zlib.crc32(w.encode())]))
                for w in cfg.words}
    shared = _split_pattern(total_other, cfg, np.random.default_rng([cfg.seed, 11]))
    pos = 0
    for w in others:
        patterns[w], pos = shared[pos:pos + counts[w]], pos + counts[w]

    plans = []
    for word, n in counts.items():
        wkey = zlib.crc32(word.encode())
        for i in range(n):
            r = np.random.default_rng([cfg.seed, wkey, i])
            split = patterns[word][i]
            voice, variant = pick_speaker(split, r)
            noisy = r.random() < cfg.noisy_fraction
            plans.append(ClipPlan(
                word=word, index=i, split=split, voice=voice, variant=variant,
                text=word + _PUNCTUATION[int(r.integers(len(_PUNCTUATION)))],
                speed=int(r.integers(cfg.speed_wpm[0], cfg.speed_wpm[1] + 1)),
                pitch=int(r.integers(cfg.pitch[0], cfg.pitch[1] + 1)),
                amplitude=int(r.integers(cfg.amplitude[0], cfg.amplitude[1] + 1)),
                highpass=int(r.integers(60, 400)) if r.random() < 0.4 else 0,
                lowpass=int(r.integers(2800, 7500)) if r.random() < 0.3 else 0,
                bass_db=round(float(r.uniform(-8, 8)), 1),
                treble_db=round(float(r.uniform(-10, 6)), 1),
                reverb=int(r.integers(10, 70)) if r.random() < cfg.reverb_fraction else 0,
                peak_dbfs=round(float(r.uniform(*cfg.peak_dbfs)), 2),
                noise=cfg.noise_kinds[int(r.integers(len(cfg.noise_kinds)))] if noisy and cfg.noise_kinds else "",
                snr_db=round(float(r.uniform(*cfg.snr_db)), 2),
                position=float(r.random()),
                noise_seed=int(r.integers(1 << 31)),
            ))
    return plans, held


# -- rendering ----------------------------------------------------------------------

_MAX_SPEECH = CLIP_SAMPLES - int(0.08 * SAMPLE_RATE)  # leave at least 80 ms of room


def _run(cmd: list[str], stdin: bytes | None = None) -> bytes:
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if p.returncode != 0:
        raise DatasetError(f"{cmd[0]} failed ({p.returncode}): {p.stderr.decode(errors='replace').strip()[:300]}")
    return p.stdout


def _speech(p: ClipPlan) -> np.ndarray:
    voice = p.voice if p.variant == PLAIN_VARIANT else f"{p.voice}+{p.variant}"
    wav = _run(["espeak-ng", "-v", voice, "-s", str(p.speed), "-p", str(p.pitch), "-a", str(p.amplitude),
                "--stdout", p.text])
    effects: list[str] = []
    if p.highpass:
        effects += ["highpass", str(p.highpass)]
    if p.lowpass:
        effects += ["lowpass", str(p.lowpass)]
    effects += ["bass", f"{p.bass_db:+.1f}", "treble", f"{p.treble_db:+.1f}"]
    if p.reverb:
        effects += ["reverb", str(p.reverb), "50", str(min(100, p.reverb + 20))]
    raw = _run(["sox", "-D", "-V1", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "32",
                "-e", "floating-point", "-"] + effects, wav)
    return np.frombuffer(raw, "<f4").astype(np.float64)


def _trim(y: np.ndarray) -> np.ndarray:
    """Cut the silence espeak-ng puts around a word (10 ms frames, -40 dB of the peak)."""
    frame = SAMPLE_RATE // 100
    n = y.size // frame
    if n == 0:
        return y
    energy = np.sqrt(np.mean(y[: n * frame].reshape(n, frame) ** 2, axis=1))
    active = np.flatnonzero(energy > energy.max() * 0.01)
    if active.size == 0:
        return y[:0]
    start = max(0, (active[0] - 2) * frame)
    end = min(y.size, (active[-1] + 4) * frame)
    return y[start:end]


def _fit(y: np.ndarray) -> np.ndarray:
    """Compress words longer than the clip allows (sox tempo keeps the pitch)."""
    if y.size <= _MAX_SPEECH:
        return y
    factor = y.size / (_MAX_SPEECH - SAMPLE_RATE // 50)
    raw = _run(["sox", "-D", "-V1", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "32", "-e",
                "floating-point", "-", "-t", "raw", "-b", "32", "-e", "floating-point", "-", "tempo", "-s",
                f"{factor:.4f}"], y.astype("<f4").tobytes())
    return np.frombuffer(raw, "<f4").astype(np.float64)[:_MAX_SPEECH]


def render(p: ClipPlan) -> np.ndarray:
    """The int16 clip [16000] of a plan."""
    y = _fit(_trim(_speech(p)))
    if y.size == 0 or not np.any(y):
        raise DatasetError(f"espeak-ng produced no sound for {p.text!r} with voice {p.speaker}")
    y = y * (10 ** (p.peak_dbfs / 20) / np.max(np.abs(y)))
    clip = np.zeros(CLIP_SAMPLES)
    start = int(p.position * (CLIP_SAMPLES - y.size))
    clip[start:start + y.size] = y
    if p.noise:
        r = np.random.default_rng(p.noise_seed)
        n = NOISE_KINDS[p.noise](CLIP_SAMPLES, r)
        n = n / (np.std(n) + 1e-12)
        speech_rms = np.sqrt(np.mean(y ** 2))
        clip += n * speech_rms / 10 ** (p.snr_db / 20)
    return np.clip(np.rint(clip * 32767), -32768, 32767).astype(np.int16)


# -- the whole dataset ---------------------------------------------------------------


def synth(out: str | Path, cfg: SynthConfig, *, force: bool = False, progress: bool = True,
          log: Log | None = None) -> SynthResult:
    """Write a dataset in the Speech Commands layout to ``out``.

    The dataset is assembled in ``<out>.partial`` and renamed at the end, so
    ``out`` never holds a half-written dataset. An existing ``out`` is an error
    unless ``force``.
    """
    cfg.check()
    _require_tools()
    out = Path(out)
    if out.exists() and not force:
        raise DatasetError(f"{out} already exists (choose another folder or pass --force to replace it)")
    variants = list(cfg.variants) if cfg.variants is not None else [PLAIN_VARIANT] + installed_variants()
    if not variants:
        raise DatasetError("no espeak-ng voice variants")
    plans, held = plan(cfg, variants)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for w in cfg.words + cfg.resolved_other_words():
            (tmp / w).mkdir(parents=True, exist_ok=True)
        (tmp / BACKGROUND_DIR).mkdir(parents=True)
        for k, kind in enumerate(cfg.noise_kinds):
            write_wav(tmp / BACKGROUND_DIR / f"{kind}.wav", make_noise(kind, cfg.noise_seconds, cfg.seed))

        def work(p: ClipPlan) -> None:
            write_wav(tmp / p.rel, render(p))

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(plans), desc="synth", unit="clip")
        with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
            for _ in pool.map(work, plans):
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()

        for name, split in ((VALIDATION_LIST, "validation"), (TESTING_LIST, "testing")):
            rels = sorted(p.rel for p in plans if p.split == split)
            (tmp / name).write_text("".join(r + "\n" for r in rels), encoding="utf-8")
        with open(tmp / "clips.csv", "w", newline="", encoding="utf-8") as f:
            names = ["file"] + [k for k in asdict(plans[0]) if k != "index"] if plans else ["file"]
            wr = csv.writer(f)
            wr.writerow(names)
            for p in plans:
                d = asdict(p)
                wr.writerow([p.rel] + [d[k] for k in names[1:]])
        meta = {"generator": "mpyml data synth", "config": asdict(cfg), "variants": variants, "holdout": held,
                "tools": _tool_versions()}
        (tmp / "synth.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts: dict[str, dict[str, int]] = {}
    for p in plans:
        counts.setdefault(p.word, {"training": 0, "validation": 0, "testing": 0})[p.split] += 1
    if log:
        log(f"{len(plans)} clips of {len(counts)} words, {len(cfg.noise_kinds)} noise recordings in {out}")
    return SynthResult(out, len(plans), counts, held)


def _tool_versions() -> dict[str, str]:
    v = {}
    for tool, arg in (("espeak-ng", "--version"), ("sox", "--version")):
        try:
            v[tool] = subprocess.run([tool, arg], capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            v[tool] = "?"
    return v
