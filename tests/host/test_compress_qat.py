"""`mpyml compress qat` and `bits` on a tiny run: QAT export bit-exact, per-epoch tracking, low-bit sweep."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from _compressutil import cli, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp() / "compress")


def test_qat_exports_int8_that_runs_bit_exactly_in_mpyml_and_tflm(run):
    r = cli("compress", "qat", run.path, "--epochs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "qat.json").read_text())
    # Epoch 0 (calibrated) and epoch 1, each with the three tracked accuracies.
    assert [e["epoch"] for e in res["per_epoch"]] == [0, 1]
    for e in res["per_epoch"]:
        for k in ("float", "fake_quant", "int8"):
            assert 0.0 <= e[k] <= 1.0
    assert res["bit_exact"] is True and res["bit_exact_inputs"] == res["test_examples"] > 0
    # Separable data: QAT must keep the model working.
    assert res["qat_int8"] >= 0.9
    assert (run.path / "compression" / "plots" / "qat_epochs.png").stat().st_size > 1000

    # Independently of the stage: the exported model is full int8 and both runtimes agree byte for byte.
    from mpyml.interpreters import MpymlRunner, TflmRunner, compare_exact
    from mpyml.tflite_model import read_model

    tfl = (run.path / "compression" / "qat_int8.tflite").read_bytes()
    g = read_model(tfl)
    assert g.input().dtype == "int8" and g.output().dtype == "int8"
    assert "FAKE_QUANT" not in g.op_names
    x = np.random.default_rng(5).integers(-128, 128, size=(64, *g.input().shape[1:]), dtype=np.int8)
    compare_exact(TflmRunner(tfl).run(x, progress=False), MpymlRunner(tfl, 65536).run(x, progress=False))
    # tfmot and Keras 2 stayed in the child process.
    assert "tensorflow_model_optimization" not in sys.modules


def test_low_bit_sweep_ptq_vs_qat_with_real_8_bit_check(run):
    r = cli("compress", "bits", run.path, "--bits", "3,8", "--epochs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "bits.json").read_text())
    rows = {x["bits"]: x for x in res["rows"]}
    assert sorted(rows) == [3, 8]
    # QAT starts from the PTQ state and keeps the better epoch on validation.
    for x in rows.values():
        assert 0 <= x["ptq"] <= 1 and 0 <= x["qat"] <= 1
    eight = rows[8]
    assert eight["bit_exact"] is True
    # The simulated 8-bit points match the real int8 exports.
    assert abs(eight["ptq"] - eight["ptq_int8"]) <= 0.05
    assert abs(eight["qat"] - eight["qat_int8"]) <= 0.05
    assert eight["ptq_sim_vs_int8_agreement"] >= 0.95
    assert eight["qat_sim_vs_int8_agreement"] >= 0.95
    assert "ptq_int8" not in rows[3]
    assert (run.path / "compression" / "plots" / "bits.png").stat().st_size > 1000


def test_bits_rejects_bad_widths(run):
    r = cli("compress", "bits", run.path, "--bits", "1,9")
    assert r.returncode != 0
    assert "error:" in r.stderr and "--bits" in r.stderr
