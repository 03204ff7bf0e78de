"""`mpyml data synth`: layout, held-out voices, reproducibility."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mpyml.cli import main
from mpyml.data import DatasetError, load_split, read_wav, validate
from mpyml.data.layout import speaker_of
from mpyml.data.synth import SynthConfig, plan, synth


def _cfg(**kw) -> SynthConfig:
    base = dict(words=["yes", "no"], clips_per_word=12, other_words=["cat", "dog", "bed"], other_clips=9,
                noise_seconds=2, jobs=2, seed=5)
    base.update(kw)
    return SynthConfig(**base)


@pytest.fixture(scope="module")
def synth_ds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    synth(out, _cfg(), progress=False)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_audio(synth_ds):
    layout = validate(synth_ds)  # 16 kHz mono 16-bit, lists consistent
    assert layout.words == ["bed", "cat", "dog", "no", "yes"]
    assert sum(len(v) for v in layout.files.values()) == 2 * 12 + 9
    assert len(layout.noise_files) == 7
    for rel in layout.files["yes"]:
        data, info = read_wav(synth_ds / rel)
        assert info.frames == 16000
        x = data[:, 0].astype(np.float64)
        assert np.max(np.abs(x)) > 900  # peaks between -30 and -1 dBFS
        # the word lies inside the clip: the first and last 10 ms are quieter than the loudest 10 ms
        frames = np.sqrt(np.mean(x.reshape(100, 160) ** 2, axis=1))
        assert frames[0] < frames.max() and frames[-1] < frames.max()
    for p in layout.noise_files:
        data, info = read_wav(p)
        assert info.frames == 32000 and np.std(data) > 1000


def test_every_split_has_clips(synth_ds):
    layout = validate(synth_ds)
    for w in ("yes", "no"):
        n = {s: len(layout.split_files(w, s)) for s in ("training", "validation", "testing")}
        assert n["validation"] >= 1 and n["testing"] >= 1 and n["training"] >= 8
    s = load_split(synth_ds, "testing", ["yes", "no"], unknown_percentage=50, silence_percentage=50)
    assert set(s.class_counts()) == {"_silence_", "_unknown_", "yes", "no"} and min(s.class_counts().values()) > 0


def test_validation_and_test_voices_are_held_out(synth_ds):
    meta = json.loads((synth_ds / "synth.json").read_text())
    held = meta["holdout"]
    assert not set(held["training"]) & set(held["validation"])
    assert not set(held["training"]) & set(held["testing"])
    assert not set(held["validation"]) & set(held["testing"])
    layout = validate(synth_ds)
    used = {"training": set(), "validation": set(), "testing": set()}
    for rels in layout.files.values():
        for rel in rels:
            variant = speaker_of(rel).split("+", 1)[1]
            used[layout.split_of(rel)].add(variant)
            assert variant in held[layout.split_of(rel)]
    assert not used["training"] & (used["validation"] | used["testing"])
    with open(synth_ds / "clips.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 33 and all(layout.split_of(r["file"]) == r["split"] for r in rows)


@pytest.mark.parametrize("holdout", ["voice", "speaker"])
def test_other_holdout_kinds_are_disjoint(holdout):
    cfg = _cfg(holdout=holdout, clips_per_word=200)
    plans, held = plan(cfg, ["plain", "m1", "m2", "f1", "f2", "f3", "klatt", "croak", "whisper", "m3"])
    key = (lambda p: p.voice) if holdout == "voice" else (lambda p: p.speaker)
    by_split = {s: {key(p) for p in plans if p.split == s} for s in ("training", "validation", "testing")}
    assert by_split["training"] and by_split["validation"] and by_split["testing"]
    assert not by_split["training"] & (by_split["validation"] | by_split["testing"])
    assert not by_split["validation"] & by_split["testing"]
    for s, names in by_split.items():
        assert names <= set(held[s])


def test_variety_of_parameters():
    plans, _ = plan(_cfg(clips_per_word=300), ["plain"] + [f"m{i}" for i in range(1, 8)])
    yes = [p for p in plans if p.word == "yes"]
    assert len({p.voice for p in yes}) == 8 and len({p.variant for p in yes}) >= 5
    assert len({p.speed for p in yes}) > 50 and len({p.pitch for p in yes}) > 40
    assert 0.35 < np.mean([bool(p.noise) for p in yes]) < 0.65
    assert len({p.text for p in yes}) == 5


def test_same_seed_gives_identical_bytes(synth_ds, tmp_path):
    again = tmp_path / "again"
    synth(again, _cfg(jobs=1), progress=False)  # other parallelism, same result
    a, b = _files(synth_ds), _files(again)
    assert a.keys() == b.keys()
    meta_a, meta_b = json.loads(a.pop("synth.json")), json.loads(b.pop("synth.json"))
    assert meta_a["config"].pop("jobs") == 2 and meta_b["config"].pop("jobs") == 1
    assert meta_a == meta_b
    assert a == b


def test_other_seed_differs(synth_ds, tmp_path):
    other = tmp_path / "other"
    synth(other, _cfg(seed=6), progress=False)
    a = _files(synth_ds)
    b = _files(other)
    same = [k for k in a if k.endswith(".wav") and k in b and a[k] == b[k]]
    assert not same


def test_existing_output_and_bad_config(synth_ds, tmp_path):
    with pytest.raises(DatasetError, match="already exists"):
        synth(synth_ds, _cfg(), progress=False)
    with pytest.raises(ValueError, match="distinct"):
        synth(tmp_path / "x", _cfg(other_words=["yes"]), progress=False)
    with pytest.raises(ValueError, match="holdout"):
        synth(tmp_path / "x", _cfg(holdout="accent"), progress=False)
    with pytest.raises(DatasetError, match="too few"):
        synth(tmp_path / "x", _cfg(holdout="voice", voices=["en", "en-us"]), progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_cli(tmp_path):
    out = tmp_path / "cli"
    r = CliRunner().invoke(main, ["data", "synth", str(out), "--words", "up,down", "--clips-per-word", "4",
                                  "--other-words", "cat", "--other-clips", "3", "--noise-seconds", "1",
                                  "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert "testing variants (never in training)" in r.output
    assert validate(out).words == ["cat", "down", "up"]
    r = CliRunner().invoke(main, ["data", "synth", str(out), "--words", "up"])
    assert r.exit_code == 1 and "error:" in r.output and "already exists" in r.output
    r = CliRunner().invoke(main, ["data", "stats", str(out)])
    assert r.exit_code == 0 and "speaker-disjoint" in r.output
