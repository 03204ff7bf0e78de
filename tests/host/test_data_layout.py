"""Dataset layout validation and load_split (classes, sampling, determinism)."""

from __future__ import annotations

import numpy as np
import pytest
from _datautil import make_dataset, tone, write

from mpyml.data import DatasetError, load_split, scan, validate
from mpyml.data.layout import speaker_of


@pytest.fixture
def ds(tmp_path):
    return make_dataset(tmp_path / "ds", {"yes": 10, "no": 10, "cat": 6, "dog": 6})


def test_scan_reads_words_splits_and_noise(ds):
    layout = validate(ds)
    assert layout.words == ["cat", "dog", "no", "yes"]
    assert layout.split_files("yes", "validation") == ["yes/spk0_nohash_0.wav"]
    assert layout.split_files("yes", "test") == ["yes/spk1_nohash_1.wav"]
    assert len(layout.split_files("yes", "training")) == 8
    assert [p.name for p in layout.noise_files] == ["hum.wav", "white.wav"]
    assert speaker_of("yes/spk1_nohash_1.wav") == "spk1"


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan(tmp_path / "nothing")


def test_empty_class_folder_is_an_error(ds):
    (ds / "up").mkdir()
    with pytest.raises(DatasetError, match="class folder.*without .wav files: up"):
        scan(ds)


def test_no_word_folders(tmp_path):
    (tmp_path / "validation_list.txt").write_text("")
    (tmp_path / "testing_list.txt").write_text("")
    with pytest.raises(DatasetError, match="no word folders"):
        scan(tmp_path)


def test_missing_split_list(ds):
    (ds / "testing_list.txt").unlink()
    with pytest.raises(DatasetError, match="testing_list.txt is missing"):
        scan(ds)


def test_list_naming_missing_files(ds):
    (ds / "validation_list.txt").write_text("yes/ghost.wav\n")
    with pytest.raises(DatasetError, match="do not exist: yes/ghost.wav"):
        scan(ds)


def test_file_in_both_lists(ds):
    (ds / "testing_list.txt").write_text("yes/spk0_nohash_0.wav\n")
    with pytest.raises(DatasetError, match="in both"):
        scan(ds)


@pytest.mark.parametrize("kind, match", [
    ("rate", "sample rate 8000 Hz"),
    ("stereo", "2 channels"),
    ("8bit", "8-bit samples"),
    ("long", "longer than 16000"),
    ("garbage", "not a PCM WAV"),
])
def test_bad_clips_are_reported(ds, kind, match):
    path = ds / "yes" / "bad_nohash_0.wav"
    if kind == "rate":
        write(path, tone(300, 1.0, rate=8000)[:8000], rate=8000)
    elif kind == "stereo":
        write(path, np.repeat(tone(300), 2), channels=2)
    elif kind == "8bit":
        write(path, (tone(300) >> 8).astype(np.int8), width=1)
    elif kind == "long":
        write(path, tone(300, 1.5))
    else:
        path.write_bytes(b"not a wav file at all")
    with pytest.raises(DatasetError, match=match) as e:
        validate(ds)
    assert "bad_nohash_0.wav" in str(e.value)
    with pytest.raises(DatasetError, match=match):  # and when loading
        load_split(ds, "training", ["yes", "no"], unknown_percentage=0, silence_percentage=0)


def test_load_split_classes(ds):
    s = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=50, seed=1)
    assert s.label_names == ["_silence_", "_unknown_", "yes", "no"]
    assert s.clips.dtype == np.int16 and s.clips.shape == (len(s), 16000)
    assert s.labels.dtype == np.int64
    # 16 keyword clips in training; 25% -> 4 unknown, 50% -> 8 silence
    assert s.class_counts() == {"_silence_": 8, "_unknown_": 4, "yes": 8, "no": 8}
    for src, label in zip(s.sources, s.labels):
        name = s.label_names[label]
        if name == "_silence_":
            assert src.startswith("_silence_:")
        elif name == "_unknown_":
            assert src.split("/")[0] in ("cat", "dog")
        else:
            assert src.split("/")[0] == name
    # the clip is the file's content
    k = s.sources.index("yes/spk2_nohash_2.wav")
    np.testing.assert_array_equal(s.clips[k], tone(200 + 150 * 3 + 14))


def test_load_split_respects_the_split_lists(ds):
    val = load_split(ds, "validation", ["yes", "no"], unknown_percentage=100, silence_percentage=0)
    assert sorted(val.sources) == ["cat/spk0_nohash_0.wav", "dog/spk0_nohash_0.wav", "no/spk0_nohash_0.wav",
                                   "yes/spk0_nohash_0.wav"]
    train = load_split(ds, "training", ["yes", "no"], unknown_percentage=100, silence_percentage=0)
    assert not set(train.sources) & set(val.sources)


def test_load_split_is_deterministic(ds):
    a = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=50, seed=3)
    b = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=50, seed=3)
    c = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=50, seed=4)
    assert a.clips.tobytes() == b.clips.tobytes() and a.sources == b.sources
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.sources != c.sources


def test_silence_clips_are_scaled_noise_crops(ds):
    s = load_split(ds, "training", ["yes"], unknown_percentage=0, silence_percentage=100, seed=0,
                   silence_volume=(0.5, 0.5))
    from mpyml.data import read_noises, scan as scan_

    noises = {p.name: n for p, n in zip(scan_(ds).noise_files, read_noises(scan_(ds)))}
    for clip, src in zip(s.clips, s.sources):
        if not src.startswith("_silence_:"):
            continue
        name, rest = src.split(":", 1)[1].split("@")
        start = int(rest.split("x")[0])
        expect = np.rint(noises[name][start:start + 16000].astype(np.float32) * 0.5).astype(np.int16)
        np.testing.assert_array_equal(clip, expect)


def test_short_clips_are_zero_padded(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"yes": 4, "no": 4}, seconds=0.5)
    s = load_split(ds, "training", ["yes", "no"], unknown_percentage=0, silence_percentage=0)
    assert s.clips.shape == (4, 16000)
    assert np.all(s.clips[:, 8000:] == 0) and np.all(np.any(s.clips[:, :8000] != 0, axis=1))


def test_load_split_errors(ds, tmp_path):
    with pytest.raises(DatasetError, match="no folder for keyword"):
        load_split(ds, "training", ["yes", "maybe"])
    with pytest.raises(ValueError, match="unknown split"):
        load_split(ds, "dev", ["yes"])
    with pytest.raises(ValueError, match="reserved"):
        load_split(ds, "training", ["_silence_"])
    with pytest.raises(ValueError, match="repeat"):
        load_split(ds, "training", ["yes", "yes"])
    no_noise = make_dataset(tmp_path / "nn", {"yes": 4, "no": 4}, noise=False)
    with pytest.raises(DatasetError, match="_background_noise_"):
        load_split(no_noise, "training", ["yes"], silence_percentage=50, unknown_percentage=0)
    only = make_dataset(tmp_path / "only", {"yes": 4})
    with pytest.raises(DatasetError, match="_unknown_ needs clips"):
        load_split(only, "training", ["yes"], unknown_percentage=50)
    empty_split = make_dataset(tmp_path / "es", {"yes": 3, "no": 3}, val=0)
    with pytest.raises(DatasetError, match="no clips in the validation split"):
        load_split(empty_split, "validation", ["yes"])
