"""`mpyml compress gate BASE CANDIDATE`: accepts good candidates, rejects bad ones with the right reasons."""

from __future__ import annotations

import numpy as np
import pytest

from _compressutil import cli, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp() / "compress")


def _train_x(run):
    return np.load(run.config()["data"])["x_training"].astype(np.float32)


def _to_int8_unchecked(model, rep) -> bytes:
    """Full-int8 conversion without the runtime's op check (to build a candidate with unsupported ops)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[None]] for s in rep[:40])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return bytes(conv.convert())


def test_identical_candidate_passes_with_full_agreement(run):
    from mpyml.compress.gate import run_gate

    res = run_gate(run.path, run.artifact("model_int8.tflite"))
    assert res.passed, res.format()
    assert res.figures["golden_agreement"] == 1.0
    assert res.figures["accuracy_drop"] == 0.0
    assert {c.name for c in res.checks} == {"ops", "runtime", "accuracy", "false-accepts", "arena", "golden-set"}


def test_requantized_candidate_passes_cli_exit_0(run, tmp_path):
    from mpyml.quantize import load_run_model, quantize_int8

    # A different int8 model of the same network (calibrated on fewer samples): still acceptable.
    q = quantize_int8(load_run_model(run), _train_x(run), max_samples=25, seed=9)
    assert q.tflite != run.artifact("model_int8.tflite").read_bytes()
    cand = tmp_path / "requantized.tflite"
    cand.write_bytes(q.tflite)
    r = cli("compress", "gate", run.path, cand)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ACCEPTED" in r.stdout and "FAIL" not in r.stdout


def test_broken_candidate_fails_for_accuracy_and_agreement(run, tmp_path):
    import keras

    from mpyml.quantize import load_run_model, quantize_int8

    m = load_run_model(run)
    bad = keras.models.clone_model(m)  # same network, fresh random weights
    keras.utils.set_random_seed(11)
    bad.set_weights([np.random.default_rng(11).normal(0, 0.5, w.shape).astype(np.float32) for w in m.get_weights()])
    for layer in bad.layers:  # keep BatchNorm variances positive
        if type(layer).__name__ == "BatchNormalization":
            g, b, mu, var = layer.get_weights()
            layer.set_weights([g, b, mu, np.abs(var) + 0.1])
    cand = tmp_path / "random.tflite"
    cand.write_bytes(quantize_int8(bad, _train_x(run), max_samples=40).tflite)
    r = cli("compress", "gate", run.path, cand)
    assert r.returncode == 1, r.stdout + r.stderr
    failed = {line.split()[1] for line in r.stdout.splitlines() if line.strip().startswith("FAIL")}
    assert {"accuracy", "golden-set"} <= failed
    assert "ops" not in failed and "arena" not in failed and "runtime" not in failed
    assert "REJECTED" in r.stdout


def test_unsupported_ops_and_bigger_arena_are_named(run, tmp_path):
    import keras

    from mpyml.compress.gate import run_gate

    x = _train_x(run)
    inp = keras.Input(batch_shape=(1, *x.shape[1:]))
    h = keras.layers.Conv2D(96, (3, 3), padding="same")(inp)
    h = keras.layers.LeakyReLU(negative_slope=0.1)(h)
    h = keras.layers.Reshape((int(np.prod(h.shape[1:])),))(h)
    out = keras.layers.Softmax()(keras.layers.Dense(3)(h))
    cand = tmp_path / "leaky.tflite"
    cand.write_bytes(_to_int8_unchecked(keras.Model(inp, out), x))
    res = run_gate(run.path, cand)
    assert not res.passed
    failed = {c.name: c.detail for c in res.failures}
    assert "LEAKY_RELU" in failed["ops"]
    assert "arena" in failed and "runtime" in failed
    assert res.figures["candidate_arena"] > res.figures["base_arena"]


def test_gate_without_data_is_a_clear_error(run, tmp_path):
    a = tmp_path / "a.tflite"
    a.write_bytes(run.artifact("model_int8.tflite").read_bytes())
    r = cli("compress", "gate", a, a)
    assert r.returncode == 1 and "error:" in r.stderr and "--run" in r.stderr
