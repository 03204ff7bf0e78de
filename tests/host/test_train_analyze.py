"""`mpyml analyze`: per-layer table, MACs, arena figures, board fit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mpyml.analyze import Analysis, analyze_file, board_fit
from mpyml.errors import MpymlError


def test_kws_reference_model_layers(testdata):
    a = analyze_file(testdata / "mlperf-tiny" / "kws_ref_model.tflite")
    assert [l.op for l in a.layers[:3]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    first = a.layers[0]
    # conv 10x4, 64 filters over a 49x10x1 input, stride 2: 25x5x64 outputs x 40 MACs each.
    assert first.output_shape == [1, 25, 5, 64]
    assert first.macs == 25 * 5 * 64 * 10 * 4
    assert first.weights == 64 * 10 * 4 + 64
    dw = a.layers[1]
    assert dw.macs == 25 * 5 * 64 * 9
    assert a.macs == 2_656_768
    assert a.rom_bytes < a.model_bytes
    # Planning: naive sum of every activation > TFLM's planned arena > largest live set.
    assert a.arena_naive > a.arena_tflm > a.arena_peak_live
    assert a.arena_tflm == 24_272


def test_micro_speech_macs_and_arena(testdata):
    a = analyze_file(testdata / "tflite-micro" / "micro_speech_quantized.tflite")
    assert a.macs == 336_000
    assert a.arena_tflm == 7_584
    assert a.layers[-1].op == "SOFTMAX" and a.layers[-1].output_shape == [1, 4]


def _fake(model_bytes: int, arena: int) -> Analysis:
    return Analysis(model_bytes, [], 0, 0, 0, arena * 3, arena // 2, arena, None, [1, 4], [1, 2], [])


def test_board_fit_uses_the_board_budget():
    from mpyml.boards import get_board

    b = get_board("RPI_PICO")
    flash = b.flash_bytes - (b.firmware_flash_bytes or 0)
    ok = board_fit(_fake(flash - 1, b.ram_bytes - 1), "RPI_PICO")
    assert ok["fits"] and ok["flash_budget"] == flash
    assert not board_fit(_fake(flash + 1, 1000), "RPI_PICO")["fits"]
    assert not board_fit(_fake(1000, b.ram_bytes + 1), "RPI_PICO")["fits"]
    assert board_fit(_fake(10**9, 10**9), "unix")["fits"]
    with pytest.raises(MpymlError, match="unknown board"):
        board_fit(_fake(1, 1), "no-such-board")


def test_analyze_cli(testdata):
    r = subprocess.run([sys.executable, "-m", "mpyml.cli", "analyze", str(testdata / "tflite-micro" / "person_detect.tflite"),
                        "--board", "RPI_PICO"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "DEPTHWISE_CONV_2D" in r.stdout and "7,157,888" in r.stdout
    assert "board RPI_PICO: fits" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "mpyml.cli", "analyze", str(testdata / "README.md")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.startswith("error: not a TensorFlow Lite model")
