"""mpyml.streams and `mpyml stream build|score`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mpyml.cli import main
from mpyml.streams import (Detection, StreamError, StreamSpec, Truth, build_stream, load_keywords, read_detections,
                           read_wav, score, write_stream)


def _clip(n, f, amp=6000):
    t = np.arange(n)
    return (amp * np.sin(2 * np.pi * f * t / 16000)).astype(np.int16)


KW = {"yes": [("y1", _clip(8000, 440)), ("y2", _clip(6000, 660))], "no": [("n1", _clip(7000, 300))]}


def test_build_is_deterministic_and_places_clips_exactly():
    spec = StreamSpec(minutes=1.0, seed=3, noise_level=0.0, gain_db=(0.0, 0.0), gap_s=(1.0, 3.0))
    a1, t1 = build_stream(KW, spec)
    a2, t2 = build_stream(KW, spec)
    assert np.array_equal(a1, a2) and t1.events == t2.events
    assert len(a1) == 16000 * 60 and t1.duration_s == 60.0
    assert len(t1.events) >= 10
    assert {e["label"] for e in t1.events} == {"yes", "no"}
    prev_end = 0.0
    clips = {name: c for items in KW.values() for name, c in items}
    for e in t1.events:
        assert e["start_s"] >= prev_end + 1.0 - 1e-6  # gaps respected, no overlap
        prev_end = e["end_s"]
        s = int(round(e["start_s"] * 16000))
        clip = clips[e["source"]]
        assert np.array_equal(a1[s:s + len(clip)], clip)
        assert e["end_s"] == pytest.approx(e["start_s"] + len(clip) / 16000)
    assert prev_end <= 60.0
    # Between keywords there is exactly the (zero) background.
    mask = np.ones(len(a1), bool)
    for e in t1.events:
        mask[int(round(e["start_s"] * 16000)):int(round(e["end_s"] * 16000))] = False
    assert not a1[mask].any()
    _, t3 = build_stream(KW, StreamSpec(minutes=1.0, seed=4, noise_level=0.0))
    assert t3.events != t1.events


def test_noise_and_gain():
    spec = StreamSpec(minutes=0.5, seed=1, noise_level=0.01, gain_db=(-6.0, -6.0))
    audio, truth = build_stream(KW, spec)
    e = truth.events[0]
    s = int(round(e["start_s"] * 16000))
    before = audio[:s].astype(float)
    assert abs(before.std() / 32767 - 0.01) < 0.002
    seg = audio[s:s + 6000].astype(float)
    clip = dict(y1=KW["yes"][0][1], y2=KW["yes"][1][1], n1=KW["no"][0][1])[e["source"]][:6000].astype(float)
    ratio = np.dot(seg, clip) / np.dot(clip, clip)
    assert abs(ratio - 10 ** (-6 / 20)) < 0.02


def test_spec_and_keyword_errors(tmp_path):
    with pytest.raises(StreamError, match="minutes"):
        build_stream(KW, StreamSpec(minutes=0))
    with pytest.raises(StreamError, match="gaps"):
        build_stream(KW, StreamSpec(minutes=1, gap_s=(3.0, 1.0)))
    with pytest.raises(StreamError, match="does not exist"):
        load_keywords([str(tmp_path / "missing.wav")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(StreamError, match="no .wav"):
        load_keywords([str(tmp_path / "empty")])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(StreamError, match="not a readable WAV"):
        read_wav(bad)


def test_write_and_reload(tmp_path):
    audio, truth = build_stream(KW, StreamSpec(minutes=0.25, seed=2))
    tp = write_stream(tmp_path / "s.wav", audio, truth)
    back, rate = read_wav(tmp_path / "s.wav")
    assert rate == 16000 and np.array_equal(back, audio)
    t = Truth.load(tp)
    assert t.events == truth.events and t.samples == len(audio)
    tp.write_text("{}")
    with pytest.raises(StreamError, match="not a stream truth"):
        Truth.load(tp)


def _truth(events, seconds=3600.0):
    return Truth(16000, int(seconds * 16000), 0, [
        {"label": lab, "start_s": s, "end_s": s + 1.0, "source": "x"} for lab, s in events])


def test_score_counts_hits_misses_and_false_accepts():
    truth = _truth([("yes", 10.0), ("no", 20.0), ("yes", 30.0), ("no", 40.0)])
    dets = [
        Detection(10.5, "yes"),  # hit
        Detection(11.2, "yes"),  # duplicate of the same event: false accept
        Detection(20.9, "yes"),  # wrong label inside a "no": false accept
        Detection(31.9, "yes"),  # hit (end 31.0 + tolerance 1.0)
        Detection(45.0, "no"),  # outside every window: false accept; event at 40 missed
        Detection(50.0, "_unknown_"),  # not a keyword of the truth: ignored
    ]
    s = score(dets, truth, tolerance_s=1.0)
    assert (s.hits, s.misses, s.false_accepts, s.duplicates, s.wrong_label) == (2, 2, 3, 1, 1)
    assert s.events == 4 and s.detections == 5
    assert s.false_accepts_per_hour == pytest.approx(3.0)
    assert s.recall == 0.5
    assert s.per_label["yes"] == {"events": 2, "hits": 2, "misses": 0, "false_accepts": 2}
    assert s.per_label["no"] == {"events": 2, "hits": 0, "misses": 2, "false_accepts": 1}
    # A tighter tolerance loses the late hit.
    assert score(dets, truth, tolerance_s=0.5).hits == 1
    # Detections slightly early count only with `before_s`.
    early = [Detection(9.8, "yes")]
    assert score(early, truth).hits == 0 and score(early, truth, before_s=0.5).hits == 1
    with pytest.raises(StreamError):
        score(dets, truth, tolerance_s=-1)


def test_read_detections_formats(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("# model x\ndetection t_ms=1500 label=yes score=0.912\nnoise\n"
                 "detection t_ms=2500 label=no score=0.8\n# audio_ms=3000\n")
    assert read_detections(p) == [Detection(1.5, "yes", 0.912), Detection(2.5, "no", 0.8)]
    p.write_text('{"t_ms": 100, "label": "yes"}\n{"time_s": 0.2, "label": "no", "score": 0.5}\n')
    assert read_detections(p) == [Detection(0.1, "yes"), Detection(0.2, "no", 0.5)]
    p.write_text('[{"time_s": 3, "label": "yes"}]')
    assert read_detections(p) == [Detection(3.0, "yes")]
    p.write_text('[{"label": "yes"}]')
    with pytest.raises(StreamError, match="t_ms"):
        read_detections(p)


def _wav(path, samples):
    from mpyml.streams import write_wav

    write_wav(path, samples, 16000)
    return path


def test_cli_build_and_score(tmp_path):
    kw = tmp_path / "kw"
    (kw / "up").mkdir(parents=True)
    _wav(kw / "up" / "a.wav", _clip(8000, 500))
    _wav(kw / "up" / "b.wav", _clip(8000, 700))
    _wav(tmp_path / "down_1.wav", _clip(8000, 250))
    runner = CliRunner()
    out = tmp_path / "stream.wav"
    r = runner.invoke(main, ["stream", "build", str(out), "--keywords", str(kw / "up"), "--keywords",
                             str(tmp_path / "down_1.wav"), "--minutes", "0.5", "--seed", "7"])
    assert r.exit_code == 0, r.output
    truth = json.loads(out.with_suffix(".json").read_text())
    labels = {e["label"] for e in truth["events"]}
    assert labels <= {"up", "down"} and len(truth["events"]) >= 3
    det = tmp_path / "det.txt"
    det.write_text("".join(f"detection t_ms={int(e['end_s'] * 1000)} label={e['label']} score=0.9\n"
                           for e in truth["events"][1:]))
    r = runner.invoke(main, ["stream", "score", str(det), str(out.with_suffix(".json")), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["hits"] == len(truth["events"]) - 1 and res["misses"] == 1 and res["false_accepts"] == 0
    r = runner.invoke(main, ["stream", "score", str(det), str(tmp_path / "nope.json")])
    assert r.exit_code == 1 and "error:" in r.output and "does not exist" in r.output
    r = runner.invoke(main, ["stream", "build", str(out), "--keywords", str(tmp_path / "none"), "--minutes", "1"])
    assert r.exit_code == 1 and "error:" in r.output
