"""`mpyml compress distill`: teacher soft targets vs hard labels, same student."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _compressutil import cli, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp() / "compress")


def test_kd_loss_terms():
    from keras import ops

    from mpyml.compress.distill import _kd_loss, _softmax

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    hard = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    t = 3.0
    # Soft targets equal to the student's own tempered softmax: the KL term vanishes.
    soft = _softmax(logits / t).astype(np.float32)
    y = np.concatenate([hard, soft], axis=1)
    ce = -np.log(_softmax(logits)[np.arange(4), [0, 1, 2, 0]])
    full = ops.convert_to_numpy(_kd_loss(3, t, 0.4)(y, logits))
    np.testing.assert_allclose(full, 0.4 * ce, rtol=1e-4, atol=1e-5)
    # Different soft targets add a positive KL term scaled by T^2.
    other = np.concatenate([hard, np.full((4, 3), 1 / 3, np.float32)], axis=1)
    assert np.all(ops.convert_to_numpy(_kd_loss(3, t, 0.4)(other, logits)) > full - 1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(_kd_loss(3, t, 1.0)(other, logits)), ce, rtol=1e-4, atol=1e-5)


def test_distill_cli_trains_both_students_and_reports_the_delta(run):
    r = cli("compress", "distill", run.path, "--student", "tiny_conv", "--student-param", "filters=4",
            "--epochs", "2", "--temperature", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "distill.json").read_text())
    assert res["temperature"] == 3.0 and res["student"]["model"] == "tiny_conv"
    assert res["student"]["params_override"] == {"filters": 4}
    h, d = res["hard_labels"], res["distilled"]
    assert h["params"] == d["params"] < res["teacher"]["params"]
    assert len(h["val_per_epoch"]) == len(d["val_per_epoch"]) == 2
    assert res["delta_int8"] == pytest.approx(d["int8"] - h["int8"])
    assert res["delta_float"] == pytest.approx(d["float"] - h["float"])
    for name in ("student_hard_labels_int8.tflite", "student_distilled_int8.tflite"):
        assert (run.path / "compression" / name).is_file()
    assert "distillation delta" in r.stdout


def test_distill_rejects_bad_temperature(run):
    r = cli("compress", "distill", run.path, "--temperature", "0")
    assert r.returncode == 1 and "error:" in r.stderr and "temperature" in r.stderr
