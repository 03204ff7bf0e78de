"""Native .mpy modules (natmods) of _tinyml on firmware that lacks the
built-in module, the mip package, the Xtensa compile check of the portable
C core, and the builds that must stop with instructions on this machine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpyml.natmod import ARCHS, build_natmod, write_package

MPYML = [sys.executable, "-m", "mpyml.cli"]
ROOT = Path(__file__).resolve().parents[2]
# mpy header byte 2 holds the native architecture in its upper bits.
ARCH_CODE = {"x64": 2, "armv6m": 4, "armv7m": 5, "armv7emsp": 7}


@pytest.fixture(scope="module")
def natmods():
    return {arch: build_natmod(arch, log=lambda m: None) for arch in ARCHS}


def test_natmods_are_mpy_files_for_their_architecture(natmods):
    for arch, r in natmods.items():
        head = r.mpy.read_bytes()[:4]
        assert head[:2] == b"M\x06", arch  # .mpy version 6 (MicroPython 1.25)
        assert head[2] >> 2 == ARCH_CODE[arch], arch
        assert "modtinyml.c" in r.glue


def test_mip_package_lists_every_file(natmods):
    pkg = write_package(list(ARCHS))
    for arch in ARCHS:
        manifest = json.loads((pkg / f"package-{arch}.json").read_text())
        dests = [u[0] for u in manifest["urls"]]
        assert "_tinyml.mpy" in dests and "tinyml/__init__.py" in dests
        for _, src in manifest["urls"]:
            assert (pkg / src).is_file(), src
    assert json.loads((pkg / "package.json").read_text()) == json.loads((pkg / "package-x64.json").read_text())


@pytest.mark.parametrize("board", ["unix", "qemu-m0"])
def test_natmod_passes_native_device_tests_without_builtin_module(board, natmods, capsys):
    r = subprocess.run([*MPYML, "natmod", "test", "--board", board, "-v"], capture_output=True, text=True,
                       timeout=1800)
    with capsys.disabled():
        print(f"\n--- tests/device/test_native.py with the natmod on {board} firmware without _tinyml ---")
        print(r.stdout.rstrip())
    m = re.search(r"^(\d+) passed, (\d+) failed", r.stdout, re.M)
    assert m and r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert int(m.group(1)) >= 5 and m.group(2) == "0"
    assert "PASS test_native.py::test_dot_s8_extremes_do_not_overflow" in r.stdout


def test_plain_firmware_really_lacks_the_module(natmods):
    from mpyml.firmware import firmware_path

    fw = firmware_path("unix", plain=True)  # built by the natmod test above
    r = subprocess.run([str(fw), "-c", "import _tinyml"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "no module named '_tinyml'" in (r.stdout + r.stderr)


def _portable_sources() -> list[Path]:
    native = ROOT / "native_modules"
    return sorted(p for part in ("core", "runtime", "runtime/kernels", "frontend") for p in (native / part).glob("*.c"))


def test_portable_core_compiles_for_xtensa_without_warnings():
    cc = "xtensa-lx106-elf-gcc"
    native = ROOT / "native_modules"
    includes = [f"-I{native / p}" for p in ("core", "runtime", "runtime/kernels", "frontend")]
    sources = _portable_sources()
    assert sources
    failures = []
    for src in sources:
        r = subprocess.run([cc, "-ffreestanding", "-isystem", str(ROOT / "boards" / "xtensa-check" / "include"),
                            "-std=c99", "-Wall", "-Wextra", "-Os", "-mlongcalls", *includes, "-c", str(src),
                            "-o", "/dev/null"], capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            failures.append(f"{src.relative_to(ROOT)}:\n{r.stderr.strip()}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("board,needle", [("ESP32_S3", "IDF_PATH"), ("NRF52840", "nrfx")])
def test_vendor_boards_stop_with_instructions(board, needle):
    r = subprocess.run([*MPYML, "build", "--board", board], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: cannot build {board}")
    assert needle in r.stderr and "MPYML_MICROPYTHON_DIR" in r.stderr
    assert "Traceback" not in r.stderr


def test_rp2040_image_when_built():
    """Checks the image `make firmware-rp2` produced (not part of `make test`)."""
    import struct

    from mpyml.firmware import elf_size, elf_symbol

    out = ROOT / "build" / "RPI_PICO"
    if not (out / "firmware.uf2").is_file():
        pytest.skip("no RP2040 image: `make firmware-rp2` builds it")
    uf2 = (out / "firmware.uf2").read_bytes()
    assert len(uf2) % 512 == 0 and len(uf2) > 100 * 512
    for off in range(0, len(uf2), 512):
        magic0, magic1, flags, addr, size, _, nblocks, family = struct.unpack_from("<8I", uf2, off)
        assert (magic0, magic1) == (0x0A324655, 0x9E5D5157)
        assert flags & 0x2000 and family == 0xE48BFF56  # family id: RP2040
        assert 0x10000000 <= addr < 0x10200000 and size == 256
    assert nblocks == len(uf2) // 512
    elf = out / "firmware.elf"
    assert elf_symbol(elf, "tinyml_user_cmodule")  # the native module is linked in
    size = elf_size(elf)
    assert size.flash < 1_572_864 and size.ram < 270_336
    # The frozen tinyml package is in the image.
    assert b"tinyml/testing.py" in elf.read_bytes() or b"tinyml/__init__.py" in elf.read_bytes()
