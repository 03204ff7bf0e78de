"""The C audio frontend (mpyml._native.AudioFrontend) against TensorFlow's
audio_microfrontend op: byte equality on real recordings and generated
signals over several parameter sets, streaming in chunks, the init-time float
emulation, the int8 mapping, bad input, and micro_speech end to end."""

from __future__ import annotations

import array
import ctypes
import os
import struct
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from frontend_signals import make_signals
from mpyml import _native
from mpyml.frontend import (AudioFrontend, compute_features, int8_table, microfrontend, stack_frames,
                            to_int8)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WAVS = ("yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav", "silence_1000ms.wav")
MICRO_SPEECH = dict(window_size=30, window_step=20, num_channels=40)

# Parameter sets: micro_speech's, the op's defaults, and sets that isolate
# stages (no PCAN/log: filterbank + noise reduction; no log: PCAN) or move
# every other parameter (rates, FFT sizes, band limits, smoothing, gains).
PARAM_SETS = {
    "micro_speech": MICRO_SPEECH,
    "op_defaults": {},
    "filterbank_nr": dict(MICRO_SPEECH, enable_pcan=False, enable_log=False),
    "nr_extremes": dict(enable_pcan=False, enable_log=False, smoothing_bits=5, even_smoothing=0.5,
                        odd_smoothing=0.001, min_signal_remaining=0.3),
    "pcan_no_log": dict(MICRO_SPEECH, enable_log=False, pcan_strength=1.3, pcan_offset=1.0),
    "rate_8k": dict(sample_rate=8000, window_size=32, window_step=16, num_channels=20, upper_band_limit=3800.0,
                    lower_band_limit=60.0, pcan_strength=0.5, pcan_offset=10.0, gain_bits=18, scale_shift=4),
    "rate_48k_fft2048": dict(sample_rate=48000, window_size=25, window_step=10, num_channels=64,
                             upper_band_limit=20000.0, lower_band_limit=20.0, smoothing_bits=12, gain_bits=24,
                             scale_shift=8),
    "wide_80ch": dict(window_size=64, window_step=32, num_channels=80, lower_band_limit=0.0,
                      upper_band_limit=7900.0, enable_pcan=False, scale_shift=3),
}


@pytest.fixture(scope="module")
def tf_op():
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as fe

    def run(audio: np.ndarray, **kw) -> np.ndarray:
        return fe.audio_microfrontend(tf.constant(audio), out_type=tf.uint16, **kw).numpy()

    return run


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


@pytest.fixture(scope="module")
def recordings(testdata) -> dict[str, np.ndarray]:
    return {name: read_wav(testdata / "tflite-micro" / name) for name in WAVS}


@pytest.fixture(scope="module")
def signals() -> list[tuple[str, np.ndarray]]:
    return make_signals(210)


def f32_bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


# -- equality with the op -------------------------------------------------------

@pytest.mark.parametrize("params", PARAM_SETS.values(), ids=PARAM_SETS.keys())
def test_real_recordings_match_op(recordings, tf_op, params):
    for name, audio in recordings.items():
        ours = compute_features(audio, **params)[0]
        ref = tf_op(audio, **params)
        assert ours.shape == ref.shape and ours.shape[0] > 0, name
        assert np.array_equal(ours, ref), f"{name}: {int((ours != ref).sum())} values differ"


@pytest.mark.parametrize("params", PARAM_SETS.values(), ids=PARAM_SETS.keys())
def test_generated_signals_match_op(signals, tf_op, params):
    assert len(signals) >= 200
    differ = []
    frames = 0
    for name, audio in signals:
        ours = compute_features(audio, **params)[0]
        ref = tf_op(audio, **params)
        frames += ref.shape[0]
        if ours.shape != ref.shape or not np.array_equal(ours, ref):
            differ.append(name)
    assert not differ, f"{len(differ)} signals differ from the op: {differ[:10]}"
    assert frames > 1000


def test_op_stacking_options_match(recordings, tf_op):
    audio = recordings["yes_1000ms.wav"]
    for opts in (dict(left_context=2, right_context=1), dict(frame_stride=3), dict(out_scale=7),
                 dict(left_context=1, right_context=3, frame_stride=2, zero_padding=True)):
        kw = dict(MICRO_SPEECH, **opts)
        assert np.array_equal(microfrontend(audio, **kw), tf_op(audio, **kw)), opts


def test_short_clip_gives_no_frames(tf_op):
    audio = np.arange(479, dtype=np.int16)
    assert compute_features(audio, **MICRO_SPEECH).shape == (1, 0, 40)
    assert tf_op(audio, **MICRO_SPEECH).shape == (0, 40)


# -- streaming ------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1, 7, 160, 320, 16000])
def test_chunked_streaming_equals_one_shot(recordings, signals, chunk):
    clips = [recordings["yes_1000ms.wav"], recordings["noise_1000ms.wav"]] + [s for _, s in signals[:12]]
    for params in (MICRO_SPEECH, PARAM_SETS["rate_8k"]):
        fe = AudioFrontend(**params)
        for audio in clips:
            whole = compute_features(audio, **params)[0]
            if whole.shape[0] == 0:
                continue
            fe.reset()
            window = np.zeros((whole.shape[0], fe.num_channels), np.uint16)
            total = 0
            for start in range(0, len(audio), chunk):
                total += fe.process(audio[start:start + chunk], window)
            assert total == whole.shape[0]
            assert np.array_equal(window, whole)


def test_rolling_window_keeps_latest_frames(recordings):
    audio = recordings["no_1000ms.wav"]
    whole = compute_features(audio, **MICRO_SPEECH)[0]
    fe = AudioFrontend(**MICRO_SPEECH)
    window = np.zeros((10, 40), np.uint16)
    assert fe.process(audio, window) == 49
    assert np.array_equal(window, whole[-10:])
    # Frames also land in 1-D buffers and int8 windows (via the mapping).
    fe.reset()
    flat = array.array("H", [0] * 40 * 3)
    assert fe.process(audio.tobytes(), flat) == 49
    assert list(flat) == whole[-3:].ravel().tolist()
    fe.reset()
    fe.set_input_quantization(0.1, -128)
    win8 = bytearray(40 * 49)
    assert fe.process(audio, win8) == 49
    assert np.array_equal(np.frombuffer(win8, np.int8).reshape(49, 40), to_int8(whole, 0.1, -128))


def test_reset_restarts(recordings):
    audio = recordings["yes_1000ms.wav"]
    fe = AudioFrontend(**MICRO_SPEECH)
    a = np.zeros((49, 40), np.uint16)
    b = np.zeros((49, 40), np.uint16)
    fe.process(audio, a)
    fe.process(audio[:1234], b)
    fe.reset()
    fe.process(audio, b)
    assert np.array_equal(a, b)


def test_sizes_and_config():
    fe = AudioFrontend(**MICRO_SPEECH)
    assert (fe.window_samples, fe.step_samples, fe.fft_size, fe.num_channels, fe.sample_rate) == (480, 320, 512,
                                                                                                  40, 16000)
    assert 4096 < fe.state_size < 16384
    cfg = fe.config()
    assert cfg["window_size"] == 30 and cfg["enable_pcan"] is True
    assert abs(cfg["pcan_strength"] - 0.95) < 1e-6
    big = AudioFrontend(sample_rate=48000, window_size=80, window_step=10)
    assert big.fft_size == 4096 and big.state_size > fe.state_size


# -- init-time float emulation ----------------------------------------------------

def test_window_coefficients_match_float_formula():
    # Every window length up to 1024 samples and a spread above, up to 4096:
    # (float)(0.5 - 0.5 * cos(float(2 pi / N) * (i + 0.5))), rounded to Q12.
    sizes = list(range(4, 1025)) + list(range(1025, 4097, 37)) + [4096]
    for n in sizes:
        ms, sr = (1, n * 1000) if n < 25 else (25, 40 * n)
        fe = AudioFrontend(sample_rate=sr, window_size=ms, window_step=ms, num_channels=4,
                           lower_band_limit=10.0, upper_band_limit=sr * 0.4)
        assert fe.window_samples == n
        coef = np.frombuffer(fe._tables()[0], np.int16)
        arg = np.float32(2 * np.pi / n)
        value = (0.5 - 0.5 * np.cos(np.float64(arg) * (np.arange(n) + 0.5))).astype(np.float32)
        expect = np.floor(value.astype(np.float64) * 4096 + 0.5).astype(np.int16)
        assert np.array_equal(coef, expect), f"window length {n}"


def test_mel_scale_matches_float_formula():
    rng = np.random.RandomState(0)
    freqs = np.concatenate([rng.uniform(0, 24000, 5000), rng.uniform(0, 50, 500), np.arange(0, 8001, 1.0),
                            np.arange(1, 2049) * 31.25]).astype(np.float32)
    bad = [float(f) for f in freqs
           if _native._fe_mel_bits(f32_bits(float(f)))
           != f32_bits(float(np.float32(1127.0 * np.log1p(np.float64(f) / 700.0))))]
    assert not bad, bad[:5]


def test_pcan_gain_curve_matches_powf():
    libm = ctypes.CDLL("libm.so.6")
    libm.powf.restype = ctypes.c_float
    libm.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    rng = np.random.RandomState(1)
    xs = list(range(300)) + [int(v) for v in rng.randint(0, 2**32 - 1, 1500, dtype=np.int64)]
    xs += [min(2**k + d, 2**32 - 1) for k in range(1, 33) for d in (-1, 0, 1, 2**(k - 1))]
    bad = []
    for strength, offset, gain_bits, input_bits in ((0.95, 80.0, 21, 7), (0.5, 10.0, 18, 8), (1.3, 1.0, 21, 7),
                                                    (0.2, 0.5, 12, 3)):
        s32, o32 = np.float32(strength), np.float32(offset)
        for x in xs:
            a = np.float32(np.float32(x) / np.float32(2**input_bits) + o32)
            gain = np.float32(np.float32(2**gain_bits) * np.float32(libm.powf(float(a), float(-s32))))
            expect = 32767 if gain > 32767 else int(np.float32(gain + np.float32(0.5)))
            got = _native._fe_pcan_gain(f32_bits(strength), f32_bits(offset), gain_bits, input_bits, x)
            if got != expect:
                bad.append((strength, offset, x, got, expect))
    assert not bad, bad[:5]


# -- int8 mapping -----------------------------------------------------------------

@pytest.mark.parametrize("scale,zero_point,float_scale",
                         [(0.10171568393707275, -128, 10 / 256), (0.05, 3, 10 / 256), (1.7, -5, 0.5),
                          (0.0123, 100, 10 / 256)])
def test_int8_mapping_is_exact_rounding(scale, zero_point, float_scale):
    table = int8_table(scale, zero_point, float_scale)
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]  # noqa: E731
    ratio = Fraction(f32(float_scale)) / Fraction(f32(scale))
    expect = np.array([max(-128, min(127, (v * ratio + Fraction(1, 2)).__floor__() + zero_point))
                       for v in range(65536)], np.int8)
    assert np.array_equal(table, expect)


def test_int8_mapping_rejects_bad_quantization():
    fe = AudioFrontend(**MICRO_SPEECH)
    with pytest.raises(ValueError, match="zero_point"):
        fe.set_input_quantization(0.1, 200)
    with pytest.raises(ValueError, match="positive"):
        fe.set_input_quantization(-0.1, 0)
    with pytest.raises(ValueError, match="mapping"):
        fe.map_int8(3)


# -- bad input --------------------------------------------------------------------

@pytest.mark.parametrize("kw,match", [
    (dict(sample_rate=500), "sample_rate"),
    (dict(sample_rate=400000), "sample_rate"),
    (dict(window_size=300), "FFT size"),
    (dict(window_size=0), "window"),
    (dict(window_size=10, window_step=20), "window_step"),
    (dict(num_channels=0), "num_channels"),
    (dict(upper_band_limit=8000.0), "Nyquist"),
    (dict(lower_band_limit=8000.0, upper_band_limit=9000.0), "band limits|Nyquist"),
    (dict(lower_band_limit=500.0, upper_band_limit=400.0), "band limits"),
    (dict(even_smoothing=1.5), "smoothing"),
    (dict(smoothing_bits=40), "smoothing_bits"),
    (dict(gain_bits=40), "gain_bits"),
])
def test_unsupported_configs_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        AudioFrontend(**kw)


def test_bad_buffers_raise():
    fe = AudioFrontend(**MICRO_SPEECH)
    out = np.zeros((49, 40), np.uint16)
    with pytest.raises(ValueError, match="int16"):
        fe.process(np.zeros(100, np.float32), out)
    with pytest.raises(ValueError, match="int16"):
        fe.process(np.zeros(100, np.int32), out)
    with pytest.raises(ValueError, match="int16"):
        fe.process(array.array("f", [0.0] * 10), out)
    with pytest.raises(ValueError, match="odd length"):
        fe.process(b"\x00" * 101, out)
    samples = np.zeros(16000, np.int16)
    with pytest.raises(ValueError, match="num_channels"):
        fe.process(samples, np.zeros((49, 39), np.uint16))
    with pytest.raises(ValueError, match="num_channels"):
        fe.process(samples, np.zeros(41, np.uint16))
    with pytest.raises(ValueError, match="int8 or uint16"):
        fe.process(samples, np.zeros((49, 40), np.float32))
    with pytest.raises(ValueError, match="int8 mapping"):
        fe.process(samples, bytearray(49 * 40))
    with pytest.raises(ValueError, match="int16"):
        compute_features(np.zeros((2, 16000), np.float32), **MICRO_SPEECH)
    with pytest.raises(ValueError, match="unknown frontend parameter"):
        compute_features(samples, window_sise=30)
    with pytest.raises(ValueError):
        stack_frames(np.zeros((4, 2), np.uint16), frame_stride=0)


# -- micro_speech end to end --------------------------------------------------------

def test_micro_speech_end_to_end_host(recordings, tf_op, testdata):
    """Our features + int8 mapping + TFLM (tflite-micro) classify the real
    recordings; the scores equal the host path's (TF op features)."""
    from tflite_micro.python.tflite_micro import runtime
    model = (testdata / "tflite-micro" / "micro_speech_quantized.tflite").read_bytes()
    interp = runtime.Interpreter.from_bytes(model)
    details = interp.get_input_details(0)
    scale, zero_point = details["quantization_parameters"]["scales"][0], \
        int(details["quantization_parameters"]["zero_points"][0])
    labels = ["silence", "unknown", "yes", "no"]

    def scores(features: np.ndarray) -> np.ndarray:
        q = to_int8(features, float(scale), zero_point).reshape(details["shape"])
        interp.set_input(q, 0)
        interp.invoke()
        return interp.get_output(0).copy()

    for name, audio in recordings.items():
        ours = scores(compute_features(audio, **MICRO_SPEECH)[0])
        ref = scores(tf_op(audio, **MICRO_SPEECH))
        assert np.array_equal(ours, ref), name
        top = labels[int(np.argmax(ours))]
        expect = {"yes_1000ms.wav": {"yes"}, "no_1000ms.wav": {"no"}}.get(name, {"silence", "unknown"})
        assert top in expect, f"{name} classified as {top} (scores {ours.tolist()})"


# -- integer-only core and the benchmark command --------------------------------------

def test_core_is_integer_only_on_cortex_m0(root, tmp_path):
    """The frontend compiles warning-free for Cortex-M0+ and calls no float
    or libm routine (soft-float helpers would show up as __aeabi_f*/d*)."""
    import subprocess

    undefined = set()
    for src in sorted((root / "native_modules" / "frontend").glob("*.c")):
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-std=c99", "-Os", "-Wall",
                        "-Wextra", "-Werror", f"-I{root / 'native_modules' / 'core'}", "-c", str(src), "-o",
                        str(obj)], check=True)
        nm = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True, check=True)
        undefined |= {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    assert "memcpy" in undefined  # the listing is real
    floats = sorted(s for s in undefined if s.startswith(("__aeabi_f", "__aeabi_d", "__aeabi_i2f", "__aeabi_ui2"))
                    or s in ("cos", "sin", "log1p", "powf", "floor", "cosf", "logf", "expf"))
    assert not floats, floats


def test_bench_frontend_command(root):
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mpyml.cli", "bench", "frontend", "--no-tf", "--clips", "2",
                        "--repeats", "1", "--json"], capture_output=True, text=True, timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state_size"] == AudioFrontend(**MICRO_SPEECH).state_size
    assert out["ours_us_per_hop"] > 0 and out["hops_per_clip"] == 49
    for target in ("armv6m", "armv7em"):
        assert 2000 < out["code_size"][target]["text"] < 40000
        assert out["code_size"][target]["data"] == 0 and out["code_size"][target]["bss"] == 0
