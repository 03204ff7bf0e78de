"""tinyml.AudioFrontend on the Unix-port firmware against TensorFlow's op on
the real recordings, and micro_speech end to end on the firmware
(frontend + int8 mapping + tinyml.Interpreter) against the host path
(TF op features -> tflite-micro)."""

from __future__ import annotations

import json
import subprocess
import wave

import numpy as np
import pytest

from mpyml.frontend import to_int8

WAVS = ("yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav", "silence_1000ms.wav")
LABELS = ["silence", "unknown", "yes", "no"]
CONFIGS = {
    "micro_speech": dict(window_size=30, window_step=20, num_channels=40),
    "op_defaults": {},
    "no_pcan_no_log": dict(window_size=30, window_step=20, num_channels=40, enable_pcan=False, enable_log=False),
}

SCRIPT = """
import array, json, tinyml
from binascii import hexlify
cfgs = json.loads(%r)
names = %r
folder = %r
model = open(%r, 'rb').read()
interp = tinyml.Interpreter(model)
inp = interp.input(0)
res = {}
for key, cfg in cfgs.items():
    fe = tinyml.AudioFrontend(**cfg)
    for name in names:
        pcm = open(folder + '/' + name + '.pcm', 'rb').read()
        n = (len(pcm) // 2 - fe.window_samples) // fe.step_samples + 1
        win = array.array('H', [0] * (n * fe.num_channels))
        fe.reset()
        got = fe.process(pcm, win)
        res[key + '/' + name] = [got, hexlify(bytes(win)).decode()]
fe = tinyml.AudioFrontend(input_scale=inp.scale, zero_point=inp.zero_point, **cfgs['micro_speech'])
for name in names:
    pcm = open(folder + '/' + name + '.pcm', 'rb').read()
    win = bytearray(49 * 40)
    fe.reset()
    fe.process(pcm, win)
    inp[:] = win
    interp.invoke()
    res['scores/' + name] = [v - 256 if v > 127 else v for v in bytes(interp.output(0))]
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def firmware_results(firmware, testdata, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pcm")
    audio = {}
    for name in WAVS:
        with wave.open(str(testdata / "tflite-micro" / name)) as w:
            audio[name] = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        (folder / (name + ".pcm")).write_bytes(audio[name].tobytes())
    model = testdata / "tflite-micro" / "micro_speech_quantized.tflite"
    code = SCRIPT % (json.dumps(CONFIGS), list(WAVS), str(folder), str(model))
    r = subprocess.run([str(firmware), "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return audio, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tf_op():
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as fe

    def run(audio: np.ndarray, **kw) -> np.ndarray:
        return fe.audio_microfrontend(tf.constant(audio), out_type=tf.uint16, **kw).numpy()

    return run


@pytest.mark.parametrize("key", CONFIGS)
def test_firmware_features_equal_op(firmware_results, tf_op, key):
    audio, res = firmware_results
    for name in WAVS:
        ref = tf_op(audio[name], **CONFIGS[key])
        got, hexdata = res[f"{key}/{name}"]
        feats = np.frombuffer(bytes.fromhex(hexdata), np.uint16).reshape(-1, ref.shape[1])
        assert got == ref.shape[0]
        assert np.array_equal(feats, ref), f"{key}/{name}: {int((feats != ref).sum())} values differ"


def test_firmware_micro_speech_scores_equal_host_path(firmware_results, tf_op, testdata):
    from tflite_micro.python.tflite_micro import runtime
    audio, res = firmware_results
    interp = runtime.Interpreter.from_bytes((testdata / "tflite-micro" / "micro_speech_quantized.tflite").read_bytes())
    q = interp.get_input_details(0)["quantization_parameters"]
    scale, zp = float(q["scales"][0]), int(q["zero_points"][0])
    for name in WAVS:
        x = to_int8(tf_op(audio[name], **CONFIGS["micro_speech"]), scale, zp).reshape(1, 1960)
        interp.set_input(x, 0)
        interp.invoke()
        host = interp.get_output(0).ravel().tolist()
        device = res["scores/" + name]
        assert device == host, name
        top = LABELS[int(np.argmax(device))]
        expect = {"yes_1000ms.wav": {"yes"}, "no_1000ms.wav": {"no"}}.get(name, {"silence", "unknown"})
        assert top in expect, f"{name}: {top} {device}"


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_qemu_cortex_m_features_equal_op(board, testdata, tf_op):
    """The same C code on Cortex-M0+ (no FPU, integer-only init) and
    Cortex-M4F gives the op's features, byte for byte."""
    from mpyml.bench_frontend import qemu_frontend_run
    from mpyml.firmware import firmware_path

    if not firmware_path(board).is_file():
        pytest.fail(f"{board} firmware not built: run `make firmware-qemu`")
    run = qemu_frontend_run(board, testdata)
    for name, feats in run.features.items():
        with wave.open(str(testdata / "tflite-micro" / name)) as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        assert np.array_equal(feats, tf_op(audio, **CONFIGS["micro_speech"])), f"{board}/{name}"
    # The state layout does not depend on the word size of the target.
    from mpyml.frontend import AudioFrontend

    assert run.state_size == AudioFrontend(**CONFIGS["micro_speech"]).state_size
    assert run.instructions_per_hop > 10000
