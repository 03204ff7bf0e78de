"""One tiny trained run shared by the compression tests (built once per test process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlfixtures import blobs_npz

_CACHE: dict[str, object] = {}


def tiny_run(tmp_root: Path):
    """A DS-CNN-S with 16 filters on separable 3-class 12x8 'feature maps' (a few seconds to train)."""
    if "run" in _CACHE:
        return _CACHE["run"]
    from mpyml.train import TrainConfig, train

    tmp_root.mkdir(parents=True, exist_ok=True)
    data = blobs_npz(tmp_root / "blobs.npz", n_per_class=60, shape=(12, 8, 1), seed=4)
    cfg = TrainConfig(model="ds_cnn_s", data=str(data), name="tiny", model_params={"filters": 16},
                      epochs=5, batch_size=16, learning_rate=0.01, seed=3, representative_samples=60,
                      early_stopping_patience=20, threads=2)
    result = train(cfg, runs_root=tmp_root / "runs", echo=None, progress=False)
    _CACHE["run"] = result.run
    return result.run


def cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return subprocess.run([sys.executable, "-m", "mpyml.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
