"""Augmentation: time shift, background noise mixing, feature masking."""

from __future__ import annotations

import numpy as np
import pytest
from _datautil import make_dataset

from mpyml.data import AugmentConfig, augment_clips, load_split, mask_features, time_shift


def _impulses(n: int) -> np.ndarray:
    clips = np.zeros((n, 16000), np.int16)
    clips[:, 8000] = 10000
    return clips


def test_time_shift_moves_and_zero_fills():
    x = np.arange(1, 11, dtype=np.int16)
    np.testing.assert_array_equal(time_shift(x, 3), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(time_shift(x, -2), [3, 4, 5, 6, 7, 8, 9, 10, 0, 0])
    np.testing.assert_array_equal(time_shift(x, 0), x)
    assert not time_shift(x, 10).any() and not time_shift(x, -15).any()


def test_shift_stays_within_the_configured_range():
    cfg = AugmentConfig(time_shift_ms=100, background_frequency=0)
    out = augment_clips(_impulses(400), [], cfg, np.random.default_rng(0))
    pos = np.argmax(out, axis=1) - 8000
    assert np.all(np.abs(pos) <= 1600)
    assert pos.min() < -1200 and pos.max() > 1200  # the whole range is used
    assert np.all(out.sum(axis=1) == 10000)  # nothing but the impulse, moved


def test_noise_probability_and_volume():
    noise = (np.random.default_rng(1).standard_normal(48000) * 8000).astype(np.int16)
    clips = np.zeros((600, 16000), np.int16)
    for freq in (0.0, 0.3, 1.0):
        cfg = AugmentConfig(time_shift_ms=0, background_frequency=freq, background_volume=(0.05, 0.2))
        out = augment_clips(clips, [noise], cfg, np.random.default_rng(2))
        noisy = np.any(out != 0, axis=1)
        assert abs(noisy.mean() - freq) < 0.06
        if freq:
            rms = np.sqrt(np.mean(out[noisy].astype(np.float64) ** 2, axis=1)) / 8000
            assert rms.min() > 0.045 and rms.max() < 0.21


def test_noise_is_a_crop_of_the_recording():
    noise = np.arange(-20000, 20000, dtype=np.int16)
    cfg = AugmentConfig(time_shift_ms=0, background_frequency=1, background_volume=(1, 1))
    out = augment_clips(np.zeros((5, 16000), np.int16), [noise], cfg, np.random.default_rng(3))
    for row in out:
        start = int(row[0]) + 20000
        np.testing.assert_array_equal(row, noise[start:start + 16000])


def test_augment_is_deterministic_and_does_not_modify_input():
    noise = (np.random.default_rng(1).standard_normal(32000) * 3000).astype(np.int16)
    clips = (np.random.default_rng(2).standard_normal((20, 16000)) * 1000).astype(np.int16)
    before = clips.copy()
    cfg = AugmentConfig()
    a = augment_clips(clips, [noise], cfg, np.random.default_rng(7))
    b = augment_clips(clips, [noise], cfg, np.random.default_rng(7))
    c = augment_clips(clips, [noise], cfg, np.random.default_rng(8))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    np.testing.assert_array_equal(clips, before)


def test_mix_saturates():
    noise = np.full(16000, 30000, np.int16)
    clips = np.full((1, 16000), 30000, np.int16)
    cfg = AugmentConfig(time_shift_ms=0, background_frequency=1, background_volume=(1, 1))
    assert np.all(augment_clips(clips, [noise], cfg, np.random.default_rng(0)) == 32767)


def test_mask_features():
    feats = np.full((50, 49, 40), 7, np.uint16)
    cfg = AugmentConfig(time_masks=2, time_mask_max=6, freq_masks=1, freq_mask_max=8)
    out = mask_features(feats, cfg, np.random.default_rng(0))
    assert out.dtype == np.uint16 and np.all(feats == 7)  # input untouched
    assert np.all((out == 0) | (out == 7))
    for ex in out:
        zero_frames = np.all(ex == 0, axis=1).sum()
        zero_channels = np.all(ex == 0, axis=0).sum()
        assert zero_frames <= 12 and zero_channels <= 8
        # every zero lies in a fully zero row or column (bands, not speckles)
        z = ex == 0
        assert np.all(z <= (np.all(z, axis=1)[:, None] | np.all(z, axis=0)[None, :]))
    assert (out == 0).any()
    again = mask_features(feats, cfg, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)
    none = mask_features(feats, AugmentConfig(), np.random.default_rng(0))
    np.testing.assert_array_equal(none, feats)
    f32 = mask_features(feats.astype(np.float32), cfg, np.random.default_rng(0), fill=-1.0)
    np.testing.assert_array_equal(f32 == -1.0, out == 0)


def test_config_validation_and_dict():
    with pytest.raises(ValueError, match="background_frequency"):
        AugmentConfig(background_frequency=1.5)
    with pytest.raises(ValueError, match="background_volume"):
        AugmentConfig(background_volume=(0.2, 0.1))
    with pytest.raises(ValueError, match="copies"):
        AugmentConfig(copies=0)
    cfg = AugmentConfig(time_masks=2, background_volume=(0.0, 0.3))
    assert AugmentConfig.from_dict(cfg.to_dict()) == cfg


def test_load_split_with_augmentation(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"yes": 10, "no": 10, "cat": 6})
    plain = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=25, seed=0)
    cfg = AugmentConfig(copies=3)
    aug = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=25, seed=0, augment=cfg)
    aug2 = load_split(ds, "training", ["yes", "no"], unknown_percentage=25, silence_percentage=25, seed=0, augment=cfg)
    assert aug.clips.tobytes() == aug2.clips.tobytes()
    pc, ac = plain.class_counts(), aug.class_counts()
    assert ac["_silence_"] == pc["_silence_"]  # silence is not copied
    for name in ("_unknown_", "yes", "no"):
        assert ac[name] == 3 * pc[name]
    # augmented versions differ from the originals
    orig = {s: c for s, c in zip(plain.sources, plain.clips)}
    changed = [not np.array_equal(c, orig[s.split("#")[0]]) for s, c in zip(aug.sources, aug.clips)
               if not s.startswith("_silence_")]
    assert np.mean(changed) > 0.9
