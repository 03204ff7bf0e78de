"""mpyml.features: the feature config identity and the microfrontend features."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import wave

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mpyml import features as F  # noqa: E402
from mpyml.features import FeatureConfig, canonical_json, compute_features, to_float  # noqa: E402


def _read(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def _tf_op(clip: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as fe

    return fe.audio_microfrontend(tf.constant(clip), out_type=tf.uint16, **cfg.params()).numpy()


@pytest.fixture(scope="module")
def device_package(root):
    """The device library's package module, run under CPython (pure Python)."""
    spec = importlib.util.spec_from_file_location("_device_package", root / "device_lib" / "tinyml" / "package.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_defaults_are_the_microfrontend_defaults():
    import inspect

    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as fe

    op_defaults = {k: v.default for k, v in inspect.signature(fe.audio_microfrontend).parameters.items()
                   if v.default is not inspect.Parameter.empty}
    cfg = FeatureConfig()
    for k, v in cfg.params().items():
        if k in ("window_size", "window_step", "num_channels"):
            continue  # micro_speech settings, not the op's
        assert v == op_defaults[k], k
    assert (cfg.window_size, cfg.window_step, cfg.num_channels, cfg.n_frames) == (30, 20, 40, 49)
    assert cfg.float_scale == 10 / 256


def test_params_hold_every_frontend_parameter_and_nothing_else():
    p = FeatureConfig().params()
    names = {f.name for f in dataclasses.fields(FeatureConfig)}
    assert set(p) == names - {"clip_ms", "float_scale"}


def test_id_format_and_canonical_json():
    cfg = FeatureConfig()
    text = cfg.canonical_json()
    assert " " not in text and list(json.loads(text)) == sorted(cfg.params())
    # floats as micro-units, bools as JSON booleans, ints unchanged
    d = json.loads(text)
    assert d["even_smoothing"] == 25000 and d["upper_band_limit"] == 7500000000
    assert d["enable_pcan"] is True and d["sample_rate"] == 16000
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    assert cfg.id() == f"mf1-16000-30-20-40-{digest}"


def test_id_is_stable_across_releases():
    # Model packages store this id; changing it would orphan every package.
    assert FeatureConfig().id() == "mf1-16000-30-20-40-5cc35481"


def test_id_matches_the_device_library(device_package):
    for cfg in (FeatureConfig(), FeatureConfig(num_channels=32, window_step=10, pcan_strength=0.9),
                FeatureConfig(enable_log=False, upper_band_limit=4000)):
        assert device_package.feature_id(cfg.params()) == cfg.id()
        assert device_package.canonical_json(cfg.params()) == cfg.canonical_json()


def _changed(name: str, value):
    if isinstance(value, bool):
        return not value
    if name == "upper_band_limit":
        return value - 100.0
    if name == "lower_band_limit":
        return value + 1.0
    if isinstance(value, float):
        return value * 0.5 if value < 1 else value + 1.0
    return value - 1 if name in ("smoothing_bits", "gain_bits", "scale_shift") else value + 2


def test_id_is_sensitive_to_every_parameter():
    base = FeatureConfig()
    ids = {base.id()}
    for name, value in base.params().items():
        other = dataclasses.replace(base, **{name: _changed(name, value)})
        assert other.id() != base.id(), name
        ids.add(other.id())
    assert len(ids) == len(base.params()) + 1  # all different from each other too


def test_clip_length_and_float_scale_do_not_change_the_id():
    base = FeatureConfig()
    assert FeatureConfig(clip_ms=2000).id() == base.id()
    assert FeatureConfig(float_scale=0.5).id() == base.id()
    assert FeatureConfig(clip_ms=2000).n_frames == 99


def test_equal_values_of_other_types_give_the_same_id():
    assert FeatureConfig(upper_band_limit=7500, pcan_offset=80).id() == FeatureConfig().id()
    assert FeatureConfig(sample_rate=16000.0).sample_rate == 16000


def test_dict_round_trip_and_checks():
    cfg = FeatureConfig(num_channels=32, odd_smoothing=0.07)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["id"] == cfg.id()
    assert FeatureConfig.from_dict(d) == cfg
    assert FeatureConfig.from_dict(cfg.params()) == dataclasses.replace(FeatureConfig(), **cfg.params())
    with pytest.raises(ValueError, match="does not match"):
        FeatureConfig.from_dict({**d, "num_channels": 40})
    with pytest.raises(ValueError, match="unknown feature config keys: bogus"):
        FeatureConfig.from_dict({**d, "bogus": 1})
    with pytest.raises(TypeError):
        FeatureConfig.from_dict([1, 2])


@pytest.mark.parametrize("kwargs, match", [
    ({"num_channels": 0}, "num_channels"),
    ({"window_step": 0}, "window_step"),
    ({"upper_band_limit": 9000}, "upper_band_limit"),
    ({"lower_band_limit": 8000.0, "upper_band_limit": 7000.0}, "lower_band_limit"),
    ({"even_smoothing": 1.5}, "even_smoothing"),
    ({"clip_ms": 10}, "clip_ms"),
    ({"window_size": 30.5}, "integer"),
])
def test_invalid_configs_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureConfig(**kwargs)


def test_wrong_types_are_rejected():
    with pytest.raises(TypeError, match="enable_pcan"):
        FeatureConfig(enable_pcan=1)
    with pytest.raises(TypeError, match="num_channels"):
        FeatureConfig(num_channels="40")


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        canonical_json({"x": float("nan")})


@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(num_channels=32, window_size=25, window_step=10),
                                 FeatureConfig(enable_pcan=False, scale_shift=5)])
def test_compute_features_equals_the_tf_op(testdata, cfg):
    clips = np.stack([_read(testdata / "tflite-micro" / f"{w}_1000ms.wav") for w in ("yes", "no", "noise")])
    feats = compute_features(clips, cfg)
    assert feats.dtype == np.uint16 and feats.shape == (3, cfg.n_frames, cfg.num_channels)
    for i in range(3):
        np.testing.assert_array_equal(feats[i], _tf_op(clips[i], cfg))
    assert feats.max() > 0


def test_native_frontend_equals_the_tf_op(testdata):
    if F._native_backend() is None:
        pytest.fail("the native frontend binding (mpyml.frontend.compute_features) is not built")
    rng = np.random.default_rng(3)
    clips = [_read(testdata / "tflite-micro" / f"{w}_1000ms.wav") for w in ("yes", "no", "noise", "silence")]
    clips += [(rng.standard_normal(16000) * s).astype(np.int16) for s in (10, 1000, 12000)]
    clips = np.stack(clips)
    for cfg in (FeatureConfig(), FeatureConfig(num_channels=32, window_step=10), FeatureConfig(enable_log=False)):
        np.testing.assert_array_equal(compute_features(clips, cfg, backend="native"),
                                      compute_features(clips, cfg, backend="tf"))


def test_features_drive_the_micro_speech_model(testdata):
    """Features * float_scale, quantized with the model's input parameters,
    make TFLM's micro_speech model recognise its own test recordings: the
    float_scale convention is the one the reference model was trained with."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(str(testdata / "tflite-micro" / "micro_speech_quantized.tflite"))
    q = it.get_input_details(0)["quantization_parameters"]
    scale, zp = float(q["scales"][0]), int(q["zero_points"][0])
    labels = ["silence", "unknown", "yes", "no"]
    for word in ("yes", "no"):
        feats = compute_features(_read(testdata / "tflite-micro" / f"{word}_1000ms.wav"))
        x = np.clip(np.rint(to_float(feats) / scale) + zp, -128, 127).astype(np.int8).reshape(1, 1960)
        it.set_input(x, 0)
        it.invoke()
        assert labels[int(np.argmax(it.get_output(0)))] == word


def test_to_float():
    f = np.array([[[0, 256, 1000]]], np.uint16)
    x = to_float(f)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, f * (10 / 256))
    np.testing.assert_allclose(to_float(f, FeatureConfig(float_scale=0.5)), f * 0.5)


def test_bad_clips_are_rejected():
    with pytest.raises(TypeError, match="int16"):
        compute_features(np.zeros((1, 16000), np.float32))
    with pytest.raises(ValueError, match="wants 16000"):
        compute_features(np.zeros((1, 8000), np.int16))
    with pytest.raises(ValueError, match="backend"):
        compute_features(np.zeros((1, 16000), np.int16), backend="gpu")
