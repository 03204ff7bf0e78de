"""The device library's canonical JSON and feature id (tinyml.package, run on
the Unix firmware) against the host's definition in docs/model-package.md."""

from __future__ import annotations

import hashlib
import json

import pytest


def _micro(v):
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return round(v * 1_000_000)
    if isinstance(v, dict):
        return {k: _micro(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_micro(x) for x in v]
    raise TypeError(type(v))


def host_canonical(obj) -> str:
    """docs/model-package.md, literally."""
    return json.dumps(_micro(obj), sort_keys=True, separators=(",", ":"))


def host_feature_id(params: dict) -> str:
    digest = hashlib.sha256(host_canonical(params).encode()).hexdigest()[:8]
    return "mf1-{sample_rate}-{window_size}-{window_step}-{num_channels}-".format(**params) + digest


BASE = {
    "sample_rate": 16000, "window_size": 30, "window_step": 20, "num_channels": 40,
    "upper_band_limit": 7500.0, "lower_band_limit": 125.0, "smoothing_bits": 10,
    "even_smoothing": 0.025, "odd_smoothing": 0.06, "min_signal_remaining": 0.05,
    "enable_pcan": True, "pcan_strength": 0.95, "pcan_offset": 80.0, "gain_bits": 21,
    "enable_log": True, "scale_shift": 6,
}

CONFIGS = [
    BASE,
    {**BASE, "sample_rate": 8000, "upper_band_limit": 3999.5, "num_channels": 10, "enable_pcan": False},
    {**BASE, "even_smoothing": 0.1, "odd_smoothing": 0.3, "pcan_strength": 0.000001, "pcan_offset": 123456.789012},
    {**BASE, "lower_band_limit": 0.0, "min_signal_remaining": 1.0, "window_size": 25, "window_step": 10},
    {**BASE, "upper_band_limit": -2147.483648, "note": "µ-law \"x\"\n\t€",
     "list": [1, 2.5, None, False, {"b": 0.5, "a": 1}]},
]


def _device(run_mp, force_single: bool) -> list[str]:
    code = (
        "import json\n"
        "from tinyml import package\n"
        f"package._DOUBLE = {not force_single}\n"
        f"for c in json.loads({json.dumps(json.dumps(CONFIGS))}):\n"
        "    print(package.canonical_json(c))\n"
        "    print(package.feature_id(c))\n"
    )
    r = run_mp(code)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout.splitlines()


@pytest.mark.parametrize("force_single", [False, True], ids=["double", "split-rounding"])
def test_device_canonical_json_equals_host(run_mp, force_single):
    lines = _device(run_mp, force_single)
    assert len(lines) == 2 * len(CONFIGS)
    from mpyml.features import canonical_json

    for i, cfg in enumerate(CONFIGS):
        assert lines[2 * i] == host_canonical(cfg) == canonical_json(cfg)
        assert lines[2 * i + 1] == host_feature_id(cfg)


def test_device_feature_id_equals_mpyml_features(run_mp):
    from mpyml.features import FeatureConfig

    configs = [FeatureConfig(), FeatureConfig(num_channels=10, pcan_strength=0.9, upper_band_limit=4000.0)]
    params = [c.params() for c in configs]
    code = (
        "import json\n"
        "from tinyml import package\n"
        f"for p in json.loads({json.dumps(json.dumps(params))}):\n"
        "    print(package.feature_id(p))\n"
    )
    r = run_mp(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [c.id() for c in configs]
    assert [host_feature_id(p) for p in params] == [c.id() for c in configs]
