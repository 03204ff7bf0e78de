"""`mpyml compress prune` and `structured`: sparsity achieved, channels removed, MACs reduced."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _compressutil import cli, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp() / "compress")


@pytest.fixture(scope="module")
def model(run):
    from mpyml.quantize import load_run_model

    return load_run_model(run)


def test_global_masks_hit_the_target_sparsity_across_layers(model):
    from mpyml.compress.prune import apply_masks, global_masks, prunable_kernels, sparsity_of

    import keras

    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    masks = global_masks(m, 0.7)
    apply_masks(m, masks)
    zeros, total, _ = sparsity_of(m)
    assert abs(zeros / total - 0.7) <= 1.0 / total + 1e-9
    # Global, not per layer: layers end up with different sparsities, and the survivors are the largest weights.
    per_layer = [float(np.mean(l.get_weights()[0] == 0)) for l, _ in prunable_kernels(m)]
    assert max(per_layer) - min(per_layer) > 0.05
    kept = np.concatenate([np.abs(l.get_weights()[0][masks[l.name] == 1]) for l, _ in prunable_kernels(m)])
    dropped = np.concatenate([np.abs(l.get_weights()[0][masks[l.name] == 0]) for l, _ in prunable_kernels(model)])
    assert kept.min() >= dropped.max()


def test_prune_sweep_reports_sparsity_and_honest_sizes(run):
    r = cli("compress", "prune", run.path, "--sparsity", "0.5,0.9", "--epochs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "prune.json").read_text())
    rows = res["rows"]
    base = rows[0]
    assert base["sparsity"] == 0.0
    pruned = rows[1:]
    assert sorted((x["sparsity"], x["fine_tuned"]) for x in pruned) == [(0.5, False), (0.5, True), (0.9, False),
                                                                         (0.9, True)]
    for x in pruned:
        assert abs(x["achieved_sparsity"] - x["sparsity"]) < 0.01
        # The zeros survive int8 export (fine-tuning keeps the mask).
        assert x["int8_kernel_sparsity"] >= x["sparsity"] - 0.02
        assert x["nonzero_params"] < base["nonzero_params"]
        # Dense storage: the file does not shrink with the sparsity (the converter may only drop a kernel
        # that became all zeros), only its compressed copy does.
        assert x["tflite_bytes"] >= 0.9 * base["tflite_bytes"]
    high = [x for x in pruned if x["sparsity"] == 0.9]
    assert all(x["gzip_bytes"] < base["gzip_bytes"] for x in high)
    assert set(res["latency_ms"]) == {"dense", "sparsity 0.90"}
    assert (run.path / "compression" / "plots" / "prune.png").stat().st_size > 1000


def test_shrink_with_nothing_removed_is_the_same_function(model):
    from mpyml.compress.structured import shrink

    same, removed = shrink(model, 0.0)
    x = np.random.default_rng(2).normal(size=(8, *model.inputs[0].shape[1:])).astype(np.float32)
    np.testing.assert_allclose(same.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert all(a == b for a, b in removed.values())


def test_shrink_keeps_the_largest_channels(model):
    from mpyml.compress.structured import shrink

    small, removed = shrink(model, 0.5)
    assert removed["conv0_conv"] == (16, 8)
    k = model.get_layer("conv0_conv").get_weights()[0]
    norms = np.abs(k).reshape(-1, k.shape[-1]).sum(axis=0)
    keep = np.sort(np.argsort(-norms)[:8])
    np.testing.assert_array_equal(small.get_layer("conv0_conv").get_weights()[0], k[..., keep])
    # The next depthwise layer lost exactly the matching channels.
    dw = model.get_layer("dw1_conv").get_weights()[0]
    np.testing.assert_array_equal(small.get_layer("dw1_conv").get_weights()[0], dw[:, :, keep, :])
    assert small.count_params() < model.count_params() / 2


def test_structured_pruning_cli_shrinks_macs_params_and_arena(run):
    r = cli("compress", "structured", run.path, "--ratio", "0.5", "--epochs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run.path / "compression" / "structured.json").read_text())
    base, half = res["rows"]
    assert half["ratio"] == 0.5
    assert half["macs_reduction"] >= 0.4
    assert half["params"] < base["params"] and half["weights"] < base["weights"]
    assert half["flash_bytes"] < base["flash_bytes"]
    assert half["arena_bytes"] <= base["arena_bytes"]
    assert half["latency_ms"] > 0 and base["latency_ms"] > 0
    assert all(after == round(before / 2) for before, after in half["channels"].values())
    assert (run.path / "compression" / "structured_50_int8.tflite").is_file()


def test_prune_rejects_bad_sparsity(run):
    r = cli("compress", "prune", run.path, "--sparsity", "1.5")
    assert r.returncode != 0 and "error:" in r.stderr and "--sparsity" in r.stderr
