"""`mpyml data import`: every file is checked; bad ones are reported and
skipped; conversions happen only when asked for. Also `mpyml data stats`."""

from __future__ import annotations

import numpy as np
import pytest
from _datautil import make_dataset, tone, write
from click.testing import CliRunner

from mpyml.cli import main
from mpyml.data import DatasetError, load_split, read_wav, validate
from mpyml.data.importer import import_recordings
from mpyml.data.stats import dataset_stats


def _word_clip(seconds: float = 1.0, at: float = 0.3, rate: int = 16000) -> np.ndarray:
    """Quiet room tone with a 300 ms 'word' (a louder tone burst) at ``at`` s."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(seconds * rate)) * 30
    s = int(at * rate)
    n = min(int(0.3 * rate), x.size - s)
    x[s:s + n] += 8000 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
    return np.rint(x).astype(np.int16)


@pytest.fixture
def recordings(tmp_path):
    d = tmp_path / "rec"
    write(d / "good.wav", _word_clip())
    write(d / "short.wav", _word_clip(0.6, 0.1))
    write(d / "long.wav", _word_clip(2.5, 1.7))
    write(d / "rate44k.wav", _word_clip(1.0, 0.3, 44100), rate=44100)
    write(d / "stereo.wav", np.repeat(_word_clip(), 2), channels=2)
    write(d / "wide24.wav", _word_clip().astype(np.int32) << 8, width=3)
    clipped = _word_clip().astype(np.int32) * 8
    write(d / "clipped.wav", np.clip(clipped, -32768, 32767))
    write(d / "silent.wav", (np.random.default_rng(1).standard_normal(16000) * 3).astype(np.int16))
    write(d / "tiny.wav", _word_clip(0.05, 0.0))
    (d / "memo.m4a").write_bytes(b"\x00\x00\x00 ftypM4A ")
    (d / "broken.wav").write_bytes(b"RIFF1234WAVEjunk")
    return d


def _by_name(report):
    return {e.source.name: e for e in report.entries}


def test_import_checks_every_file(recordings, tmp_path):
    out = tmp_path / "ds"
    report = import_recordings(recordings, out, "hello", speaker="alice")
    e = _by_name(report)
    assert {n for n, x in e.items() if x.status == "imported"} == {"good.wav", "short.wav", "long.wav"}
    assert "44100 Hz" in e["rate44k.wav"].reason and "--resample" in e["rate44k.wav"].reason
    assert "2 channels" in e["stereo.wav"].reason
    assert "24-bit" in e["wide24.wav"].reason
    assert e["clipped.wav"].reason.startswith("clipped")
    assert e["silent.wav"].reason.startswith("silent")
    assert e["tiny.wav"].reason.startswith("too short")
    assert "not a .wav" in e["memo.m4a"].reason
    assert "not a readable PCM WAV" in e["broken.wav"].reason
    assert e["good.wav"].notes == []
    assert any("padded 600 ms" in n for n in e["short.wav"].notes)
    assert any("trimmed 2500 ms" in n for n in e["long.wav"].notes)
    # the written clips are in the layout, 1 s each, named by speaker
    layout = validate(out)
    assert layout.words == ["hello"] and len(layout.files["hello"]) == 3
    assert all(r.startswith("hello/alice_nohash_") for r in layout.files["hello"])
    good, _ = read_wav(out / e["good.wav"].dest)
    np.testing.assert_array_equal(good[:, 0], _word_clip())
    # trimming keeps the loud part
    long_clip, _ = read_wav(out / e["long.wav"].dest)
    assert np.max(np.abs(long_clip)) > 7000
    text = "\n".join(report.lines())
    assert "SKIPPED" in text and "3 imported into 'hello' (training), 8 skipped" in text


def test_resample_converts_when_asked(recordings, tmp_path):
    out = tmp_path / "ds"
    report = import_recordings(recordings, out, "hello", resample=True)
    e = _by_name(report)
    assert e["rate44k.wav"].status == "imported" and "resampled 44100 Hz to 16000 Hz" in e["rate44k.wav"].notes
    assert e["stereo.wav"].status == "imported" and "mixed 2 channels to mono" in e["stereo.wav"].notes
    assert e["wide24.wav"].status == "imported" and "converted 24-bit to 16-bit" in e["wide24.wav"].notes
    wide, _ = read_wav(out / e["wide24.wav"].dest)
    np.testing.assert_array_equal(wide[:, 0], _word_clip())
    res, _ = read_wav(out / e["rate44k.wav"].dest)
    # the 440 Hz burst survives resampling: dominant frequency of the loud part
    seg = res[:, 0].astype(np.float64)[int(0.35 * 16000):int(0.55 * 16000)]
    f = np.argmax(np.abs(np.fft.rfft(seg))) * 16000 / seg.size
    assert abs(f - 440) < 10
    # clipped and silent files stay out even with conversion
    assert e["clipped.wav"].status == "skipped" and e["silent.wav"].status == "skipped"


def test_split_lists_and_numbering(tmp_path, recordings):
    out = make_dataset(tmp_path / "ds", {"yes": 4, "no": 4})
    r1 = import_recordings(recordings / "good.wav", out, "yes", speaker="bob", split="testing")
    r2 = import_recordings(recordings / "good.wav", out, "yes", speaker="bob", split="testing")
    assert r1.imported[0].dest == "yes/bob_nohash_00000.wav" and r2.imported[0].dest == "yes/bob_nohash_00001.wav"
    layout = validate(out)
    assert {"yes/bob_nohash_00000.wav", "yes/bob_nohash_00001.wav"} <= layout.testing
    s = load_split(out, "testing", ["yes"], unknown_percentage=0, silence_percentage=0)
    assert "yes/bob_nohash_00001.wav" in s.sources


def test_nothing_usable(tmp_path, recordings):
    out = tmp_path / "ds"
    report = import_recordings(recordings / "silent.wav", out, "hello")
    assert not report.imported and not (out / "hello").exists()  # no empty class folder left
    with pytest.raises(DatasetError, match="not usable as a word"):
        import_recordings(recordings, out, "_silence_")
    with pytest.raises(DatasetError, match="does not exist"):
        import_recordings(tmp_path / "nope", out, "hello")


def test_cli_import_and_stats(recordings, tmp_path):
    out = tmp_path / "ds"
    runner = CliRunner()
    r = runner.invoke(main, ["data", "import", str(recordings), str(out), "--word", "hello"])
    assert r.exit_code == 0, r.output
    assert "SKIPPED" in r.output and "clipped" in r.output
    r = runner.invoke(main, ["data", "import", str(recordings / "silent.wav"), str(out), "--word", "hello"])
    assert r.exit_code == 1 and "error: no usable recordings" in r.output
    png = tmp_path / "stats.png"
    r = runner.invoke(main, ["data", "stats", str(out), "--plot", str(png)])
    assert r.exit_code == 0 and "hello" in r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"yes": 5, "no": 4, "cat": 3}, seconds=0.5)
    st = dataset_stats(ds)
    counts = {w.word: w.clips for w in st.words}
    assert counts["yes"] == {"training": 3, "validation": 1, "testing": 1}
    assert counts["cat"] == {"training": 1, "validation": 1, "testing": 1}
    assert st.totals() == {"training": 6, "validation": 3, "testing": 3}
    assert {w.word: round(w.max_seconds, 3) for w in st.words} == {"cat": 0.5, "no": 0.5, "yes": 0.5}
    assert abs(sum(w.seconds["training"] for w in st.words) - 3.0) < 1e-9
    # make_dataset names speakers spk0..spk2 in every split: not disjoint
    assert st.shared_speakers["training&testing"] > 0
    text = "\n".join(st.table())
    assert "speakers in more than one split: training&validation" in text
    assert [n for n, _ in st.noise] == ["hum.wav", "white.wav"]


def test_validate_cli(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"yes": 3, "no": 3})
    r = CliRunner().invoke(main, ["data", "validate", str(ds)])
    assert r.exit_code == 0 and "OK, 2 words, 6 clips, 2 noise files" in r.output
    write(ds / "yes" / "x_nohash_9.wav", tone(100, 1.0, rate=22050), rate=22050)
    r = CliRunner().invoke(main, ["data", "validate", str(ds)])
    assert r.exit_code == 1 and "error:" in r.output and "22050 Hz" in r.output
