"""Model inputs for training and evaluation: dataset splits as float arrays.

Two sources:

* a dataset folder in the Speech Commands layout: clips -> microfrontend
  features (``mpyml.features``) -> ``features * float_scale``, shaped
  ``[N, frames, channels, 1]``;
* an ``.npz`` file of ready arrays (sensor windows, or any other data):
  ``x_training``, ``y_training``, ``x_validation``, ``y_validation``,
  ``x_testing``, ``y_testing`` and ``labels`` (class names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import MpymlError

SPLITS = ("training", "validation", "testing")


@dataclass
class Arrays:
    x: np.ndarray  # float32 model inputs [N, ...]
    y: np.ndarray  # int64 class indices [N]
    labels: list[str]
    features: np.ndarray | None = None  # uint16 microfrontend features [N, frames, channels] (audio only)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def counts(self) -> dict[str, int]:
        c = np.bincount(self.y, minlength=len(self.labels))
        return {n: int(v) for n, v in zip(self.labels, c)}


def _split_name(split: str) -> str:
    aliases = {"train": "training", "val": "validation", "valid": "validation", "test": "testing"}
    s = aliases.get(split, split)
    if s not in SPLITS:
        raise MpymlError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    return s


def load_npz(path: Path, split: str) -> Arrays:
    split = _split_name(split)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise MpymlError(f"{path}: cannot read arrays: {e}") from e
    need = [f"x_{split}", f"y_{split}", "labels"]
    missing = [k for k in need if k not in data.files]
    if missing:
        raise MpymlError(f"{path}: missing arrays {', '.join(missing)} (has {', '.join(data.files)})")
    x = np.asarray(data[f"x_{split}"], dtype=np.float32)
    y = np.asarray(data[f"y_{split}"]).astype(np.int64)
    labels = [str(s) for s in data["labels"].tolist()]
    if x.shape[0] != y.shape[0]:
        raise MpymlError(f"{path}: x_{split} has {x.shape[0]} rows but y_{split} has {y.shape[0]}")
    if len(y) == 0:
        raise MpymlError(f"{path}: the {split} split is empty")
    if y.min() < 0 or y.max() >= len(labels):
        raise MpymlError(f"{path}: y_{split} holds class indices outside 0..{len(labels) - 1}")
    if not np.all(np.isfinite(x)):
        raise MpymlError(f"{path}: x_{split} contains NaN or infinite values")
    return Arrays(x, y, labels)


def load_audio(dataset_dir: Path, split: str, words: Sequence[str], feature_cfg, *, unknown_percentage: float,
               silence_percentage: float, seed: int, augment: Any = None, progress: bool = True) -> Arrays:
    from .data import load_split, mask_features
    from .features import compute_features, to_float

    split = _split_name(split)
    try:
        s = load_split(dataset_dir, split, list(words), unknown_percentage=unknown_percentage,
                       silence_percentage=silence_percentage, seed=seed, augment=augment, progress=progress)
    except (ValueError, TypeError) as e:
        raise MpymlError(f"{dataset_dir}: {e}") from e
    if len(s) == 0:
        raise MpymlError(f"{dataset_dir}: the {split} split has no clips")
    feats = compute_features(s.clips, feature_cfg, progress=progress)
    if augment is not None and (augment.time_masks or augment.freq_masks):
        feats = mask_features(feats, augment, np.random.default_rng([seed, 7]))
    x = to_float(feats, feature_cfg)[..., None]
    return Arrays(x, np.asarray(s.labels, dtype=np.int64), list(s.label_names), feats, list(s.sources))


def load_inputs(cfg, split: str, *, augment: bool = False, progress: bool = True) -> Arrays:
    """The split named by a TrainConfig (see ``mpyml.train``)."""
    data = Path(cfg.data)
    if data.suffix == ".npz":
        return load_npz(data, split)
    if not data.is_dir():
        raise MpymlError(f"{data}: no such dataset folder (or .npz file)")
    if not cfg.words:
        raise MpymlError("an audio dataset needs the keywords (`words`)")
    aug = None
    if augment and cfg.augment is not None:
        from .data import AugmentConfig

        try:
            aug = AugmentConfig.from_dict(cfg.augment)
        except (TypeError, ValueError) as e:
            raise MpymlError(f"augment: {e}") from e
    return load_audio(data, split, cfg.words, cfg.feature_config(), unknown_percentage=cfg.unknown_percentage,
                      silence_percentage=cfg.silence_percentage, seed=cfg.seed, augment=aug, progress=progress)
