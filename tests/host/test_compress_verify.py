"""`mpyml compress verify` (float vs int8 diagnosis) and the compression report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _compressutil import cli, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp() / "compress")


def test_verifier_measures_agreement_saturation_and_sensitivity(run):
    r = cli("compress", "verify", run.path, "--samples", "40")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "verify.json").read_text())
    assert res["test_examples"] == 40 and res["bit_exact"] is True
    assert 0.9 <= res["top1_agreement"] <= res["top3_agreement"] <= 1.0
    assert 0.5 < res["spearman_mean"] <= 1.0 and res["spearman_min"] <= res["spearman_mean"]
    assert 0.0 <= res["logit_diff_mean"] <= res["logit_diff_max"]

    from mpyml.tflite_model import read_model

    g = read_model(run.artifact("model_int8.tflite").read_bytes())
    produced = {t for op in g.operators for t in op.outputs if g.tensors[t].dtype == "int8"}
    assert {s["tensor"] for s in res["saturation"]} == {g.tensors[t].name for t in produced}
    for s in res["saturation"]:
        assert 0.0 <= s["saturation"] <= 1.0 and 0.0 <= s["at_127"] <= 1.0
        if s["relu_floor"]:
            assert s["saturation"] == s["at_127"]
    weight_layers = [l.name for l in __import__("mpyml.quantize", fromlist=["x"]).load_run_model(run).layers
                     if type(l).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense")]
    assert sorted(x["layer"] for x in res["sensitivity"]) == sorted(weight_layers)
    drops = [x["accuracy_drop"] for x in res["sensitivity"]]
    assert drops == sorted(drops, reverse=True)


def test_one_layer_quantization_is_harmless_at_8_bits_and_harmful_at_2(run):
    from mpyml.compress.verify import layer_sensitivity
    from mpyml.quantize import load_run_model

    m = load_run_model(run)
    d = np.load(run.config()["data"])
    x, y = d["x_testing"].astype(np.float32), d["y_testing"]
    calib = d["x_training"][:60].astype(np.float32)
    eight = layer_sensitivity(m, x, y, calib, bits=8)
    two = layer_sensitivity(m, x, y, calib, bits=2)
    assert max(r["kl_divergence"] for r in eight) < max(r["kl_divergence"] for r in two)
    assert min(r["top1_agreement"] for r in eight) >= 0.95


def test_saturation_counts_values_at_the_int8_limits(run):
    from mpyml.compress.common import quantize_inputs
    from mpyml.compress.verify import tensor_dumps

    tfl = run.artifact("model_int8.tflite").read_bytes()
    x = np.load(run.config()["data"])["x_testing"][:10].astype(np.float32)
    normal, logits = tensor_dumps(tfl, quantize_inputs(tfl, x))
    loud, _ = tensor_dumps(tfl, quantize_inputs(tfl, x * 50.0))  # far outside the calibrated ranges
    assert logits.shape == (10, 3)
    first = min(normal, key=lambda t: normal[t]["op_index"])
    assert loud[first]["saturation"] > normal[first]["saturation"]


def test_report_has_every_section(run):
    r = cli("report", "--compression", run.path)
    assert r.returncode == 0, r.stderr[-2000:]
    md = (run.path / "compression" / "compression.md").read_text()
    page = (run.path / "compression" / "compression.html").read_text()
    for title in ("Quantization-aware training", "Low-bit sweep", "Unstructured pruning", "Structured pruning",
                  "Knowledge distillation", "Compression gate", "Float vs quantized verifier"):
        assert f"## {title}" in md and f"<h2>{title}" in page
    # The verifier ran above: its table is there; every referenced plot exists.
    res = json.loads((run.path / "compression" / "verify.json").read_text())
    assert f"| top-1 agreement | {100 * res['top1_agreement']:.2f}% |" in md
    for line in md.splitlines():
        if line.startswith("!["):
            assert (run.path / "compression" / line.split("(")[1].rstrip(")")).is_file()
    stages = {"qat": "qat", "bits": "bits", "prune": "prune", "structured": "structured", "distill": "distill"}
    for stage, cmd in stages.items():
        ran = (run.path / "compression" / f"{stage}.json").is_file()
        assert (f"`mpyml compress {cmd} RUN`" in md) == (not ran)
