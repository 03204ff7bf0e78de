"""Native .mpy modules (natmods) of _tinyml on firmware that lacks the
built-in module (Unix port, qemu-m0/m3/m4): the device suites of the native
module, conformance of the runtime and frontend with tflite-micro and the
host, model-specific modules, `mpremote mip install` of the package; also
the Xtensa compile check of the portable C core and the builds that must
stop with instructions on this machine."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    # The plain package.json is the RP2040's (armv6m).
    assert json.loads((pkg / "package.json").read_text()) == json.loads((pkg / "package-armv6m.json").read_text())


def test_natmods_hold_the_runtime_and_the_frontend(natmods):
    for arch, r in natmods.items():
        assert r.left_out == [], arch
        assert {"mod_interpreter.c", "mod_frontend.c", "mod_scan.c"} <= set(r.glue), arch
        # Names the module stores in its globals at import (qstrs of the .mpy).
        data = r.mpy.read_bytes()
        for name in (b"Interpreter", b"AudioFrontend", b"Tensor", b"set_input_quantization"):
            assert name in data, (arch, name)


# The device suites of the native module: the natmod must pass them exactly
# like the built-in module does (same API, same messages).
NATMOD_SUITES = ["tests/device/test_native.py", "tests/device/test_runtime.py", "tests/device/test_frontend.py"]


@pytest.mark.parametrize("board", ["unix", "qemu-m0", "qemu-m3", "qemu-m4"])
def test_natmod_passes_native_device_tests_without_builtin_module(board, natmods, capsys):
    r = subprocess.run([*MPYML, "natmod", "test", "--board", board, "-v", *NATMOD_SUITES], capture_output=True,
                       text=True, timeout=1800, cwd=ROOT)
    with capsys.disabled():
        print(f"\n--- {', '.join(Path(s).name for s in NATMOD_SUITES)} with the natmod on {board} firmware "
              "without _tinyml ---")
        print(r.stdout.rstrip().splitlines()[-1] if r.stdout.strip() else "(no output)")
    m = re.search(r"^(\d+) passed, (\d+) failed", r.stdout, re.M)
    assert m and r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert int(m.group(1)) >= 20 and m.group(2) == "0"
    for test in ("test_native.py::test_dot_s8_extremes_do_not_overflow", "test_runtime.py::test_errors_have_messages",
                 "test_frontend.py::test_chunked_streaming_equals_one_shot"):
        assert f"PASS {test}" in r.stdout


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


def test_rp2040_image():
    """Checks the image `make firmware-rp2` produced (`make test` builds it first)."""
    import struct

    from mpyml.firmware import elf_size, elf_symbol

    out = ROOT / "build" / "RPI_PICO"
    assert (out / "firmware.uf2").is_file(), "no RP2040 image: run `make firmware-rp2` (make test builds it)"
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


def test_rp2040_model_aware_image(testdata):
    """`mpyml build --board RPI_PICO --model kws_ref_model --int8-only
    --short-errors`: an image with only the model's kernels, the runtime's
    size switches and the Cortex-M0 fast paths, whose runtime (by the linker
    map) stays within 16 KB of flash."""
    from mpyml.bench_board import firmware_flash
    from mpyml.firmware import elf_size
    from mpyml.opset import opset_from

    default = ROOT / "build" / "RPI_PICO" / "firmware.elf"
    assert default.is_file(), "no RP2040 image: run `make firmware-rp2` (make test builds it)"
    kws = testdata / "mlperf-tiny" / "kws_ref_model.tflite"
    r = subprocess.run([*MPYML, "build", "--board", "RPI_PICO", "--model", str(kws), "--int8-only", "--short-errors"],
                       capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "operators: AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE, SOFTMAX" in r.stderr
    out = ROOT / "build" / f"RPI_PICO-{opset_from([kws], switches=['int8_only', 'short_errors']).tag}"
    assert str(out / "firmware.uf2") in r.stdout and "B saved" in r.stdout
    elf = out / "firmware.elf"
    assert elf_size(elf).text < elf_size(default).text - 16384
    syms = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout.split()
    # The model's kernels with the armv6m fast paths; no other kernel.
    assert {"tml_conv2d_eval", "tml_dwconv2d_eval", "tml_fast_conv2d", "tml_fast_dwconv2d"} <= set(syms)
    assert "tml_add_eval" not in syms and "tml_mean_eval" not in syms
    # Short errors: no kernel message texts in the image.
    assert b"CONV_2D: tensors must be 4-D" not in elf.read_bytes()
    assert b"CONV_2D: tensors must be 4-D" in default.read_bytes()
    flash = firmware_flash("RPI_PICO", out / "obj" / "firmware.elf.map")
    assert flash.kernels > 4096 and flash.interpreter > 2048
    assert flash.interpreter + flash.kernels <= 16 * 1024, flash


# ---------------------------------------------------------------------------
# Conformance of the natmods on firmware without the built-in module: the
# real models byte-identical to tflite-micro, the frontend on the real
# recordings identical to the host's (itself identical to TensorFlow's op),
# and micro_speech end to end.

NATMOD_ARCH = {"unix": "x64", "qemu-m0": "armv6m", "qemu-m3": "armv7m", "qemu-m4": "armv7emsp"}
CONFORMANCE_MODELS = {
    # person_detect's 300 KB model maps from ROMFS on the QEMU boards; its
    # 78 KB arena and the 73 KB module fit next to each other on qemu-m0.
    "unix": ["micro_speech_quantized", "kws_ref_model", "person_detect"],
    "qemu-m0": ["micro_speech_quantized", "kws_ref_model", "person_detect"],
    "qemu-m3": ["micro_speech_quantized", "kws_ref_model", "person_detect"],
    "qemu-m4": ["micro_speech_quantized", "kws_ref_model", "person_detect"],
}
WAVS = ("yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav", "silence_1000ms.wav")
FE_CONFIGS = {
    "micro_speech": dict(window_size=30, window_step=20, num_channels=40),
    "op_defaults": {},
}

CONFORMANCE_SCRIPT = """
import sys, gc, array, json
from binascii import hexlify
sys.path.insert(0, NATDIR)
import _tinyml
print("MOD", _tinyml.__file__)

def load(path):
    # ROMFS files map straight from memory; elsewhere read them.
    f = open(path, "rb")
    try:
        return memoryview(f)
    except TypeError:
        data = f.read()
        f.close()
        return data

for name, path, inputs in JOBS:
    it = _tinyml.Interpreter(load(path))
    inp = it.input(0)
    xs = load(inputs)
    n = len(inp)
    outs = []
    for k in range(len(xs) // n):
        inp[:] = xs[k * n:(k + 1) * n]
        it.invoke()
        outs.append(hexlify(bytes(it.output(0))).decode())
    print("RT", name, it.arena_used, ",".join(outs))
    it = inp = xs = None
    gc.collect()

for key, cfg in FE_CONFIGS.items():
    fe = _tinyml.AudioFrontend(**cfg)
    for name, path in PCMS:
        pcm = load(path)
        n = (len(pcm) // 2 - fe.window_samples) // fe.step_samples + 1
        win = array.array("H", [0] * (n * fe.num_channels))
        fe.reset()
        got = fe.process(pcm, win)
        print("FE", key, name, got, hexlify(bytes(win)).decode())
        pcm = win = None
        gc.collect()

it = _tinyml.Interpreter(load(MICRO_SPEECH))
inp = it.input(0)
fe = _tinyml.AudioFrontend(input_scale=inp.scale, zero_point=inp.zero_point, **FE_CONFIGS["micro_speech"])
win = bytearray(49 * 40)
for name, path in PCMS:
    fe.reset()
    fe.process(load(path), win)
    inp[:] = win
    it.invoke()
    print("KWS", name, hexlify(bytes(it.output(0))).decode())
"""


def _wav(path: Path) -> np.ndarray:
    import wave

    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


@pytest.fixture(scope="module")
def conformance_case(testdata, tmp_path_factory):
    """Inputs (files) and expected results computed on the host."""
    from runtime_cases import MODELS, input_spec, tflm_outputs

    from mpyml.frontend import compute_features, to_int8
    from mpyml.runtime import Interpreter

    folder = tmp_path_factory.mktemp("natmod-conformance")
    rng = np.random.default_rng(8)
    models, expected = {}, {}
    for name in {m for ms in CONFORMANCE_MODELS.values() for m in ms}:
        path = testdata / MODELS[name]
        model = path.read_bytes()
        shape, _ = input_spec(model)
        xs = rng.integers(-128, 128, (3, *shape), dtype=np.int8)
        (folder / f"{name}.in").write_bytes(xs.tobytes())
        models[name] = (path, folder / f"{name}.in")
        expected["RT " + name] = [r.tobytes().hex() for r in tflm_outputs(model, xs)]
    pcms = []
    ms_path = testdata / MODELS["micro_speech_quantized"]
    ms_model = ms_path.read_bytes()
    inp = Interpreter(ms_model).input(0)
    for wav in WAVS:
        audio = _wav(testdata / "tflite-micro" / wav)
        pcm = folder / (wav + ".pcm")
        pcm.write_bytes(audio.tobytes())
        pcms.append((wav, str(pcm)))
        for key, cfg in FE_CONFIGS.items():
            feats = compute_features(audio, **cfg)[0]
            expected[f"FE {key} {wav}"] = (len(feats), feats.tobytes().hex())
        x = to_int8(compute_features(audio, **FE_CONFIGS["micro_speech"])[0], inp.scale, inp.zero_point)
        expected["KWS " + wav] = tflm_outputs(ms_model, x.reshape(1, *inp.shape))[0].tobytes().hex()
    return models, pcms, str(ms_path), expected


def _conformance_code(board: str, case) -> tuple[str, dict[str, bytes]]:
    models, pcms, ms_path, _ = case
    natmod = natmod_dir_for(board)
    jobs = [(name, str(models[name][0]), str(models[name][1])) for name in CONFORMANCE_MODELS[board]]
    code = (f"NATDIR = {str(natmod)!r}\nJOBS = {jobs!r}\nPCMS = {pcms!r}\nFE_CONFIGS = {FE_CONFIGS!r}\n"
            f"MICRO_SPEECH = {ms_path!r}\n" + CONFORMANCE_SCRIPT)
    files = {str(natmod / "_tinyml.mpy"): (natmod / "_tinyml.mpy").read_bytes()}
    for name in CONFORMANCE_MODELS[board]:
        for p in models[name]:
            files[str(p)] = Path(p).read_bytes()
    for _, p in pcms:
        files[p] = Path(p).read_bytes()
    return code, files


def natmod_dir_for(board: str) -> Path:
    from mpyml.natmod import natmod_dir

    return natmod_dir(NATMOD_ARCH[board])


@pytest.mark.parametrize("board", ["unix", "qemu-m0", "qemu-m3", "qemu-m4"])
def test_natmod_conformance_on_firmware_without_builtin_module(board, natmods, conformance_case, capsys):
    from mpyml.firmware import build, firmware_path

    build(board, plain=True, log=lambda m: None)
    code, files = _conformance_code(board, conformance_case)
    if board == "unix":
        r = subprocess.run([str(firmware_path(board, plain=True)), "-c", code], capture_output=True, text=True,
                           timeout=600, cwd=ROOT)
        out, err = r.stdout, r.stderr if r.returncode else ""
    else:
        from mpyml.qemu import QemuSession

        with QemuSession(board, files, ROOT, plain=True) as session:
            res = session.repl.exec(code, timeout=900)
        out, err = res.output.replace("\r\n", "\n"), res.error
    assert not err.strip(), out[-2000:] + err
    got: dict[str, object] = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "MOD":
            got["MOD"] = parts[1]
        elif parts[0] == "RT":
            got["RT " + parts[1]] = parts[3].split(",")
        elif parts[0] == "FE":
            got[f"FE {parts[1]} {parts[2]}"] = (int(parts[3]), parts[4])
        elif parts[0] == "KWS":
            got["KWS " + parts[1]] = parts[2]
    # The module really is the .mpy (the firmware has no _tinyml of its own).
    assert str(got.pop("MOD", "")).endswith("_tinyml.mpy"), out[:500]
    expected = conformance_case[3]
    wanted = {k: v for k, v in expected.items()
              if not k.startswith("RT ") or k[3:] in CONFORMANCE_MODELS[board]}
    mismatched = sorted(k for k in wanted if got.get(k) != wanted[k])
    with capsys.disabled():
        print(f"\n{board} natmod ({NATMOD_ARCH[board]}): {len(wanted) - len(mismatched)} of {len(wanted)} results "
              "identical to tflite-micro / the host frontend")
    assert not mismatched, f"{board}: differ from the host: {mismatched}"


MIP_BOARD = "qemu-m3"  # its 1 MB RAM filesystem takes the package (qemu-m0's 48 KB does not)

MIP_CHECK = """
import sys
sys.path.insert(0, "/lib")
import _tinyml, tinyml
print("MOD", _tinyml.__file__, tinyml.version())
f = open(MODEL, "rb")
it = tinyml.Interpreter(f.read())
f.close()
inp = it.input(0)
inp[:] = bytes((i * 7) & 0xFF for i in range(len(inp)))
it.invoke()
print("OUT", bytes(it.output(0)).hex())
"""


def test_mpremote_mip_installs_the_package_onto_firmware_without_the_module(natmods, tmp_path, testdata):
    """`mpremote mip install http://.../package-armv7m.json` onto the plain
    qemu-m3 firmware (on a pseudo-terminal), served by a local HTTP server;
    the installed module then runs micro_speech like tflite-micro."""
    import functools
    import threading

    from runtime_cases import tflm_outputs

    from mpyml.firmware import build
    from mpyml.qemu import QemuSession
    from mpyml.runtime import Interpreter

    build(MIP_BOARD, plain=True, log=lambda m: None)
    pkg = write_package(list(ARCHS))
    handler = functools.partial(_QuietHandler, directory=str(pkg))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    model_path = testdata / "tflite-micro" / "micro_speech_quantized.tflite"
    model = model_path.read_bytes()
    url = f"http://127.0.0.1:{server.server_address[1]}/package-{NATMOD_ARCH[MIP_BOARD]}.json"
    mpremote = [sys.executable, "-m", "mpremote"]
    try:
        # No instruction counting here: the copy over the pty runs faster.
        files = {str(model_path): model}
        with QemuSession(MIP_BOARD, files, ROOT, serial="pty", plain=True, icount=False) as s:
            inst = subprocess.run([*mpremote, "connect", s.pty, "resume", "mip", "install", "--target", "/lib", url],
                                  capture_output=True, text=True, timeout=600)
            run = subprocess.run([*mpremote, "connect", s.pty, "resume", "exec",
                                  f"MODEL = {str(model_path)!r}\n" + MIP_CHECK],
                                 capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert inst.returncode == 0, inst.stdout + inst.stderr
    manifest = json.loads((pkg / f"package-{NATMOD_ARCH[MIP_BOARD]}.json").read_text())
    for dest, _ in manifest["urls"]:
        assert f"/lib/{dest}" in inst.stdout, (dest, inst.stdout[-2000:])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "MOD /lib/_tinyml.mpy 0.1.0" in run.stdout, run.stdout
    shape = Interpreter(model).input(0).shape
    x = (np.arange(int(np.prod(shape))) * 7 & 0xFF).astype(np.uint8).view(np.int8).reshape(1, *shape)
    assert f"OUT {tflm_outputs(model, x)[0].tobytes().hex()}" in run.stdout, run.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the package folder without logging each request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


MODEL_SPECIFIC = """
import sys
sys.path.insert(0, NATDIR)
import _tinyml
f = open(SPEECH, "rb")
it = _tinyml.Interpreter(memoryview(f))
inp = it.input(0)
xs = memoryview(open(INPUTS, "rb"))
n = len(inp)
outs = []
for k in range(len(xs) // n):
    inp[:] = xs[k * n:(k + 1) * n]
    it.invoke()
    outs.append(bytes(it.output(0)).hex())
print("OUT", ",".join(outs))
try:
    _tinyml.Interpreter(memoryview(open(KWS, "rb")))
except ValueError as e:
    print("REFUSED", e)
"""


def test_model_specific_natmod_is_smaller_and_refuses_other_operators(natmods, tmp_path, testdata):
    """`mpyml natmod build armv6m --model micro_speech --int8-only`: only
    that model's kernels, on the qemu-m0 firmware without the module."""
    from runtime_cases import tflm_outputs

    from mpyml.firmware import build
    from mpyml.opset import opset_from
    from mpyml.qemu import QemuSession

    speech = testdata / "tflite-micro" / "micro_speech_quantized.tflite"
    kws = testdata / "mlperf-tiny" / "kws_ref_model.tflite"
    r = subprocess.run([*MPYML, "natmod", "build", "armv6m", "--model", str(speech), "--int8-only"],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "operators: DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE, SOFTMAX" in r.stderr
    opset = opset_from([speech], switches=["int8_only"])
    from mpyml.natmod import natmod_dir

    small = natmod_dir("armv6m", opset) / "_tinyml.mpy"
    assert str(small) in r.stdout
    full = natmods["armv6m"].size
    assert small.stat().st_size < full - 16384, (small.stat().st_size, full)
    manifest = json.loads((ROOT / "build" / "natmod" / f"package-{opset.tag}" / "package-armv6m.json").read_text())
    assert ["_tinyml.mpy", "armv6m/_tinyml.mpy"] in manifest["urls"]

    xs = np.random.default_rng(11).integers(-128, 128, (3, 1, 1960), dtype=np.int8)
    inputs = tmp_path / "speech.in"
    inputs.write_bytes(xs.tobytes())
    build("qemu-m0", plain=True, log=lambda m: None)
    files = {str(p): p.read_bytes() for p in (small, speech, kws, inputs)}
    code = (f"NATDIR = {str(small.parent)!r}\nSPEECH = {str(speech)!r}\nKWS = {str(kws)!r}\n"
            f"INPUTS = {str(inputs)!r}\n" + MODEL_SPECIFIC)
    with QemuSession("qemu-m0", files, ROOT, plain=True) as session:
        res = session.repl.exec(code, timeout=600)
    assert not res.error.strip(), res.output + res.error
    lines = dict(line.split(" ", 1) for line in res.output.replace("\r\n", "\n").splitlines() if " " in line)
    assert lines["OUT"].split(",") == [o.tobytes().hex() for o in tflm_outputs(speech.read_bytes(), xs)]
    assert "CONV_2D" in lines["REFUSED"] and "unsupported operator" in lines["REFUSED"]


def test_natmod_build_rejects_an_unknown_operator():
    r = subprocess.run([*MPYML, "natmod", "build", "armv6m", "--ops", "LSTM"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 1 and r.stderr.startswith("error: unknown operator 'LSTM'")
    assert "Traceback" not in r.stderr
