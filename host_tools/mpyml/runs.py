"""Run folders: everything one training run produced, in one place.

``runs/<name>/`` holds ``config.json`` (the full configuration, seed
included), ``log.txt``, ``metrics.csv`` (one row per epoch),
``checkpoints/``, ``artifacts/`` (models, evaluation results, the package)
and ``plots/``. The runs root is ``$MPYML_RUNS`` or ``<project>/runs``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .errors import MpymlError

SUBDIRS = ("checkpoints", "artifacts", "plots")


def runs_root() -> Path:
    env = os.environ.get("MPYML_RUNS")
    if env:
        return Path(env).expanduser().resolve()
    from .paths import project_root

    return project_root() / "runs"


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and (if loaded) TensorFlow/Keras."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:
        pass


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    path: Path
    echo: Callable[[str], None] | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    def config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, ValueError) as e:
            raise MpymlError(f"{self.config_path}: cannot read the run's configuration: {e}") from e

    def log(self, message: str) -> None:
        line = f"{_timestamp()} {message}"
        with open(self.path / "log.txt", "a") as f:
            f.write(line + "\n")
        if self.echo is not None:
            self.echo(message)

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row to metrics.csv (header written with the first row)."""
        exists = self.metrics_path.is_file() and self.metrics_path.stat().st_size > 0
        with open(self.metrics_path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if not exists:
                w.writeheader()
            w.writerow(row)

    def metrics(self) -> list[dict[str, str]]:
        if not self.metrics_path.is_file():
            return []
        with open(self.metrics_path, newline="") as f:
            return list(csv.DictReader(f))

    def artifact(self, name: str) -> Path:
        return self.artifacts / name

    def write_json(self, name: str, data: Any) -> Path:
        path = self.artifacts / name
        path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        return path

    def read_json(self, name: str) -> Any:
        path = self.artifacts / name
        try:
            return json.loads(path.read_text())
        except FileNotFoundError as e:
            raise MpymlError(f"{path} is missing") from e
        except ValueError as e:
            raise MpymlError(f"{path}: invalid JSON: {e}") from e


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def create_run(name: str | None, config: dict[str, Any], *, root: Path | None = None, overwrite: bool = False,
               echo: Callable[[str], None] | None = None) -> Run:
    """Make ``<root>/<name>/`` with its subfolders and write config.json."""
    root = Path(root) if root is not None else runs_root()
    if not name:
        name = f"{config.get('model', 'run')}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    if not _NAME.match(name):
        raise MpymlError(f"run name {name!r}: use letters, digits, '.', '_' and '-'")
    path = root / name
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise MpymlError(f"run folder {path} exists; choose another name or pass --overwrite")
        import shutil

        shutil.rmtree(path)
    for sub in SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    run = Run(path, echo)
    full = dict(config)
    full.setdefault("created", _timestamp())
    run.config_path.write_text(json.dumps(full, indent=2) + "\n")
    (path / "log.txt").write_text("")
    return run


def open_run(name_or_path: str | Path, *, echo: Callable[[str], None] | None = None) -> Run:
    """A run by folder path or by name under the runs root."""
    p = Path(name_or_path)
    candidates = [p] if p.is_absolute() or p.exists() else [runs_root() / p]
    for c in candidates:
        if (c / "config.json").is_file():
            return Run(c.resolve(), echo)
    raise MpymlError(f"{name_or_path}: not a run folder (no config.json); runs live in {runs_root()}")


def list_runs(root: Path | None = None) -> Iterable[Run]:
    root = Path(root) if root is not None else runs_root()
    if not root.is_dir():
        return []
    return [Run(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]
