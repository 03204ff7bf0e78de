"""Shared fixtures of the host test suite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Models and recordings made outside the project (never copied in)."""
    path = Path(os.environ.get("MPYML_TESTDATA", ROOT.parent / "shared" / "testdata"))
    if not path.is_dir():
        pytest.fail(f"test data folder {path} is missing (set MPYML_TESTDATA)")
    return path


@pytest.fixture(scope="session")
def portable_native():
    """mpyml._native built again with the portable kernels only (_portable_native.py)."""
    import _portable_native

    return _portable_native.load(_portable_native.build(ROOT))


@pytest.fixture(scope="session")
def firmware() -> Path:
    """The Unix-port firmware built by `mpyml build --board unix`."""
    path = ROOT / "build" / "unix" / "micropython"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make firmware` (make test builds it first)")
    return path


@pytest.fixture(scope="session")
def run_mp(firmware):
    """Run a MicroPython snippet on the Unix-port firmware; returns CompletedProcess."""

    def run(code: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(firmware), "-c", code], capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or ROOT)

    return run
