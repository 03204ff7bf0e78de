"""Long test streams with keywords at known positions, and scoring of a
streaming detector against them (hits, misses, false accepts per hour).

``build_stream`` lays keyword clips over background noise at random gaps
and returns the audio plus the ground truth; ``score`` matches detections
(time, label) to the truth within a tolerance window.

Truth JSON (written next to the WAV)::

    {"format": "mpyml-stream-truth", "version": 1, "sample_rate": 16000,
     "samples": 960000, "duration_s": 60.0, "seed": 1,
     "events": [{"label": "yes", "start_s": 3.21, "end_s": 4.21,
                 "source": "yes_1000ms.wav", "gain_db": -3.0}, ...]}

Detections are read from the example app's output (lines containing
``t_ms=<int> label=<name>``), from JSON lines with ``t_ms``/``time_s`` and
``label``, or from a JSON list of such objects.
"""

from __future__ import annotations

import json
import re
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import MpymlError

TRUTH_FORMAT = "mpyml-stream-truth"


class StreamError(MpymlError):
    """Bad input to stream building or scoring."""


# -- audio files ------------------------------------------------------------


def read_wav(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """A 16-bit mono PCM WAV as int16 samples and its rate."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getcomptype() != "NONE":
                raise StreamError(f"{path}: need 16-bit mono PCM WAV (got {w.getnchannels()} channels, "
                                  f"{8 * w.getsampwidth()}-bit, {w.getcomptype()})")
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    except (wave.Error, EOFError) as e:
        raise StreamError(f"{path}: not a readable WAV file ({e})") from None
    except FileNotFoundError:
        raise StreamError(f"{path} does not exist") from None
    if sample_rate is not None and rate != sample_rate:
        raise StreamError(f"{path}: sample rate {rate} Hz, the stream uses {sample_rate} Hz")
    return data, rate


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


# -- keywords ---------------------------------------------------------------


def _label_of_file(path: Path) -> str:
    return path.stem.split("_")[0] or path.stem


def load_keywords(specs: Iterable[str], sample_rate: int = 16000) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Keyword clips by label from ``[LABEL=]PATH`` specs.

    PATH is a WAV file (label: its name up to the first ``_``, e.g.
    ``yes_1000ms.wav`` -> ``yes``) or a folder of WAVs (label: the folder
    name, as in the Speech Commands layout).
    """
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for spec in specs:
        label, sep, p = spec.partition("=")
        if not sep:
            label, p = "", spec
        path = Path(p)
        if path.is_dir():
            files = sorted(path.glob("*.wav"))
            if not files:
                raise StreamError(f"{path}: no .wav files in this folder")
            name = label or path.name
        elif path.is_file():
            files = [path]
            name = label or _label_of_file(path)
        else:
            raise StreamError(f"keyword source {path} does not exist")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise StreamError(f"keyword label {name!r} must be letters, digits, '_' or '-'")
        for f in files:
            clip, _ = read_wav(f, sample_rate)
            if len(clip) == 0:
                raise StreamError(f"{f} is empty")
            out.setdefault(name, []).append((f.name, clip))
    if not out:
        raise StreamError("no keywords given (use --keywords PATH, repeatable)")
    return out


# -- building ---------------------------------------------------------------


@dataclass
class StreamSpec:
    minutes: float
    seed: int = 0
    sample_rate: int = 16000
    gap_s: tuple[float, float] = (2.0, 6.0)
    gain_db: tuple[float, float] = (-6.0, 0.0)
    noise_level: float = 0.003  # RMS of the white noise, fraction of full scale
    background_level: float = 0.5  # gain of background recordings

    def check(self) -> None:
        if not self.minutes > 0:
            raise StreamError(f"--minutes must be > 0 (got {self.minutes})")
        if not 0 <= self.gap_s[0] <= self.gap_s[1]:
            raise StreamError(f"gaps must satisfy 0 <= min <= max (got {self.gap_s})")
        if not self.gain_db[0] <= self.gain_db[1]:
            raise StreamError(f"gains must satisfy min <= max (got {self.gain_db})")
        if not 0 <= self.noise_level < 1:
            raise StreamError(f"--noise-level must be in [0, 1) (got {self.noise_level})")
        if not 0 <= self.background_level <= 10:
            raise StreamError(f"--background-level must be in [0, 10] (got {self.background_level})")
        if self.sample_rate <= 0:
            raise StreamError("sample rate must be > 0")


@dataclass
class Truth:
    sample_rate: int
    samples: int
    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    format: str = TRUTH_FORMAT
    version: int = 1

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = round(self.duration_s, 6)
        return d

    @classmethod
    def load(cls, path: Path) -> "Truth":
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise StreamError(f"{path} does not exist") from None
        except json.JSONDecodeError as e:
            raise StreamError(f"{path}: not JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != TRUTH_FORMAT:
            raise StreamError(f"{path}: not a stream truth file (format {TRUTH_FORMAT!r} expected)")
        try:
            t = cls(int(d["sample_rate"]), int(d["samples"]), int(d.get("seed", 0)), list(d["events"]))
            for e in t.events:
                float(e["start_s"]), float(e["end_s"]), str(e["label"])
        except (KeyError, TypeError, ValueError) as e:
            raise StreamError(f"{path}: malformed truth file ({e})") from None
        return t


def _background(rng: np.random.Generator, n: int, spec: StreamSpec, recordings: list[np.ndarray]) -> np.ndarray:
    out = rng.normal(0.0, spec.noise_level * 32767.0, n) if spec.noise_level > 0 else np.zeros(n)
    for rec in recordings:
        if len(rec) == 0:
            continue
        reps = -(-n // len(rec)) + 1
        start = int(rng.integers(0, len(rec)))
        tiled = np.tile(rec.astype(np.float64), reps)[start:start + n]
        out += spec.background_level * tiled
    return out


def build_stream(keywords: dict[str, list[tuple[str, np.ndarray]]], spec: StreamSpec,
                 background: list[np.ndarray] | None = None) -> tuple[np.ndarray, Truth]:
    """Audio (int16) and ground truth; deterministic for a given seed."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    rate = spec.sample_rate
    n = int(round(spec.minutes * 60 * rate))
    audio = _background(rng, n, spec, background or [])
    labels = sorted(keywords)
    truth = Truth(rate, n, spec.seed)
    pos = int(rng.uniform(*spec.gap_s) * rate)
    while True:
        label = labels[int(rng.integers(0, len(labels)))]
        clips = keywords[label]
        name, clip = clips[int(rng.integers(0, len(clips)))]
        if pos + len(clip) > n:
            break
        gain_db = float(rng.uniform(*spec.gain_db))
        audio[pos:pos + len(clip)] += clip.astype(np.float64) * 10 ** (gain_db / 20)
        truth.events.append({"label": label, "start_s": round(pos / rate, 6),
                             "end_s": round((pos + len(clip)) / rate, 6), "source": name,
                             "gain_db": round(gain_db, 3)})
        pos += len(clip) + int(rng.uniform(*spec.gap_s) * rate)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16), truth


def truth_path_for(wav: Path) -> Path:
    return wav.with_suffix(".json")


def write_stream(out_wav: Path, audio: np.ndarray, truth: Truth, truth_path: Path | None = None) -> Path:
    out_wav = Path(out_wav)
    write_wav(out_wav, audio, truth.sample_rate)
    tp = Path(truth_path) if truth_path else truth_path_for(out_wav)
    tp.write_text(json.dumps(truth.to_json(), indent=1) + "\n")
    return tp


# -- scoring ----------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    time_s: float
    label: str
    score: float | None = None


_LINE = re.compile(r"t_ms=(-?\d+)\s+label=(\S+)(?:\s+score=(-?[0-9.]+))?")


def read_detections(path: Path) -> list[Detection]:
    """Detections from the app's output, JSON lines or a JSON list."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise StreamError(f"{path} does not exist") from None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise StreamError(f"{path}: not a JSON list ({e})") from None
        return [_from_obj(o, path) for o in items]
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("{"):
            try:
                out.append(_from_obj(json.loads(s), path))
            except json.JSONDecodeError as e:
                raise StreamError(f"{path}: bad JSON line {s[:60]!r} ({e})") from None
            continue
        m = _LINE.search(s)
        if m:
            out.append(Detection(int(m.group(1)) / 1000.0, m.group(2), float(m.group(3)) if m.group(3) else None))
    return out


def _from_obj(o: Any, path: Path) -> Detection:
    if not isinstance(o, dict) or "label" not in o or not ("t_ms" in o or "time_s" in o):
        raise StreamError(f"{path}: a detection needs 'label' and 't_ms' or 'time_s' (got {o!r})")
    t = o["t_ms"] / 1000.0 if "t_ms" in o else float(o["time_s"])
    return Detection(float(t), str(o["label"]), o.get("score"))


@dataclass
class Score:
    hits: int
    misses: int
    false_accepts: int
    wrong_label: int
    duplicates: int
    events: int
    detections: int
    hours: float
    per_label: dict[str, dict[str, int]]
    tolerance_s: float
    missed_events: list[dict[str, Any]] = field(default_factory=list)
    false_accept_times: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.hits / self.events if self.events else 0.0

    @property
    def false_accepts_per_hour(self) -> float:
        return self.false_accepts / self.hours if self.hours > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["recall"] = round(self.recall, 6)
        d["false_accepts_per_hour"] = round(self.false_accepts_per_hour, 6)
        return d


def score(detections: list[Detection], truth: Truth, tolerance_s: float = 1.0, before_s: float = 0.0,
          labels: Iterable[str] | None = None) -> Score:
    """Match detections to truth events.

    A detection of label L at time t hits the earliest not yet matched
    event of label L with ``start - before_s <= t <= end + tolerance_s``.
    Every other detection is a false accept; among them, ``duplicates``
    fall in the window of an already matched event of the same label and
    ``wrong_label`` in the window of an event of another label. Detections
    of labels outside ``labels`` (default: the truth's labels) are ignored.
    """
    if tolerance_s < 0 or before_s < 0:
        raise StreamError("tolerances must be >= 0")
    events = sorted(truth.events, key=lambda e: e["start_s"])
    keep = set(labels) if labels is not None else {e["label"] for e in events}
    dets = sorted((d for d in detections if d.label in keep), key=lambda d: d.time_s)
    matched = [False] * len(events)
    hits = fa = wrong = dup = 0
    fa_times: list[float] = []
    per = {lab: {"events": 0, "hits": 0, "misses": 0, "false_accepts": 0} for lab in sorted(keep)}
    for e in events:
        if e["label"] in per:
            per[e["label"]]["events"] += 1

    def inside(e: dict[str, Any], t: float) -> bool:
        return e["start_s"] - before_s <= t <= e["end_s"] + tolerance_s

    for d in dets:
        idx = next((i for i, e in enumerate(events)
                    if not matched[i] and e["label"] == d.label and inside(e, d.time_s)), None)
        if idx is not None:
            matched[idx] = True
            hits += 1
            per[d.label]["hits"] += 1
            continue
        fa += 1
        fa_times.append(d.time_s)
        per[d.label]["false_accepts"] += 1
        if any(e["label"] == d.label and inside(e, d.time_s) for e in events):
            dup += 1
        elif any(inside(e, d.time_s) for e in events):
            wrong += 1
    missed = [e for i, e in enumerate(events) if not matched[i] and e["label"] in keep]
    for e in missed:
        per[e["label"]]["misses"] += 1
    n_events = sum(1 for e in events if e["label"] in keep)
    return Score(hits, len(missed), fa, wrong, dup, n_events, len(dets), truth.duration_s / 3600.0, per,
                 tolerance_s, missed, fa_times)
