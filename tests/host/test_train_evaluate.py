"""Evaluation metrics, threshold sweep and the TFLM / mpyml runtime comparison."""

from __future__ import annotations

import numpy as np
import pytest

from mpyml.errors import MpymlError
from mpyml.evaluate import classification_metrics, confusion_matrix, pick_threshold, threshold_sweep
from mpyml.interpreters import RuntimeMismatchError, TflmRunner, compare_exact, mpyml_runtime_available


def test_metrics_on_a_hand_checked_case():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P 1/2 R 1/2 F1 1/2; b: P 2/3 R 1 F1 0.8; c: P 1 R 1/2 F1 2/3
    per = {r["label"]: r for r in m["per_class"]}
    assert per["a"]["precision"] == pytest.approx(0.5) and per["a"]["f1"] == pytest.approx(0.5)
    assert per["b"]["precision"] == pytest.approx(2 / 3) and per["b"]["recall"] == pytest.approx(1.0)
    assert per["b"]["f1"] == pytest.approx(0.8)
    assert per["c"]["recall"] == pytest.approx(0.5) and per["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert [r["support"] for r in m["per_class"]] == [2, 2, 2]


def test_macro_f1_ignores_classes_absent_from_labels_and_predictions():
    m = classification_metrics(np.array([0, 1]), np.array([0, 1]), ["a", "b", "never"])
    assert m["macro_f1"] == pytest.approx(1.0)


def test_metrics_reject_bad_input():
    with pytest.raises(MpymlError):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(MpymlError):
        classification_metrics(np.array([], dtype=int), np.array([], dtype=int), ["a"])


def test_threshold_sweep_hand_checked():
    labels = ["_silence_", "_unknown_", "yes", "no"]
    scores = np.array([
        [0.0, 0.0, 0.9, 0.1],  # yes, correct, 0.9
        [0.0, 0.0, 0.4, 0.6],  # yes, says no at 0.6 -> false accept for t <= 0.6
        [0.1, 0.0, 0.0, 0.9],  # no, correct, 0.9
        [0.2, 0.0, 0.7, 0.1],  # silence, says yes at 0.7 -> false accept for t <= 0.7
        [0.0, 0.8, 0.1, 0.1],  # unknown, correct, never fires
    ])
    y = np.array([2, 2, 3, 0, 1])
    sweep = {round(r["threshold"], 2): r for r in threshold_sweep(scores, y, labels, [0.5, 0.65, 0.8, 0.95])}
    assert sweep[0.5]["recall"] == pytest.approx(2 / 3) and sweep[0.5]["false_accepts"] == 2
    assert sweep[0.65]["false_accepts"] == 1 and sweep[0.8]["false_accepts"] == 0
    assert sweep[0.8]["recall"] == pytest.approx(2 / 3)
    assert sweep[0.95]["recall"] == 0.0
    chosen = pick_threshold(list(sweep.values()), max_false_accept_rate=0.0)
    assert chosen["threshold"] == pytest.approx(0.8) and chosen["met"]


def test_threshold_sweep_is_monotonic():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(400, 6)) * 3
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 6, 400)
    sweep = threshold_sweep(scores, y, ["_silence_", "_unknown_", "a", "b", "c", "d"])
    recall = [r["recall"] for r in sweep]
    far = [r["false_accept_rate"] for r in sweep]
    assert all(a >= b for a, b in zip(recall, recall[1:]))
    assert all(a >= b for a, b in zip(far, far[1:]))
    assert far[0] > far[-1]
    chosen = pick_threshold(sweep, 0.05, min_threshold=0.0)
    assert chosen["met"] and chosen["false_accept_rate"] <= 0.05
    lower = [r for r in sweep if r["threshold"] < chosen["threshold"]]
    assert lower and all(r["false_accept_rate"] > 0.05 for r in lower)
    # The floor: an easy target still leaves the threshold at 0.5.
    assert pick_threshold(sweep, 1.0)["threshold"] == pytest.approx(0.5)


def test_compare_exact_fails_loudly_on_one_byte():
    a = np.zeros((5, 4), np.int8)
    b = a.copy()
    compare_exact(a, b)
    b[3, 2] = 1
    with pytest.raises(RuntimeMismatchError, match="differ on 1 of 5"):
        compare_exact(a, b)


def test_tflm_runner_matches_the_shipped_model(testdata):
    model = (testdata / "tflite-micro" / "hello_world_int8.tflite").read_bytes()
    r = TflmRunner(model)
    xs = np.arange(-128, 128, 16, dtype=np.int8).reshape(-1, 1, 1)
    out = r.run(xs, progress=False)
    assert out.shape == (16, 1)
    assert len(set(out.ravel().tolist())) > 4  # a sine: many distinct outputs


def test_mpyml_runtime_equals_tflm_when_available(testdata):
    if not mpyml_runtime_available():
        pytest.xfail("mpyml.runtime (the runtime's host binding) is not built in this tree")
    from mpyml.interpreters import MpymlRunner

    model = (testdata / "tflite-micro" / "micro_speech_quantized.tflite").read_bytes()
    xs = np.random.default_rng(0).integers(-128, 128, size=(20, 1, 1960), dtype=np.int8)
    compare_exact(TflmRunner(model).run(xs, progress=False), MpymlRunner(model).run(xs, progress=False))
