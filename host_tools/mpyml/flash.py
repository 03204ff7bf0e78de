"""Writing firmware images: RP2040 by UF2 copy or picotool, ESP32-S3 by esptool."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from pathlib import Path

from .boards import get_board
from .errors import MpymlError
from .paths import build_dir, mpyml_home

UF2_DRIVE_SEARCH = ("/media/*/RPI-RP2", "/run/media/*/RPI-RP2", "/media/RPI-RP2", "/mnt/RPI-RP2")


def _default_image(board: str, suffix: str) -> Path:
    path = build_dir(board) / f"firmware{suffix}"
    if not path.is_file():
        raise MpymlError(f"{path} does not exist: run `mpyml build --board {board}` or pass --image")
    return path


def find_uf2_drive() -> Path:
    found = [Path(p) for pattern in UF2_DRIVE_SEARCH for p in glob.glob(pattern) if Path(p, "INFO_UF2.TXT").is_file()]
    if not found:
        raise MpymlError("no RPI-RP2 drive found: hold BOOTSEL while plugging the Pico in, or pass --drive "
                         "(or use --picotool)")
    return found[0]


def _picotool() -> str:
    exe = shutil.which("picotool")
    if exe:
        return exe
    built = mpyml_home() / "sdk" / "rp2" / "picotool-install" / "bin" / "picotool"
    if built.is_file():
        return str(built)
    raise MpymlError("picotool not found: run `mpyml sdk fetch --board RPI_PICO` (builds it) or install it")


def flash(board_name: str, image: Path | None = None, drive: Path | None = None, use_picotool: bool = False,
          port: str | None = None, dry_run: bool = False) -> str:
    board = get_board(board_name)
    if board.port == "rp2":
        if port is not None:
            raise MpymlError("--port is for esptool (ESP32-S3); the RP2040 is flashed over its UF2 drive or picotool")
        image = image or _default_image(board.name, ".uf2")
        if not image.is_file():
            raise MpymlError(f"{image} does not exist")
        if image.suffix != ".uf2":
            raise MpymlError(f"{image} is not a .uf2 image")
        if use_picotool:
            if drive is not None:
                raise MpymlError("give either --drive or --picotool, not both")
            cmd = [_picotool(), "load", "-x", str(image)]
            if dry_run:
                return "would run: " + " ".join(cmd)
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise MpymlError(f"picotool failed: {(r.stderr or r.stdout).strip()}")
            return f"loaded {image} with picotool"
        target = drive or find_uf2_drive()
        if not Path(target, "INFO_UF2.TXT").is_file():
            raise MpymlError(f"{target} is not an RP2040 UF2 drive (no INFO_UF2.TXT)")
        if dry_run:
            return f"would copy {image} to {target}"
        shutil.copyfile(image, Path(target) / image.name)
        return f"copied {image} to {target}; the board restarts into the new firmware"
    if board.port == "esp32":
        if drive is not None or use_picotool:
            raise MpymlError("--drive and --picotool are for the RP2040; the ESP32-S3 is flashed with esptool --port")
        if port is None:
            raise MpymlError("--port is required for the ESP32-S3 (its USB serial port)")
        image = image or _default_image(board.name, ".bin")
        cmd = [sys.executable, "-m", "esptool", "--chip", "esp32s3", "--port", port, "write_flash", "-z", "0",
               str(image)]
        if dry_run:
            return "would run: " + " ".join(cmd)
        try:
            import esptool  # noqa: F401
        except ImportError as e:
            raise MpymlError("esptool is needed: pip install esptool") from e
        if not image.is_file():
            raise MpymlError(f"{image} does not exist")
        r = subprocess.run(cmd)
        if r.returncode != 0:
            raise MpymlError(f"esptool failed (exit {r.returncode})")
        return f"flashed {image} to {port}"
    raise MpymlError(f"mpyml flash supports RPI_PICO and ESP32_S3, not {board.name} ({board.port} port)")
