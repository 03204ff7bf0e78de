"""Instruction-count regression test of the runtime on the QEMU boards.

Under ``-icount shift=0`` instruction counts are deterministic, so each real
model's instructions per invoke (and its arena) may not grow more than the
baseline's tolerance (5%) over the committed baseline
``tests/host/data/icount_baseline.json``. After an intended change (faster
kernels, or a slower but needed fix) refresh it from the current firmware:

    mpyml bench board --board qemu-m0 --board qemu-m3 --board qemu-m4 \\
        --write-baseline tests/host/data/icount_baseline.json

The test also checks the benchmark itself: MAC counts of the models, the
per-op profile adding up to the whole invoke, the ratios to TFLM, the JSON
and baseline output of the command, and the linker-map flash figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BASELINE = Path(__file__).parent / "data" / "icount_baseline.json"
BOARDS = ["qemu-m0", "qemu-m3", "qemu-m4"]
MPYML = [sys.executable, "-m", "mpyml.cli"]


@pytest.fixture(scope="module")
def baseline() -> dict:
    assert BASELINE.is_file(), f"{BASELINE} is missing: see this module's docstring to write it"
    return json.loads(BASELINE.read_text())


@pytest.fixture(scope="module", params=BOARDS)
def measured(request, testdata):
    from mpyml.bench_board import bench_board
    from mpyml.firmware import firmware_path

    firmware_path(request.param)  # raises with the build command when missing
    return request.param, bench_board(request.param, testdata, runs=1)


def test_instructions_and_arena_within_baseline(measured, baseline):
    board, results = measured
    assert board in baseline["boards"], f"no baseline for {board}: refresh {BASELINE.name}"
    tol = baseline["tolerance"]
    assert 0 < tol <= 0.1
    base = baseline["boards"][board]
    assert {r.model for r in results} == {"micro_speech_quantized", "kws_ref_model", "person_detect"}
    over = []
    for r in results:
        b = base[r.model]
        if r.instructions > b["instructions"] * (1 + tol):
            over.append(f"{r.model}: {r.instructions:,d} instructions/invoke > baseline {b['instructions']:,d} "
                        f"+{tol:.0%} ({r.instructions / b['instructions']:.3f}x)")
        if r.arena_used > b["arena_used"] * (1 + tol):
            over.append(f"{r.model}: arena {r.arena_used:,d} B > baseline {b['arena_used']:,d} B +{tol:.0%}")
        if r.instructions < b["instructions"] * 0.8:
            print(f"\n{board} {r.model}: {r.instructions / b['instructions']:.2f}x the baseline; "
                  f"refresh {BASELINE.name} to lock the gain in")
    assert not over, f"{board} regressed (refresh {BASELINE} only if intended):\n" + "\n".join(over)
    if board == "qemu-m0":
        # `mpyml build --board RPI_PICO` reports which arenas fit the heap from
        # figures kept in rp2.py: they must be what armv6m code really uses.
        from mpyml.rp2 import MODEL_ARENAS

        assert {r.model: r.arena_used for r in results} == MODEL_ARENAS


def test_profile_adds_up_and_macs_match_the_models(measured):
    from mpyml.bench_board import TFLM

    board, results = measured
    for r in results:
        assert r.macs == TFLM[r.model]["macs"], r.model
        assert sum(p.macs for p in r.ops) == r.macs
        op_sum = sum(p.instructions for p in r.ops)
        # The per-op hook costs a few instructions per op; the Python call
        # around invoke() a few hundred.
        assert abs(op_sum - r.instructions) <= 0.01 * r.instructions + 2_000, (r.model, op_sum, r.instructions)
        # MAC ops dominate each model's work.
        mac_work = sum(p.instructions for p in r.ops if p.macs)
        assert mac_work > 0.9 * op_sum, r.model
        assert all(p.instructions > 0 for p in r.ops if p.macs)
        ratios = r.tflm_ratios()
        core = {"qemu-m0": "M0", "qemu-m3": "M3", "qemu-m4": "M4"}[board]
        assert ratios["ref"] == pytest.approx(r.instructions / TFLM[r.model]["ref"][core])
        assert ratios["arena"] == pytest.approx(r.arena_used / TFLM[r.model]["arena"])


def test_command_prints_json_and_writes_the_baseline(tmp_path, testdata):
    from mpyml.firmware import firmware_path

    firmware_path("qemu-m4")
    out = tmp_path / "base.json"
    out.write_text(json.dumps({"boards": {"qemu-m0": {"kws_ref_model": {"instructions": 1, "arena_used": 1}}}}))
    r = subprocess.run([*MPYML, "bench", "board", "--board", "qemu-m4", "--model", "micro_speech_quantized",
                        "--runs", "1", "--json-stdout", "--write-baseline", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [b["board"] for b in report] == ["qemu-m4"]
    m = report[0]["models"][0]
    assert m["model"] == "micro_speech_quantized" and m["macs"] == 336_000
    assert m["insn_per_mac"] == pytest.approx(m["instructions"] / 336_000)
    assert m["tflm"]["cmsis"] == pytest.approx(m["instructions"] / 1_495_520)
    assert [o["op"] for o in m["ops"]] == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    flash = report[0]["flash"]
    assert flash["runtime"] == flash["interpreter"] + flash["kernels"] > 0
    written = json.loads(out.read_text())
    assert written["boards"]["qemu-m4"]["micro_speech_quantized"]["instructions"] == m["instructions"]
    assert written["boards"]["qemu-m4"]["micro_speech_quantized"]["arena_used"] == m["arena_used"]
    assert written["boards"]["qemu-m0"]["kws_ref_model"]["instructions"] == 1  # other entries kept
    # The documented short form runs the same benchmark.
    r2 = subprocess.run([*MPYML, "bench", "--board", "qemu-m4", "--model", "micro_speech_quantized", "--json"],
                        capture_output=True, text=True, timeout=600)
    assert r2.returncode == 0, r2.stderr
    # (a mean of 2 invokes there, of 1 here: equal up to the timer's resolution)
    assert json.loads(r2.stdout)[0]["models"][0]["instructions"] == pytest.approx(m["instructions"], abs=200)


@pytest.mark.parametrize("args, message", [
    (["bench", "--board", "unix"], "qemu board"),
    (["bench", "--board", "qemu-m0", "board"], "without a subcommand"),
    (["bench", "board", "--board", "qemu-m4", "--model", "nope"], "unknown model"),
    (["bench", "--model", "kws_ref_model"], "needs a qemu --board"),
])
def test_command_errors_are_one_line(args, message):
    r = subprocess.run([*MPYML, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert r.stderr.startswith("error: ") and message in r.stderr and "Traceback" not in r.stderr


MAP = """Archive member included ...
Discarded input sections

 .text.tml_unused
                0x00000000       0x40 /b/obj/tinyml/../runtime/tml_interp.o

Linker script and memory map

.text           0x00000000     0x9000
 .text.tml_interp_init
                0x00001000      0x120 /b/obj/tinyml/../runtime/tml_interp.o
                0x00001000                tml_interp_init
 .text.tml_conv2d_eval
                0x00001120       0x80 /b/obj/tinyml/../runtime/kernels/tml_conv2d.o
 .rodata        0x00002000       0x10 /b/obj/tinyml/../runtime/kernels/tml_conv2d.o
 .text.pyexec_friendly_repl
                0x00003000      0x200 /b/obj/shared/runtime/pyexec.o
 .text.interp_call
                0x00003200       0x30 /b/obj/tinyml/mod_interpreter.o
 .bss.tml_state 0x20000000      0x100 /b/obj/tinyml/../runtime/tml_op.o
 .data.tml_tab  0x20000100        0x8 /b/obj/core/tml_common.o
"""


def test_flash_size_counts_only_kept_runtime_sections():
    from mpyml.bench_board import _group, parse_map

    sizes = parse_map(MAP)
    assert sizes["/b/obj/tinyml/../runtime/tml_interp.o"] == 0x120  # not the discarded section
    assert sizes["/b/obj/tinyml/../runtime/kernels/tml_conv2d.o"] == 0x90
    assert "/b/obj/tinyml/../runtime/tml_op.o" not in sizes  # .bss takes no flash
    assert sizes["/b/obj/core/tml_common.o"] == 8
    groups = {obj: _group(obj) for obj in sizes}
    assert groups["/b/obj/shared/runtime/pyexec.o"] is None  # MicroPython's own shared/runtime
    assert groups["/b/obj/tinyml/mod_interpreter.o"] == "glue"
    assert groups["/b/obj/tinyml/../runtime/kernels/tml_conv2d.o"] == "kernels"
    assert groups["/b/obj/core/tml_common.o"] == "interpreter"
    with pytest.raises(Exception, match="map"):
        parse_map("not a map")


def test_unix_profile_has_one_count_per_op(run_mp, testdata):
    """profile() runs the model like invoke() (same outputs) and gives one
    count per op (microseconds on the Unix port)."""
    path = testdata / "mlperf-tiny" / "kws_ref_model.tflite"
    r = run_mp(f"import tinyml\nit = tinyml.Interpreter(open({str(path)!r}, 'rb').read())\n"
               "x = bytes((i * 37) & 0xff for i in range(it.input(0).nbytes))\n"
               "it.input(0)[:] = x\np = it.profile()\na = it.output(0)[:]\n"
               "it.input(0)[:] = x\nit.invoke()\nb = it.output(0)[:]\n"
               "print(len(p), len(it.ops), all(isinstance(v, int) and v >= 0 for v in p), a == b, len(set(a)) > 1)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["13", "13", "True", "True", "True"]

