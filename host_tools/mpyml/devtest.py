"""Run MicroPython code and the device test suite on built firmware."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .firmware import firmware_path
from .paths import project_root


def run_code(board: str, code: str, cwd: Path | None = None, timeout: float | None = None,
             capture: bool = False) -> subprocess.CompletedProcess:
    """Execute a snippet with ``micropython -c`` on a board's firmware."""
    fw = firmware_path(board)
    return subprocess.run([str(fw), "-c", code], cwd=cwd or project_root(), timeout=timeout,
                          capture_output=capture, text=capture)


def run_script(board: str, script: Path, args: list[str] | None = None, capture: bool = False,
               timeout: float | None = None) -> subprocess.CompletedProcess:
    fw = firmware_path(board)
    return subprocess.run([str(fw), str(script), *(args or [])], cwd=project_root(), timeout=timeout,
                          capture_output=capture, text=capture)


def test_command(paths: list[str], pattern: str | None, verbose: bool) -> str:
    """The snippet that runs ``tinyml.testing`` over ``paths`` on the device."""
    return (
        "import tinyml.testing as t; "
        f"t.main({paths!r}, pattern={pattern!r}, verbose={bool(verbose)!r})"
    )


def run_tests(board: str, paths: list[str] | None = None, pattern: str | None = None, verbose: bool = False,
              capture: bool = False, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run the device suite (default ``tests/device``) on a board's firmware."""
    root = project_root()
    rel = []
    for p in paths or ["tests/device"]:
        path = Path(p).resolve()
        try:
            rel.append(str(path.relative_to(root)))
        except ValueError:
            rel.append(str(path))
    return run_code(board, test_command(rel, pattern, verbose), cwd=root, capture=capture, timeout=timeout)
