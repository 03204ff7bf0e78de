"""Model-aware firmware (`mpyml build --model/--ops`): the op list comes from
the models, the firmware registers only those kernels (smaller text), runs
the model byte-identically and refuses a model needing another op, naming it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mpyml.errors import MpymlError
from mpyml.opset import HEADER_NAME, model_ops, opset_from, registry_ops
from mpyml.tflite_model import read_model
from runtime_cases import MODELS, tflm_outputs

MPYML = [sys.executable, "-m", "mpyml.cli"]
SPEECH = MODELS["micro_speech_quantized"]
KWS = MODELS["kws_ref_model"]


def test_op_set_is_the_union_of_the_models_ops(testdata):
    speech, kws = testdata / SPEECH, testdata / KWS
    expected = set(read_model(speech.read_bytes()).op_names) | set(read_model(kws.read_bytes()).op_names)
    s = opset_from([speech, kws])
    assert set(s.ops) == expected and list(s.ops) == sorted(s.ops)
    assert "CONV_2D" in s.ops and "ADD" not in s.ops
    assert opset_from([speech]).tag != s.tag
    # Explicit names add to the models' ops, case-insensitively.
    assert set(opset_from([speech], ["add", " MEAN "]).ops) == set(model_ops(speech)) | {"ADD", "MEAN"}


def test_package_folder_gives_its_manifests_model(testdata, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "net.tflite").write_bytes((testdata / KWS).read_bytes())
    (pkg / "manifest.json").write_text(json.dumps({"model": {"file": "net.tflite"}}))
    assert model_ops(pkg) == read_model((testdata / KWS).read_bytes()).op_names
    (pkg / "manifest.json").write_text(json.dumps({"model": {"file": "missing.tflite"}}))
    with pytest.raises(MpymlError, match="missing.tflite is missing"):
        model_ops(pkg)


def test_bad_op_lists_are_refused(testdata, tmp_path):
    with pytest.raises(MpymlError, match=r"unknown operator 'LSTM'"):
        opset_from([], ["LSTM"])
    with pytest.raises(MpymlError, match="the op set is empty"):
        opset_from([], [""])
    with pytest.raises(MpymlError, match="no such model package"):
        opset_from([tmp_path / "nothing"])


def test_header_selects_exactly_the_registry_entries(testdata, tmp_path, root):
    """The registry compiled with the generated header holds the chosen ops,
    in table order, and nothing else."""
    s = opset_from([testdata / SPEECH])
    header = s.write_header(tmp_path)
    assert header.name == HEADER_NAME
    native = root / "native_modules"
    prog = tmp_path / "list.c"
    prog.write_text(textwrap.dedent("""
        #include <stdio.h>
        #include "tml_op.h"
        int main(void) {
            for (const tml_op_registration_t *r = tml_op_registry; r->name; r++) {
                printf("%s\\n", r->name);
            }
            return 0;
        }
    """))
    kernels = sorted((native / "runtime" / "kernels").glob("*.c"))
    srcs = [*kernels, *(native / "runtime").glob("*.c"), *(native / "core").glob("*.c")]
    exe = tmp_path / "list"
    incs = [f"-I{native / d}" for d in ("core", "runtime", "runtime/kernels")]
    for define, want in ((f'-DTML_OPS_HEADER="{header}"', [n for n in registry_ops() if n in s.ops]),
                         ("-DTML_DEFAULT_OPS=1", registry_ops())):
        r = subprocess.run(["gcc", "-std=c99", "-O0", define, *incs, str(prog), *map(str, srcs), "-lm", "-o", str(exe)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == want


SCRIPT = textwrap.dedent("""
    import sys, tinyml
    m = open(sys.argv[1], "rb").read()
    it = tinyml.Interpreter(m)
    inp, out = it.input(0), it.output(0)
    data = open(sys.argv[2], "rb").read()
    n = len(inp)
    res = []
    for k in range(len(data) // n):
        inp[:] = data[k * n:(k + 1) * n]
        it.invoke()
        res.append(bytes(out).hex())
    print("OUT", ",".join(res))
    try:
        tinyml.Interpreter(open(sys.argv[3], "rb").read())
        print("LOADED")
    except ValueError as e:
        print("REFUSED", e)
""")


def test_model_aware_unix_firmware(testdata, tmp_path, root):
    """Build the Unix firmware for micro_speech only: it is smaller than the
    default build, gives TFLM's outputs, and refuses kws_ref_model (CONV_2D)."""
    from mpyml.firmware import elf_size, firmware_path

    default = firmware_path("unix")  # raises with the build command when missing
    r = subprocess.run([*MPYML, "build", "--board", "unix", "--model", str(testdata / SPEECH)],
                       capture_output=True, text=True, timeout=1800, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "operators: DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE, SOFTMAX" in r.stderr
    fw = root / "build" / f"unix-{opset_from([testdata / SPEECH]).tag}" / "micropython"
    assert str(fw) in r.stdout and "B saved" in r.stdout
    small, full = elf_size(fw).text, elf_size(default).text
    assert small < full - 4096, (small, full)

    model = (testdata / SPEECH).read_bytes()
    xs = np.random.default_rng(9).integers(-128, 128, (3, 1, 1960), dtype=np.int8)
    (tmp_path / "in.bin").write_bytes(xs.tobytes())
    (tmp_path / "t.py").write_text(SCRIPT)
    run = subprocess.run([str(fw), str(tmp_path / "t.py"), str(testdata / SPEECH), str(tmp_path / "in.bin"),
                          str(testdata / KWS)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines() if " " in line)
    assert lines["OUT"].split(",") == [o.tobytes().hex() for o in tflm_outputs(model, xs)]
    assert lines["REFUSED"] == "unsupported operator CONV_2D (code 3)"


def _runner(root, tmp_path, name: str, defines: list[str]):
    """tests/host/csrc/rt_run.c linked with the runtime built with `defines`."""
    native = root / "native_modules"
    srcs = [*sorted((native / "runtime" / "kernels").glob("*.c")), *sorted((native / "runtime").glob("*.c")),
            *sorted((native / "core").glob("*.c"))]
    exe = tmp_path / name
    incs = [f"-I{native / d}" for d in ("core", "runtime", "runtime/kernels")]
    r = subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", *defines, *incs,
                        str(root / "tests" / "host" / "csrc" / "rt_run.c"), *map(str, srcs), "-lm", "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]

    def run(model, inputs=None) -> str:
        args = [str(exe), str(model)] + ([str(inputs)] if inputs is not None else [])
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    return run


def test_size_switches_keep_int8_results_and_shorten_errors(testdata, tmp_path, root):
    """The smallest configuration (micro_speech's ops, int8 only, status
    texts, portable kernels) gives TFLM's outputs; a model needing another op
    is refused by code, a malformed one with the status text. The same op set
    with full texts names the operator."""
    header = opset_from([testdata / SPEECH]).write_header(tmp_path)
    op_define = f'-DTML_OPS_HEADER="{header}"'
    small = _runner(root, tmp_path, "small", [op_define, "-DTML_ERROR_TEXT=0", "-DTML_KERNELS_FLOAT32=0", "-DTML_FAST_NONE"])
    full = _runner(root, tmp_path, "full", [op_define])
    model = (testdata / SPEECH).read_bytes()
    xs = np.random.default_rng(21).integers(-128, 128, (3, 1, 1960), dtype=np.int8)
    (tmp_path / "in.bin").write_bytes(xs.tobytes())
    expected = [o.tobytes().hex() for o in tflm_outputs(model, xs)]
    for run in (small, full):
        out = run(testdata / SPEECH, tmp_path / "in.bin").split()
        assert out[0] == "OK" and out[2:] == expected
    assert small(testdata / KWS) == "ERR 6 unsupported operator code 3"
    assert full(testdata / KWS) == "ERR 6 unsupported operator CONV_2D (code 3)"
    bad = bytearray(model)
    bad[4:8] = b"XXXX"
    (tmp_path / "bad.tflite").write_bytes(bad)
    assert small(tmp_path / "bad.tflite") == "ERR 4 malformed model"
    assert full(tmp_path / "bad.tflite") == "ERR 4 not a TFLite model (no TFL3 identifier)"


@pytest.mark.parametrize("board", ["ESP32_S3", "NRF52840"])
def test_model_aware_builds_of_other_boards_are_refused(board, root):
    r = subprocess.run([*MPYML, "build", "--board", board, "--ops", "CONV_2D"], capture_output=True, text=True,
                       timeout=300, cwd=root)
    assert r.returncode != 0
    assert (f"error: model-aware builds (--model/--ops) support the unix, qemu and RPI_PICO boards, not {board}"
            in r.stderr), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
