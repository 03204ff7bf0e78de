"""`mpyml deploy` (mpremote) and `mpyml flash` (UF2 drive, picotool, esptool)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("deploy")
@click.option("--port", required=True, help="Serial port of the board (e.g. /dev/ttyACM0).")
@click.option("--app", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Application script to run after copying.")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Model package folder (manifest.json + model.tflite ...) to copy and verify.")
@click.option("--dest", default="/", show_default=True, help="Folder on the device for copied files.")
def deploy_cmd(port: str, app: Path | None, model: Path | None, dest: str) -> None:
    """Copy what the firmware lacks, verify the model's sha256 on the device, run the app."""
    from ..deploy import deploy

    sys.exit(deploy(port, app, model, dest, log=lambda m: click.echo(m, err=True)))


@click.command("flash")
@click.option("--board", required=True, help="RPI_PICO or ESP32_S3.")
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Firmware image (default: build/<board>/firmware.uf2 or .bin).")
@click.option("--drive", type=click.Path(path_type=Path), default=None,
              help="RP2040: the mounted RPI-RP2 drive (default: searched in /media, /run/media, /mnt).")
@click.option("--picotool", "use_picotool", is_flag=True, help="RP2040: load with picotool instead of a drive.")
@click.option("--port", default=None, help="ESP32-S3: serial port for esptool.")
@click.option("--dry-run", is_flag=True, help="Print what would be done.")
def flash_cmd(board: str, image: Path | None, drive: Path | None, use_picotool: bool, port: str | None,
              dry_run: bool) -> None:
    """Write a firmware image to a board."""
    from ..flash import flash

    click.echo(flash(board, image, drive, use_picotool, port, dry_run))


def register(main: click.Group) -> None:
    main.add_command(deploy_cmd)
    main.add_command(flash_cmd)
