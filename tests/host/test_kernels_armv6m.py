"""The Cortex-M0/M0+ fast paths (native_modules/runtime/kernels/tml_fast_armv6m.c).

- Their requantization without 64-bit products (tml_fast_armv6m_requant.h) is
  compiled for the host and compared with the shared tml_mul_by_quantized_mult
  and with an exact integer model, on edge operands, on operands next to
  rounding boundaries and on a large random sweep.
- Single-op models shaped for the paths' chunking and remainder code (more
  than 32 output channels, channel counts that are not multiples of four,
  odd depths, kernels of 5 rows, depth multipliers on one input channel,
  border pixels, batches), and for the general paths (groups, dilations,
  depth multipliers, any kernel, weights with a zero point: on this core the
  fast paths compute every shape), run on the qemu-m0 firmware in one boot;
  every output byte must equal TFLM's.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import qemu_opcases as oc
from test_kernel_quant import mbqm, quantize_multiplier

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


@pytest.fixture(scope="module")
def requant_driver(root, tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("a C compiler (gcc) is needed for the requantization check")
    exe = tmp_path_factory.mktemp("m0rq") / "m0_requant_check"
    rt = root / "native_modules" / "runtime"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                    f"-I{rt / 'kernels'}", f"-I{rt}", f"-I{root / 'native_modules' / 'core'}",
                    str(root / "tests" / "host" / "csrc" / "m0_requant_check.c"), "-o", str(exe), "-lm"], check=True)
    return exe


def _operands(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    mults = [(1 << 30) + 1, (1 << 30) + 2, I32_MAX, I32_MAX - 1, 1518500250]
    for real in rng.uniform(1e-5, 0.99, 40):
        m, s = quantize_multiplier(float(real))
        if s < 0:
            mults.append(m)
    edges = [0, 1, -1, 2, -2, I32_MAX, I32_MIN, I32_MIN + 1, 65535, 65536, -65536, -65537, 1 << 30, -(1 << 30)]
    rows = []
    for m in mults:
        for e in range(1, 17):
            xs = list(edges) + [int(v) for v in rng.integers(I32_MIN, I32_MAX, 6, endpoint=True)]
            # Next to odd multiples of half an output step, where both
            # roundings decide.
            for k in rng.integers(-(1 << 14), 1 << 14, 4):
                centre = (2 * int(k) + 1) * (1 << (30 + e))
                for d in (-2, -1, 0, 1, 2):
                    x = centre // m + d
                    if I32_MIN <= x <= I32_MAX:
                        xs.append(x)
            rows += [(x, m, -e) for x in xs]
    return rows


def test_m0_requant_equals_shared_definition(requant_driver):
    rows = _operands(np.random.default_rng(5))
    out = subprocess.run([str(requant_driver)], input="".join(f"{x} {m} {s}\n" for x, m, s in rows),
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == 3 * len(rows)
    for i, (x, m, s) in enumerate(rows):
        ok, fast, ref = (int(v) for v in out[3 * i:3 * i + 3])
        assert ok == 1, (x, m, s)
        want = mbqm(x, m, s)
        assert ref == want, (x, m, s)
        assert fast == want, f"x={x} m={m} shift={s}: {fast} != {want}"


def test_m0_requant_declines_operands_outside_its_range(requant_driver):
    """Multipliers of exactly 0.5 (or below), no right shift, left shifts
    and shifts beyond 16 bits go to the shared function."""
    rows = [(5, 1 << 30, -3), (-1, 1 << 30, -1), (5, 0, -3), (5, I32_MAX, 0), (5, I32_MAX, 2), (5, I32_MAX, -17)]
    out = subprocess.run([str(requant_driver)], input="".join(f"{x} {m} {s}\n" for x, m, s in rows),
                         capture_output=True, text=True, check=True).stdout.split()
    assert [int(out[3 * i]) for i in range(len(rows))] == [0] * len(rows)


def test_m0_requant_random_sweep(requant_driver):
    out = subprocess.run([str(requant_driver), "4000000", "17"], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["mismatches", "0", "of", "4000000"]


# Shapes for the armv6m paths: output chunks of 32 channels with remainders,
# the patch of padded pixels, depths of every remainder modulo 4 (the entry
# into the four-step loop: 48, 13, 54, 40, 300, 1, 35), five kernel rows,
# one input channel with depth multipliers 13 and 5 (border pixels read in
# place), dense layers in several chunks.
M0_CASES = (
    oc.LayerCase("m0_conv1x1_48x70", "CONV_2D", (1, 5, 4, 48), (1, 1), 70, activation="RELU"),
    oc.LayerCase("m0_conv1x1_s2_13x36_batch2", "CONV_2D", (2, 7, 7, 13), (1, 1), 36, stride=2),
    oc.LayerCase("m0_conv3x3_6x37", "CONV_2D", (1, 6, 7, 6), (3, 3), 37, activation="RELU6"),
    oc.LayerCase("m0_conv10x4_s2_valid_20", "CONV_2D", (1, 20, 9, 1), (10, 4), 20, stride=2, padding="VALID"),
    oc.LayerCase("m0_dw3x3_36", "DEPTHWISE_CONV_2D", (1, 6, 5, 36), (3, 3), activation="RELU6"),
    oc.LayerCase("m0_dw3x3_s2_100_batch2", "DEPTHWISE_CONV_2D", (2, 7, 6, 100), (3, 3), stride=2,
                 per_channel=False),
    oc.LayerCase("m0_dw5x3_8", "DEPTHWISE_CONV_2D", (1, 7, 4, 8), (5, 3)),
    oc.LayerCase("m0_dw3x3_valid_one_pixel", "DEPTHWISE_CONV_2D", (1, 3, 3, 4), (3, 3), padding="VALID"),
    oc.LayerCase("m0_dw4x3_dm13_s2", "DEPTHWISE_CONV_2D", (1, 9, 8, 1), (4, 3), depth_multiplier=13, stride=2),
    oc.LayerCase("m0_dw5x5_dm5_valid_batch2", "DEPTHWISE_CONV_2D", (2, 8, 7, 1), (5, 5), depth_multiplier=5,
                 padding="VALID", activation="RELU"),
    oc.LayerCase("m0_fc_300x70_rows2", "FULLY_CONNECTED", (2, 300), out_ch=70),
    oc.LayerCase("m0_fc_1x9_per_tensor", "FULLY_CONNECTED", (1, 1), out_ch=9, per_channel=False),
    oc.LayerCase("m0_fc_35x36_per_tensor", "FULLY_CONNECTED", (3, 35), out_ch=36, per_channel=False,
                 activation="RELU6"),
    # The general paths (every shape is computed by the fast path on this
    # core; the portable loops are not in its firmware): groups, dilations,
    # depth multipliers on several input channels, kernels other than three
    # wide, channel counts that are not multiples of four.
    oc.LayerCase("m0_conv3x3_groups3", "CONV_2D", (1, 7, 6, 6), (3, 3), 9, groups=3, activation="RELU"),
    oc.LayerCase("m0_conv1x1_groups2_80", "CONV_2D", (1, 3, 4, 8), (1, 1), 80, groups=2),
    oc.LayerCase("m0_conv3x3_dil2", "CONV_2D", (1, 9, 8, 5), (3, 3), 7, dilation=2),
    oc.LayerCase("m0_dw3x3_dil2_12", "DEPTHWISE_CONV_2D", (1, 8, 7, 12), (3, 3), dilation=2),
    oc.LayerCase("m0_dw5x5_dm2_3", "DEPTHWISE_CONV_2D", (1, 7, 6, 3), (5, 5), depth_multiplier=2,
                 activation="RELU6"),
    oc.LayerCase("m0_dw3x3_s2_dm3_5", "DEPTHWISE_CONV_2D", (2, 7, 8, 5), (3, 3), depth_multiplier=3, stride=2),
    oc.LayerCase("m0_dw2x2_dm3_one_channel", "DEPTHWISE_CONV_2D", (1, 6, 5, 1), (2, 2), depth_multiplier=3),
    oc.LayerCase("m0_dw3x3_dil2_one_channel_dm8", "DEPTHWISE_CONV_2D", (1, 9, 7, 1), (3, 3), depth_multiplier=8,
                 dilation=2),
    oc.LayerCase("m0_dw3x3_19", "DEPTHWISE_CONV_2D", (1, 5, 6, 19), (3, 3), per_channel=False),
    oc.LayerCase("m0_dw1x7_40", "DEPTHWISE_CONV_2D", (1, 4, 9, 40), (1, 7), activation="RELU"),
)
# Dense layers whose weights get a zero point after conversion (converters
# write symmetric weights; the schema and TFLM allow any).
M0_FILTER_ZP_CASES = (
    (oc.LayerCase("m0_fc_37x9_filter_zp3", "FULLY_CONNECTED", (2, 37), out_ch=9, per_channel=False), 3),
    (oc.LayerCase("m0_fc_300x40_filter_zp-7", "FULLY_CONNECTED", (1, 300), out_ch=40, per_channel=False), -7),
)


def _with_filter_zero_point(tflite: bytes, zp: int) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    sub = model.subgraphs[0]
    op = next(o for o in sub.operators if len(o.inputs) >= 3)
    sub.tensors[op.inputs[1]].quantization.zeroPoint = [zp]
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def m0_cases() -> list[oc.PackedCase]:
    from mpyml import opgen

    tf = opgen._import_tf()
    packed = []
    for i, lc in enumerate(M0_CASES):
        tflite = oc.build_layer_case(tf, lc, 3000 + i)
        rng = np.random.default_rng(4000 + i)
        sets = [[rng.integers(-128, 128, tuple(int(s) for s in d["shape"]), dtype=np.int8)
                 for d in oc._input_details(tflite)] for _ in range(oc.INPUT_SETS)]
        packed.append(oc.pack(lc.name, lc.op, lc.params, tflite, sets))
    for i, (lc, zp) in enumerate(M0_FILTER_ZP_CASES):
        tflite = _with_filter_zero_point(oc.build_layer_case(tf, lc, 3500 + i), zp)
        rng = np.random.default_rng(4500 + i)
        sets = [[rng.integers(-128, 128, lc.in_shape, dtype=np.int8)] for _ in range(oc.INPUT_SETS)]
        packed.append(oc.pack(lc.name, lc.op, {**lc.params, "filter_zero_point": zp}, tflite, sets))
    # A copy of the first case with one expected byte changed: the device
    # comparison must report it.
    exp = bytearray(packed[0].expected)
    exp[7] ^= 0x01
    packed.append(replace(packed[0], name="canary", expected=bytes(exp)))
    return packed


def test_armv6m_paths_match_tflm_on_qemu_m0(m0_cases):
    from mpyml.firmware import firmware_path
    from mpyml.qemu import QemuSession

    firmware_path("qemu-m0")  # raises with the build command when missing
    with QemuSession("qemu-m0", oc.device_files(m0_cases)) as session:
        r = session.repl.exec(oc.device_code(m0_cases), timeout=600)
    assert not r.error.strip(), r.error[-2000:]
    res = oc.parse_results(r.output)
    assert res.done == len(m0_cases)
    failures = [f"{c.name}: {res.status.get(i, 'missing')}" for i, c in enumerate(m0_cases[:-1])
                if not res.status.get(i, "").startswith("OK")]
    assert not failures, "\n".join(failures)
    canary = res.status.get(len(m0_cases) - 1, "").split()
    assert canary[:2] == ["BAD", str(len(m0_cases) - 1)] and canary[2:5] == ["0", "0", "7"], canary
