"""RP2040 (board RPI_PICO): SDK sources from Debian and the firmware build.

``fetch_rp2`` downloads, with a private apt configuration under
``$MPYML_HOME/apt-rp2`` (the system's apt sources are never touched), the
trixie packages ``pico-sdk-source`` and ``tinyusb-source`` (``apt-get
download``, unpacked with ``dpkg -x``, never installed) and the source
tarballs of ``mbedtls`` and ``picotool``; each file's size and sha256 are
pinned below. picotool (needed by the SDK to make the .uf2) is built from
source once. MicroPython's empty ``lib/pico-sdk``, ``lib/tinyusb`` and
``lib/mbedtls`` are pointed at the unpacked trees.

``build_rp2`` configures ports/rp2 with CMake directly, with the mpyml user C
modules and a manifest that freezes the ``tinyml`` package (and optionally a
model package folder), and reports text/data/bss against the board budget.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .boards import Board
from .errors import BuildError, SdkError
from .paths import mpyml_home, project_root
from .sdk import DEBIAN_KEYRING, DEBIAN_MIRROR, Sdk, require_sdk, sha256_file

if TYPE_CHECKING:
    from .firmware import BuildResult
    from .opset import OpSet

Log = Callable[[str], None]

SUITE = "trixie"
# (kind, package=version, file, size, sha256)
PINNED = [
    ("deb", "pico-sdk-source=2.1.1-1", "pico-sdk-source_2.1.1-1_all.deb", 2383548,
     "507a3ca37636641bc90239d7c04dc9dc28c5008087a8162102ea94d2273153d3"),
    ("deb", "tinyusb-source=0.18.0+dfsg-1", "tinyusb-source_0.18.0+dfsg-1_all.deb", 1320704,
     "01ce2c645df68f14a8a7dcfc8fb355713152543757955820479a87949a61154e"),
    ("src", "mbedtls=3.6.6-0.1~deb13u1", "mbedtls_3.6.6.orig.tar.bz2", 5508045,
     "8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a"),
    ("src", "picotool=2.1.1+dfsg-1", "picotool_2.1.1+dfsg.orig.tar.xz", 283988,
     "c515d75ce6df590ca783b3a4267f6e8a963ffec753aeeb1892f8ba1771b8786d"),
]
NEEDED_TOOLS = ("cmake", "arm-none-eabi-gcc", "g++", "make", "dpkg", "apt-get")


@dataclass
class Rp2Sdk:
    root: Path  # $MPYML_HOME/sdk/rp2

    @property
    def pico_sdk(self) -> Path:
        return self.root / "src" / "usr" / "src" / "pico-sdk"

    @property
    def tinyusb(self) -> Path:
        return self.root / "src" / "usr" / "src" / "tinyusb"

    @property
    def mbedtls(self) -> Path:
        return self.root / "mbedtls-3.6.6"

    @property
    def picotool_dir(self) -> Path:
        # The CMake package folder the SDK looks for (picotool_DIR).
        return self.root / "picotool-install" / "lib" / "cmake" / "picotool"


def rp2_root() -> Path:
    return mpyml_home() / "sdk" / "rp2"


def _apt(args: list[str], cwd: Path, apt_dir: Path) -> None:
    opts = [
        f"-oDir::Etc::SourceList={apt_dir / 'sources.list'}", "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={apt_dir / 'lists'}", f"-oDir::Cache={apt_dir / 'cache'}", "-qq",
    ]
    if os.geteuid() == 0:
        opts.append("-oAPT::Sandbox::User=root")
    r = subprocess.run(["apt-get", *opts, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0 and args[0] != "source":
        raise SdkError(f"apt-get {args[0]} failed: {(r.stderr or r.stdout).strip()[-400:]}")


def _verified(path: Path, size: int, digest: str) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_file(path) == digest


def _download(log: Log) -> Path:
    downloads = mpyml_home() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PINNED if not _verified(downloads / p[2], p[3], p[4])]
    if not missing:
        return downloads
    if shutil.which("apt-get") is None or not DEBIAN_KEYRING.is_file():
        raise SdkError("fetching the RP2040 SDK needs apt-get and debian-archive-keyring (Debian/Ubuntu)")
    apt_dir = mpyml_home() / "apt-rp2"
    for sub in ("lists/partial", "cache/archives/partial"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text(
        f"deb [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {SUITE} main\n"
        f"deb-src [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {SUITE} main\n"
    )
    log(f"fetching {', '.join(p[1] for p in missing)} from Debian {SUITE} (private apt config in {apt_dir})")
    _apt(["update"], downloads, apt_dir)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        debs = [p[1] for p in missing if p[0] == "deb"]
        if debs:
            _apt(["download", *debs], Path(tmp), apt_dir)
        for p in missing:
            if p[0] == "src":
                # Only the upstream tarball is used; a missing .dsc is not fatal.
                _apt(["source", "--download-only", p[1]], Path(tmp), apt_dir)
        for kind, spec, name, size, digest in missing:
            got = Path(tmp) / name
            if not got.is_file():
                raise SdkError(f"apt-get did not produce {name} ({spec})")
            if not _verified(got, size, digest):
                raise SdkError(f"{name}: size or sha256 differs from the pinned {size} B / {digest}")
            got.replace(downloads / name)
    return downloads


def _link_lib(sdk: Sdk, name: str, target: Path) -> None:
    link = sdk.path / "lib" / name
    if link.is_symlink():
        if link.resolve() == target.resolve():
            return
        link.unlink()
    elif link.is_dir():
        if any(link.iterdir()):
            return  # a full checkout brings its own submodule
        link.rmdir()
    link.symlink_to(target)


def fetch_rp2(log: Log = print, jobs: int | None = None) -> Rp2Sdk:
    """Fetch, verify, unpack and prepare everything RPI_PICO builds need (idempotent)."""
    missing_tools = [t for t in NEEDED_TOOLS if shutil.which(t) is None]
    if missing_tools:
        raise SdkError(f"the RP2040 build needs {', '.join(missing_tools)} (Debian: cmake g++ gcc-arm-none-eabi "
                       "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
    sdk = require_sdk()
    rp = Rp2Sdk(rp2_root())
    marker = rp.root / "ready.json"
    if marker.is_file() and rp.picotool_dir.is_dir():
        _link_all(sdk, rp)
        return rp
    downloads = _download(log)
    rp.root.mkdir(parents=True, exist_ok=True)
    if not rp.pico_sdk.is_dir() or not rp.tinyusb.is_dir():
        for _, _, name, _, _ in PINNED[:2]:
            log(f"unpacking {name}")
            subprocess.run(["dpkg", "-x", str(downloads / name), str(rp.root / "src")], check=True)
    if not rp.mbedtls.is_dir():
        log("unpacking mbedtls")
        with tarfile.open(downloads / PINNED[2][2]) as tf:
            tf.extractall(rp.root, filter="data")
    pt_src = rp.root / "picotool-2.1.1"
    if not pt_src.is_dir():
        with tarfile.open(downloads / PINNED[3][2]) as tf:
            tf.extractall(rp.root, filter="data")
    if not rp.picotool_dir.is_dir():
        log("building picotool from source (about a minute)")
        bld = rp.root / "picotool-build"
        env = dict(os.environ, PICO_SDK_PATH=str(rp.pico_sdk))
        for args in (
            ["cmake", "-S", str(pt_src), "-B", str(bld), "-DCMAKE_BUILD_TYPE=Release", "-DPICOTOOL_NO_LIBUSB=1",
             f"-DCMAKE_INSTALL_PREFIX={rp.root / 'picotool-install'}", "-DPICOTOOL_FLAT_INSTALL=0"],
            ["cmake", "--build", str(bld), f"-j{jobs or os.cpu_count() or 2}"],
            ["cmake", "--install", str(bld)],
        ):
            r = subprocess.run(args, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise SdkError(f"picotool build failed at `{' '.join(args[:2])}`:\n{(r.stdout + r.stderr)[-1500:]}")
        if not rp.picotool_dir.is_dir():
            found = list((rp.root / "picotool-install").rglob("picotoolConfig.cmake"))
            if not found:
                raise SdkError("picotool installed no picotoolConfig.cmake")
    _link_all(sdk, rp)
    marker.write_text(json.dumps({"files": {p[2]: p[4] for p in PINNED}}, indent=2) + "\n")
    return rp


def _link_all(sdk: Sdk, rp: Rp2Sdk) -> None:
    _link_lib(sdk, "pico-sdk", rp.pico_sdk)
    _link_lib(sdk, "tinyusb", rp.tinyusb)
    _link_lib(sdk, "mbedtls", rp.mbedtls)


def picotool_dir(rp: Rp2Sdk) -> Path:
    if rp.picotool_dir.is_dir():
        return rp.picotool_dir
    found = list((rp.root / "picotool-install").rglob("picotoolConfig.cmake"))
    return found[0].parent


def _drop_stale_cache(obj: Path, source: Path, log: Log) -> None:
    # CMake refuses a build folder configured from another source tree (e.g.
    # an SDK cached under another $MPYML_HOME): start that folder afresh.
    cache = obj / "CMakeCache.txt"
    if not cache.is_file():
        return
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
            if Path(line.split("=", 1)[1]).resolve() != source.resolve():
                log(f"the build folder was configured from {line.split('=', 1)[1]}: rebuilding from scratch")
                shutil.rmtree(obj)
            return


def build_rp2(board: Board, sdk: Sdk, jobs: int | None, log: Log, plain: bool = False,
              model_dir: Path | None = None, opset: OpSet | None = None) -> BuildResult:
    from .firmware import BuildResult, _build_env, _run_make, _stub_lib_dir, build_mpy_cross, elf_size, write_manifest
    from .paths import build_dir

    rp = Rp2Sdk(rp2_root())
    if not (rp.root / "ready.json").is_file():
        raise BuildError("the RP2040 SDK is not fetched yet: run `mpyml sdk fetch --board RPI_PICO`")
    _link_all(sdk, rp)
    # A model-aware build (kernels of some models, size switches) has its own folder.
    out = build_dir(board.name + (f"-{opset.tag}" if opset else ""))
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "build.log"
    log_path.write_text("")
    start = time.monotonic()
    build_mpy_cross(sdk, log_path, jobs)
    extra = []
    if model_dir is not None:
        extra.append(f'freeze("{model_dir.parent}", "{model_dir.name}")')
    manifest = write_manifest(out, extra)
    obj = out / "obj"
    _drop_stale_cache(obj, sdk.path / "ports" / "rp2", log)
    args = [
        "cmake", "-S", str(sdk.path / "ports" / "rp2"), "-B", str(obj),
        f"-DMICROPY_BOARD={board.variant}",
        f"-DMICROPY_FROZEN_MANIFEST={manifest}",
        f"-DMICROPY_LIB_DIR={_stub_lib_dir(out)}",
        f"-Dpicotool_DIR={picotool_dir(rp)}",
    ]
    if not plain:
        args.append(f"-DUSER_C_MODULES={project_root() / 'native_modules' / 'tinyml' / 'micropython.cmake'}")
        if opset is not None:
            args += opset.cmake_args(out)
    env = _build_env(sdk)
    log(f"configuring MicroPython {sdk.version} rp2/{board.variant} (log: {log_path})")
    _run_make(args, log_path, env, "rp2 CMake configure")
    log("building (the first build takes a few minutes)")
    _run_make(["cmake", "--build", str(obj), f"-j{jobs or os.cpu_count() or 2}"], log_path, env, "rp2 build")
    elf, uf2 = obj / "firmware.elf", obj / "firmware.uf2"
    for f in (elf, uf2):
        if not f.is_file():
            raise BuildError(f"the build finished but {f} is missing")
        shutil.copy2(f, out / f.name)
    size = elf_size(out / "firmware.elf")
    log(f"{board.name}: text {size.text} B, data {size.data} B, bss {size.bss} B; "
        f"{out / 'firmware.uf2'} {uf2.stat().st_size} B")
    for line in fit_report(board, size, out / "firmware.elf", model_dir):
        log(line)
    return BuildResult(board.name, out / "firmware.uf2", log_path, time.monotonic() - start)



# Arenas of the real models measured with this runtime (mpyml bench board).
# arena_used of the real models on armv6m (the RP2040's instruction set), as
# `mpyml bench --board qemu-m0` measures it; a test keeps these in step with
# the committed benchmark baseline.
MODEL_ARENAS = {"micro_speech_quantized": 6720, "kws_ref_model": 21936, "person_detect": 75232}
STACK_AND_RESERVED = 8192  # the rp2 port's core-0 stack and scratch areas outside the GC heap
RAM_ORIGIN = 0x20000000


def gc_heap_bytes(elf: Path) -> int | None:
    """Size of the MicroPython heap of an rp2 image (its linker script gives
    the heap the RAM between .bss and the stacks); None if not an rp2 image."""
    from .firmware import elf_symbol

    try:
        return elf_symbol(elf, "__GcHeapEnd") - elf_symbol(elf, "__GcHeapStart")
    except BuildError:
        return None


def _package_arena(model_dir: Path) -> tuple[str, int] | None:
    try:
        m = json.loads((model_dir / "manifest.json").read_text())
        return str(m.get("name", model_dir.name)), int(m["model"]["arena_bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fit_report(board: Board, size, elf: Path | None = None, model_dir: Path | None = None) -> list[str]:
    """Flash and RAM use against the board budget, and which arenas fit the heap
    (the frozen model package's first, then the reference models')."""
    lines = []
    if board.firmware_flash_bytes:
        pct = 100 * size.flash / board.firmware_flash_bytes
        lines.append(f"flash: {size.flash} of {board.firmware_flash_bytes} B for firmware ({pct:.1f}%), "
                     f"{board.firmware_flash_bytes - size.flash} B left for frozen models")
    if board.ram_bytes:
        heap = gc_heap_bytes(elf) if elf is not None else None
        if heap is None:
            heap = board.ram_bytes - size.ram - STACK_AND_RESERVED
            lines.append(f"RAM: {size.ram} B static of {board.ram_bytes} B; about {heap} B for the MicroPython heap")
        else:
            from .firmware import elf_symbol

            # Below the heap: .data (with the code that runs from RAM) and .bss.
            static = elf_symbol(elf, "__GcHeapStart") - RAM_ORIGIN
            lines.append(f"RAM: {static} B static (.data incl. RAM code, .bss), MicroPython heap {heap} B, "
                         f"{board.ram_bytes - static - heap} B stacks, of {board.ram_bytes} B")
        arenas = dict(MODEL_ARENAS)
        own = _package_arena(model_dir) if model_dir is not None else None
        if own is not None:
            arenas = {f"{own[0]} (frozen)": own[1], **arenas}
        for name, arena in arenas.items():
            verdict = "fits" if arena < heap else "does NOT fit"
            lines.append(f"  arena of {name} ({arena} B) {verdict} ({heap - arena} B heap left)")
    return lines
