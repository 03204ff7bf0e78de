"""`mpyml deploy` and `mpyml test-device --port` for real, against QEMU
firmware whose REPL is on a pseudo-terminal (mpremote is the client), and
the argument handling of `mpyml flash`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpyml.firmware import firmware_path
from mpyml.qemu import QemuSession, collect_files

MPYML = [sys.executable, "-m", "mpyml.cli"]
ROOT = Path(__file__).resolve().parents[2]
BOARD = "qemu-m3"  # 1 MB RAM filesystem at /tmp for the copied files


def _package(folder: Path, model: bytes, sha: str | None = None) -> Path:
    folder.mkdir()
    (folder / "model.tflite").write_bytes(model)
    manifest = {"format": "mpyml-model-package", "interface_version": 1, "name": folder.name,
                "model": {"file": "model.tflite", "bytes": len(model),
                          "sha256": sha or hashlib.sha256(model).hexdigest()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_deploy_copies_verifies_and_runs_over_a_pty(tmp_path, testdata):
    firmware_path(BOARD)
    model = (testdata / "tflite-micro" / "micro_speech_quantized.tflite").read_bytes()
    pkg = _package(tmp_path / "kws", model)
    app = tmp_path / "app.py"
    app.write_text(
        "import tinyml\n"
        "f = open('/tmp/models/kws/model.tflite', 'rb')\n"
        "data = f.read()\n"
        "print('app sees', len(data), 'bytes; tinyml', tinyml.__version__)\n"
    )
    with QemuSession(BOARD, {str(app): app.read_bytes()}, ROOT, serial="pty") as s:
        r = subprocess.run([*MPYML, "deploy", "--port", s.pty, "--app", str(app), "--model", str(pkg),
                            "--dest", "/tmp"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"model verified on the device: sha256 {hashlib.sha256(model).hexdigest()}" in r.stderr
    assert f"app sees {len(model)} bytes; tinyml 0.1.0" in r.stdout


def test_deploy_refuses_a_package_whose_model_does_not_match(tmp_path):
    pkg = _package(tmp_path / "bad", b"not the model", sha="0" * 64)
    r = subprocess.run([*MPYML, "deploy", "--port", "/dev/null", "--model", str(pkg)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "differs from the manifest" in r.stderr and "Traceback" not in r.stderr


def test_device_tests_over_a_serial_port(tmp_path):
    firmware_path(BOARD)
    paths = [ROOT / "tests" / "device" / "test_native.py"]
    with QemuSession(BOARD, collect_files(paths, ROOT), ROOT, serial="pty") as s:
        r = subprocess.run([*MPYML, "test-device", "--port", s.pty, "-v", str(paths[0])], capture_output=True,
                           text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("5 passed, 0 failed")


def _flash(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MPYML, "flash", *args], capture_output=True, text=True, timeout=60)


def test_flash_rp2040_copies_uf2_to_the_drive(tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")
    image = tmp_path / "firmware.uf2"
    image.write_bytes(b"UF2\n" * 128)
    r = _flash("--board", "RPI_PICO", "--image", str(image), "--drive", str(drive))
    assert r.returncode == 0, r.stderr
    assert (drive / "firmware.uf2").read_bytes() == image.read_bytes()


@pytest.mark.parametrize("args,message", [
    (["--board", "RPI_PICO", "--image", "IMG.uf2", "--drive", "NOTADRIVE"], "not an RP2040 UF2 drive"),
    (["--board", "RPI_PICO", "--image", "IMG.bin"], "is not a .uf2 image"),
    (["--board", "RPI_PICO", "--image", "IMG.uf2", "--port", "/dev/ttyACM0"], "--port is for esptool"),
    (["--board", "RPI_PICO", "--image", "IMG.uf2", "--picotool", "--drive", "NOTADRIVE"], "not both"),
    (["--board", "ESP32_S3", "--image", "IMG.bin"], "--port is required"),
    (["--board", "ESP32_S3", "--image", "IMG.bin", "--port", "/dev/ttyUSB0", "--picotool"], "are for the RP2040"),
    (["--board", "qemu-m0"], "supports RPI_PICO and ESP32_S3"),
    (["--board", "nosuch"], "unknown board"),
])
def test_flash_argument_errors(tmp_path, args, message):
    for name in ("IMG.uf2", "IMG.bin"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "NOTADRIVE").mkdir()
    args = [str(tmp_path / a) if a in ("IMG.uf2", "IMG.bin", "NOTADRIVE") else a for a in args]
    r = _flash(*args)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_flash_esp32_dry_run_names_esptool(tmp_path):
    image = tmp_path / "fw.bin"
    image.write_bytes(b"x")
    r = _flash("--board", "ESP32_S3", "--image", str(image), "--port", "/dev/ttyUSB0", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "esptool --chip esp32s3 --port /dev/ttyUSB0 write_flash -z 0" in r.stdout and str(image) in r.stdout
