"""Where things live: the project checkout and the download cache."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MpymlError


def mpyml_home() -> Path:
    """Cache of pinned downloads and SDKs: ``$MPYML_HOME`` or ``~/.cache/mpyml``."""
    env = os.environ.get("MPYML_HOME")
    return Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "mpyml"


def project_root() -> Path:
    """The mpyml checkout (``native_modules/``, ``device_lib/``, ``boards/``).

    ``$MPYML_ROOT`` overrides; otherwise the checkout this package is part of.
    """
    env = os.environ.get("MPYML_ROOT")
    candidates = [Path(env).expanduser().resolve()] if env else []
    candidates.append(Path(__file__).resolve().parents[2])
    for root in candidates:
        if (root / "native_modules").is_dir() and (root / "device_lib").is_dir():
            return root
    raise MpymlError(
        "cannot find the mpyml project folder (with native_modules/ and device_lib/); "
        "run from a checkout or set MPYML_ROOT"
    )


def build_dir(board: str) -> Path:
    """Output folder of one board's firmware build: ``build/<board>/``."""
    return project_root() / "build" / board
