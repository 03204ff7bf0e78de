"""ESP32-S3 and nRF52840 builds: recipes for machines that have the vendor
toolchains. mpyml does not fetch ESP-IDF or nrfx; when something is missing
the build stops and says what and how to provide it.

- ESP32_S3 (ports/esp32, BOARD ESP32_GENERIC_S3): ESP-IDF v5.x activated
  (``IDF_PATH`` set, ``idf.py`` and ``xtensa-esp32s3-elf-gcc`` on PATH after
  ``. $IDF_PATH/export.sh``) and a MicroPython v1.25.0 checkout with its
  submodules (``MPYML_MICROPYTHON_DIR``; ``make -C ports/esp32 submodules``).
- NRF52840 (ports/nrf, BOARD PCA10056): ``arm-none-eabi-gcc`` and a
  checkout whose ``lib/nrfx`` submodule is present (``make -C ports/nrf
  submodules``), named by ``MPYML_MICROPYTHON_DIR``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from .boards import Board
from .errors import BuildError
from .paths import build_dir, project_root
from .sdk import Sdk

Log = Callable[[str], None]


def _empty(path: Path) -> bool:
    return not path.is_dir() or not any(path.iterdir())


def missing_for(board: Board, sdk: Sdk, env: dict[str, str] | None = None) -> list[str]:
    """What the build of ``board`` lacks on this machine, as instructions."""
    env = dict(os.environ if env is None else env)
    path = env.get("PATH", "")
    which = lambda tool: shutil.which(tool, path=path)  # noqa: E731
    missing = []
    if board.port == "esp32":
        idf = env.get("IDF_PATH")
        if not idf or not Path(idf, "tools", "idf.py").is_file():
            missing.append("ESP-IDF v5.x: set IDF_PATH to an ESP-IDF v5.2-v5.4 checkout and run "
                           "`. $IDF_PATH/export.sh` (https://docs.espressif.com/projects/esp-idf)")
        if which("xtensa-esp32s3-elf-gcc") is None:
            missing.append("the xtensa-esp32s3-elf toolchain on PATH (installed by ESP-IDF's install.sh esp32s3)")
        if _empty(sdk.path / "lib" / "micropython-lib") or _empty(sdk.path / "lib" / "berkeley-db-1.xx"):
            missing.append("a MicroPython v1.25.0 checkout with submodules: `git clone --branch v1.25.0 "
                           "https://github.com/micropython/micropython && make -C micropython/ports/esp32 submodules`, "
                           "then MPYML_MICROPYTHON_DIR=<that folder>")
    elif board.port == "nrf":
        if which("arm-none-eabi-gcc") is None:
            missing.append("arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi)")
        if _empty(sdk.path / "lib" / "nrfx"):
            missing.append("nrfx (MicroPython's lib/nrfx submodule): a MicroPython v1.25.0 checkout with "
                           "`make -C ports/nrf submodules`, then MPYML_MICROPYTHON_DIR=<that folder>")
    else:
        raise BuildError(f"{board.name}: no vendor build recipe for port {board.port}")
    return missing


def build_command(board: Board, sdk: Sdk, manifest: Path, out: Path) -> list[str]:
    native = project_root() / "native_modules"
    if board.port == "esp32":
        return ["make", "-C", str(sdk.path / "ports" / "esp32"), f"BOARD={board.variant}",
                f"BUILD={out / 'obj'}", f"USER_C_MODULES={native / 'tinyml' / 'micropython.cmake'}",
                f"FROZEN_MANIFEST={manifest}"]
    return ["make", "-C", str(sdk.path / "ports" / "nrf"), f"BOARD={board.variant}", f"BUILD={out / 'obj'}",
            f"USER_C_MODULES={native}", f"FROZEN_MANIFEST={manifest}"]


def require_vendor_build(board: Board, sdk: Sdk, jobs: int | None, log: Log, plain: bool = False):
    from .firmware import BuildResult, _build_env, _run_make, build_mpy_cross, write_manifest

    missing = missing_for(board, sdk)
    if missing:
        raise BuildError(f"cannot build {board.name} ({board.description}) here; missing:\n  - "
                         + "\n  - ".join(missing))
    out = build_dir(board.name)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "build.log"
    log_path.write_text("")
    start = time.monotonic()
    build_mpy_cross(sdk, log_path, jobs)
    args = build_command(board, sdk, write_manifest(out), out)
    if plain:
        args = [a for a in args if not a.startswith("USER_C_MODULES=")]
    _run_make([*args, f"-j{jobs or os.cpu_count() or 2}"], log_path, _build_env(sdk), f"{board.name} build")
    image = out / "obj" / ("firmware.bin" if board.port == "esp32" else "firmware.hex")
    return BuildResult(board.name, image, log_path, time.monotonic() - start)
