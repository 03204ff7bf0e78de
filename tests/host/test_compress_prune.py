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


def test_layer_plan_is_exact_uniform_and_protects_first_and_last():
    from mpyml.compress.prune import layer_plan

    sizes = [160, 288, 512, 288, 512, 96]
    for s in (0.3, 0.5, 0.8, 0.9):
        plan = layer_plan(sizes, s, protected=[0, 5], protected_sparsity=0.5)
        assert sum(plan) == round(s * sum(sizes))
        assert all(0 <= k <= n for k, n in zip(plan, sizes))
        rates = [k / n for k, n in zip(plan, sizes)]
        # Protected layers at most min(s, 0.5) (up to one weight of rounding) while the others share the rest evenly.
        for i in (0, 5):
            assert rates[i] <= min(s, 0.5) + 1.0 / sizes[i]
        inner = rates[1:5]
        assert max(inner) - min(inner) <= 1.0 / min(sizes[1:5]) + 1e-9
        assert min(inner) >= s - 1.0 / min(sizes[1:5])
    # Exempt: the protected layers keep every weight.
    plan = layer_plan(sizes, 0.6, protected=[0, 5], protected_sparsity=0.0)
    assert plan[0] == 0 and plan[5] == 0 and sum(plan) == round(0.6 * sum(sizes))
    # Past the spill limit of the others, the protected layers take the excess and the total stays exact.
    plan = layer_plan(sizes, 0.95, protected=[0, 5], protected_sparsity=0.0)
    assert sum(plan) == round(0.95 * sum(sizes)) and plan[0] > 0
    assert all(k <= 0.98 * n for k, n in zip(plan[1:5], sizes[1:5]))


def test_polynomial_schedule_rises_to_the_target():
    from mpyml.compress.prune import polynomial_sparsity

    vals = [polynomial_sparsity(t, 20, 0.8) for t in range(0, 26)]
    assert vals[0] == 0.0 and vals[20] == 0.8 and vals[25] == 0.8
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    # Cubic: the sparsity rises fast at first and slowly near the end.
    assert vals[10] - vals[0] > vals[20] - vals[10]


def test_layer_masks_exact_sparsity_and_first_layer_exemption(model):
    from mpyml.compress.prune import apply_masks, layer_masks, prunable_kernels, sparsity_of

    import keras

    layers = [l.name for l, _ in prunable_kernels(model)]
    for protected_sparsity in (0.0, 0.3):
        m = keras.models.clone_model(model)
        m.set_weights(model.get_weights())
        masks = layer_masks(m, 0.5, protected_sparsity=protected_sparsity)
        apply_masks(m, masks)
        zeros, total, _ = sparsity_of(m)
        assert zeros == round(0.5 * total)
        first, last = (m.get_layer(layers[0]).get_weights()[0], m.get_layer(layers[-1]).get_weights()[0])
        assert np.mean(first == 0) <= protected_sparsity + 1.0 / first.size
        assert np.mean(last == 0) <= protected_sparsity + 1.0 / last.size
        for name in layers[1:-1]:
            k = model.get_layer(name).get_weights()[0]
            keep = masks[name] == 1
            assert np.mean(~keep) >= 0.5 - 1e-9
            # Within a layer the survivors are its largest weights.
            assert np.abs(k[keep]).min() >= np.abs(k[~keep]).max()


def test_gradual_pruner_follows_the_schedule_and_ends_at_target(model):
    import keras

    from mpyml.compress.prune import _Pruner, polynomial_sparsity, sparsity_of

    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    opts = {"protect_first": True, "protect_last": True, "protected_sparsity": 0.5}
    p = _Pruner(keras, m, 0.8, "layer", opts, steps=10, schedule="gradual", ramp=1.0, updates=10)
    zeros, total, _ = sparsity_of(m)
    assert zeros == 0
    for _ in range(5):
        p.after_step()
    zeros, total, _ = sparsity_of(m)
    assert zeros == round(polynomial_sparsity(5, 10, 0.8) * total)
    p.finish()
    zeros, total, _ = sparsity_of(m)
    assert zeros == round(0.8 * total)


DS_CNN_S_SHAPES = [(10, 4, 1, 64)] + [(3, 3, 64, 1), (1, 1, 64, 64)] * 4 + [(64, 12)]


def test_erk_plan_is_exact_and_keeps_small_kernels_denser():
    from mpyml.compress.prune import erk_plan

    sizes = [int(np.prod(s)) for s in DS_CNN_S_SHAPES]
    for s in (0.3, 0.5, 0.8, 0.9, 0.95):
        for boosted in ([], [0, len(sizes) - 1]):
            plan = erk_plan(DS_CNN_S_SHAPES, s, boosted)
            assert sum(plan) == round(s * sum(sizes))
            assert all(0 <= k <= n for k, n in zip(plan, sizes))
            dens = [1 - k / n for k, n in zip(plan, sizes)]
            dw, pw = dens[1:9:2], dens[2:9:2]
            # The 3x3 depthwise kernels (576 weights) stay denser than the 64x64 pointwise ones (4,096).
            assert min(dw) > max(pw)
            # Same shape, same density (up to one weight of rounding).
            assert max(dw) - min(dw) <= 1.0 / 576 + 1e-9 and max(pw) - min(pw) <= 1.0 / 4096 + 1e-9
            if boosted:
                # The first convolution and the classifier are never sparser than any other layer.
                for i in boosted:
                    assert dens[i] >= max(dens) - 1.0 / min(sizes) - 1e-9
    # At 90% the layers get different rates, the dense ones do not spend budget past full density.
    plan = erk_plan(DS_CNN_S_SHAPES, 0.9, [0, 9])
    dens = [1 - k / n for k, n in zip(plan, sizes)]
    assert dens[1] > 0.2 and dens[2] < 0.08
    plan = erk_plan(DS_CNN_S_SHAPES, 0.3, [0, 9])
    assert plan[0] == 0 and plan[1] == 0 and sum(plan) == round(0.3 * sum(sizes))


def test_erk_plan_rejects_bad_input():
    from mpyml.compress.prune import erk_plan
    from mpyml.errors import MpymlError

    with pytest.raises(MpymlError, match="sparsity"):
        erk_plan(DS_CNN_S_SHAPES, 1.0)
    with pytest.raises(MpymlError, match="empty kernel"):
        erk_plan([(3, 3, 0, 1)], 0.5)


def test_erk_masks_on_a_model_are_exact_and_keep_the_largest_weights(model):
    from mpyml.compress.prune import apply_masks, erk_masks, prunable_kernels, sparsity_of

    import keras

    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    masks = erk_masks(m, 0.9)
    apply_masks(m, masks)
    zeros, total, _ = sparsity_of(m)
    assert zeros == round(0.9 * total)
    names = [l.name for l, _ in prunable_kernels(m)]
    dens = {n: float(np.mean(masks[n])) for n in names}
    # The small depthwise kernels keep more of their weights than the pointwise ones.
    assert min(dens[n] for n in names if n.startswith("dw")) > max(dens[n] for n in names if n.startswith("pw"))
    for n in names:
        k = model.get_layer(n).get_weights()[0]
        keep = masks[n] == 1
        if keep.any() and (~keep).any():
            assert np.abs(k[keep]).min() >= np.abs(k[~keep]).max()


def test_finetune_epochs_grow_with_sparsity():
    from mpyml.compress.prune import finetune_epochs

    assert [finetune_epochs(4, s) for s in (0.3, 0.5, 0.75, 0.875)] == [4, 4, 8, 12]
    seq = [finetune_epochs(4, s) for s in (0.5, 0.8, 0.9, 0.95)]
    assert seq == sorted(seq) and seq[-1] > 3 * seq[0]
    assert finetune_epochs(4, 0.95, scaled=False) == 4 and finetune_epochs(0, 0.95) == 0


def test_batchnorm_recalibration_matches_the_data_statistics(model, run):
    import keras

    from mpyml.compress.common import load_context
    from mpyml.compress.prune import apply_masks, erk_masks, recalibrate_batchnorm

    ctx = load_context(run)
    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    apply_masks(m, erk_masks(m, 0.8))
    bn = m.get_layer("conv0_bn")
    momentum = bn.momentum
    assert recalibrate_batchnorm(m, ctx.train.x, 16) >= 5
    assert bn.momentum == momentum
    # The moving mean is the average of the per-batch means of the (pruned) convolution's output.
    conv = keras.Model(m.inputs, m.get_layer("conv0_conv").output)
    n = len(ctx.train.x) // 16
    y = np.asarray(conv.predict(ctx.train.x[:n * 16], verbose=0))
    means = y.reshape(n, -1, y.shape[-1]).mean(axis=1).mean(axis=0)
    np.testing.assert_allclose(np.asarray(bn.moving_mean), means, rtol=1e-3, atol=1e-4)


def test_masks_hold_after_fine_tuning(model, run):
    import keras

    from mpyml.compress.common import fit, load_context
    from mpyml.compress.prune import _Pruner, erk_masks, prunable_kernels, recalibrate_batchnorm, sparsity_of

    ctx = load_context(run)
    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    opts = {"protect_first": True, "protect_last": True}
    steps = 2 * -(-len(ctx.train.x) // ctx.cfg.batch_size)
    p = _Pruner(keras, m, 0.9, "erk", opts, steps=steps, schedule="gradual", ramp=0.5, updates=4)
    fit(keras, m, ctx, epochs=2, learning_rate=0.01, callbacks=[p.callback])
    p.finish()
    before = {l.name: l.get_weights()[0].copy() for l, _ in prunable_kernels(m)}
    recalibrate_batchnorm(m, ctx.train.x, 16)
    zeros, total, _ = sparsity_of(m)
    assert zeros == round(0.9 * total)
    final = erk_masks(m, 0.9)
    for layer, _ in prunable_kernels(m):
        k = layer.get_weights()[0]
        # Every weight outside the final mask is zero, and recalibration left the kernels alone.
        assert np.all(k[p.masks[layer.name] == 0] == 0)
        np.testing.assert_array_equal(k, before[layer.name])
        assert float(np.mean(final[layer.name])) == pytest.approx(float(np.mean(p.masks[layer.name])), abs=1e-9)


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
    assert res["method"] == "erk" and res["schedule"] == "gradual" and res["recalibrate_bn"]
    assert sum(res["layer_sizes"].values()) == res["prunable_weights"]
    for x in pruned:
        # Exact overall sparsity, with and without fine-tuning (the masks held through training).
        assert abs(x["achieved_sparsity"] - x["sparsity"]) <= 1.0 / res["prunable_weights"] + 1e-9
        per_layer = x["layer_sparsity"]
        first, last = list(per_layer.values())[0], list(per_layer.values())[-1]
        dw = [v for n, v in per_layer.items() if n.startswith("dw")]
        pw = [v for n, v in per_layer.items() if n.startswith("pw")]
        # ERK: the small depthwise kernels denser than the pointwise ones; the first and last layers
        # no sparser than any other.
        assert max(dw) < min(pw)
        assert first <= min(per_layer.values()) + 0.01 and last <= min(per_layer.values()) + 0.03
        assert "int8_bn_recalibrated" in x if not x["fine_tuned"] else x["epochs"] >= 1
        # The zeros survive int8 export (fine-tuning keeps the mask).
        assert x["int8_kernel_sparsity"] >= x["sparsity"] - 0.02
        assert x["nonzero_params"] < base["nonzero_params"]
        # Dense storage: the file does not shrink with the sparsity (the converter may only drop a kernel
        # that became all zeros), only its compressed copy does.
        assert x["tflite_bytes"] >= 0.9 * base["tflite_bytes"]
    high = [x for x in pruned if x["sparsity"] == 0.9]
    assert all(x["gzip_bytes"] < base["gzip_bytes"] for x in high)
    assert set(res["latency_ms"]) == {"dense", "sparsity 0.90"}
    # More fine-tuning epochs at 90% than at 50%.
    ep = {x["sparsity"]: x["epochs"] for x in pruned if x["fine_tuned"]}
    assert ep[0.9] > ep[0.5] == 1
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
