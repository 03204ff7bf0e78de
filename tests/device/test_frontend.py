# tinyml.AudioFrontend on the device: streaming, the rolling feature window,
# the int8 mapping, no allocation per call, and errors. Byte equality with
# TensorFlow's op is checked from the host (tests/host/test_frontend_firmware.py).
import array
import gc
import math

import tinyml
from tinyml.testing import raises

MS = {"window_size": 30, "window_step": 20, "num_channels": 40}


def _signal(n, seed=7):
    # A tone sweep plus pseudo-random noise bursts, deterministic.
    out = array.array("h", [0] * n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        noise = ((x >> 16) & 0x3FFF) - 0x2000
        env = 1 if (i // 2000) % 2 else 0
        v = int(9000 * math.sin(2 * math.pi * (200 + i * 0.2) * i / 16000)) + env * noise
        out[i] = max(-32768, min(32767, v))
    return out


SIG = _signal(16000)


def _features(fe, samples, chunk, frames):
    fe.reset()
    win = array.array("H", [0] * (frames * fe.num_channels))
    total = 0
    mv = memoryview(samples)
    for start in range(0, len(samples), chunk):
        total += fe.process(mv[start:start + chunk], win)
    return total, win


def test_sizes_and_config():
    fe = tinyml.AudioFrontend(**MS)
    assert fe.window_samples == 480 and fe.step_samples == 320 and fe.fft_size == 512
    assert fe.num_channels == 40 and fe.sample_rate == 16000
    assert 4096 < fe.state_size < 16384
    cfg = fe.config()
    assert cfg["window_step"] == 20 and cfg["enable_log"] is True
    assert abs(cfg["even_smoothing"] - 0.025) < 1e-6


def test_chunked_streaming_equals_one_shot():
    fe = tinyml.AudioFrontend(**MS)
    n, whole = _features(fe, SIG, 16000, 49)
    assert n == 49
    assert max(whole) > 0
    for chunk in (1, 7, 160, 320):
        got, win = _features(fe, SIG, chunk, 49)
        assert got == 49, chunk
        assert win == whole, chunk


def test_rolling_window_keeps_latest_frames():
    fe = tinyml.AudioFrontend(**MS)
    _, whole = _features(fe, SIG, 16000, 49)
    fe.reset()
    small = array.array("H", [0] * (3 * 40))
    assert fe.process(SIG, small) == 49
    assert list(small) == list(whole[46 * 40:])


def test_bytes_input_and_unaligned_views():
    fe = tinyml.AudioFrontend(**MS)
    half = SIG[:6000]  # small enough for the heap of small boards
    frames = (6000 - 480) // 320 + 1
    _, whole = _features(fe, half, 6000, frames)
    raw = bytes(half)
    fe.reset()
    win = array.array("H", [0] * (frames * 40))
    assert fe.process(raw, win) == frames
    assert win == whole
    # Same samples starting at an odd address.
    shifted = bytearray(1) + raw
    del raw
    fe.reset()
    win2 = array.array("H", [0] * (frames * 40))
    assert fe.process(memoryview(shifted)[1:], win2) == frames
    assert win2 == whole


def test_int8_window_follows_mapping():
    scale, zp = 0.10171568393707275, -128
    fe = tinyml.AudioFrontend(input_scale=scale, zero_point=zp, **MS)
    _, whole = _features(fe, SIG, 16000, 49)
    fe.reset()
    win8 = bytearray(49 * 40)
    assert fe.process(SIG, win8) == 49
    as_int8 = [v - 256 if v > 127 else v for v in win8]
    assert as_int8 == [fe.map_int8(v) for v in whole]
    # The mapping is round(v * float_scale / scale) + zero_point, clamped.
    ratio = 0.0390625 / scale
    for v in (0, 1, 100, 333, 650, 1000, 5000, 65535):
        exact = v * ratio
        if abs(exact - math.floor(exact) - 0.5) > 1e-4:
            assert fe.map_int8(v) == max(-128, min(127, math.floor(exact + 0.5) + zp)), v
    fe.set_input_quantization(0.5, 3, 0.25)
    assert fe.map_int8(10) == 8  # 10 * 0.25 / 0.5 = 5, + 3


def test_process_does_not_allocate():
    fe = tinyml.AudioFrontend(input_scale=0.1, zero_point=-128, **MS)
    chunks = [memoryview(SIG)[i:i + 320] for i in range(0, 16000, 320)]
    win8 = bytearray(49 * 40)
    win16 = array.array("H", [0] * (49 * 40))
    fe.process(chunks[0], win8)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for c in chunks:
            fe.process(c, win8)
            fe.process(c, win16)
        fe.reset()
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after == before, "process() allocated %d bytes" % (after - before)


def test_bad_input_raises():
    fe = tinyml.AudioFrontend(**MS)
    win = array.array("H", [0] * (49 * 40))
    with raises(ValueError, "int16"):
        fe.process(array.array("f", [0.0] * 10), win)
    with raises(ValueError, "int16"):
        fe.process(array.array("i", [0] * 10), win)
    with raises(ValueError, "odd length"):
        fe.process(bytes(101), win)
    with raises(ValueError, "num_channels"):
        fe.process(SIG, array.array("H", [0] * 41))
    with raises(ValueError, "int8 buffer"):
        fe.process(SIG, array.array("f", [0.0] * 40))
    with raises(ValueError, "int8 mapping"):
        fe.process(SIG, bytearray(40))
    with raises(ValueError, "zero_point"):
        fe.set_input_quantization(0.1, 300)
    with raises(ValueError, "sample_rate"):
        tinyml.AudioFrontend(sample_rate=500)
    with raises(ValueError, "FFT size"):
        tinyml.AudioFrontend(window_size=300)
    with raises(ValueError, "Nyquist"):
        tinyml.AudioFrontend(upper_band_limit=8000.0)
    with raises(TypeError):
        tinyml.AudioFrontend(16000)
