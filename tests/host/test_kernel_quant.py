"""The kernels' fixed-point primitives (tml_quant.h) against an independent model.

A small C driver (csrc/quant_check.c) is compiled against the header and fed
random and edge-case operands; the rounding primitives must match an exact
integer model of gemmlowp's arithmetic written here in Python, and the
fixed-point exp / logistic / tanh / reciprocal must stay within gemmlowp's own
accuracy bounds of the real functions.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    t = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(t) >> 31
    return q if t >= 0 else -q


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > threshold else 0)


def mbqm(x: int, m: int, s: int) -> int:
    return rdbpot(srdhm(_wrap32(x << max(s, 0)), m), max(-s, 0))


def quantize_multiplier(r: float) -> tuple[int, int]:
    if r <= 0:
        return 0, 0
    q, e = math.frexp(r)
    scaled = q * (1 << 31)          # exact: q has 53 significant bits
    qf = int(math.floor(scaled + 0.5))
    if qf == 1 << 31:
        qf //= 2
        e += 1
    if e < -31:
        return 0, 0
    return qf, min(e, 31)


@pytest.fixture(scope="module")
def driver(root, tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("a C compiler (gcc) is needed for the kernel primitive checks")
    exe = tmp_path_factory.mktemp("quant") / "quant_check"
    src = root / "tests" / "host" / "csrc" / "quant_check.c"
    nm = root / "native_modules"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                    f"-I{nm / 'runtime' / 'kernels'}", f"-I{nm / 'runtime'}", f"-I{nm / 'core'}",
                    str(src), "-o", str(exe), "-lm"], check=True)
    return exe


def _run(driver: Path, lines: list[str]) -> list[str]:
    out = subprocess.run([str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[: len(lines)]


def _edge_ints(rng: np.random.Generator, n: int) -> list[int]:
    edges = [0, 1, -1, 2, -2, I32_MAX, I32_MIN, I32_MIN + 1, 1 << 30, -(1 << 30), 12345, -12345]
    return edges + [int(v) for v in rng.integers(I32_MIN, I32_MAX, size=n, endpoint=True)] + \
        [int(v) for v in rng.integers(-70000, 70000, size=n)]


def test_rounding_doubling_high_mul_and_divide_by_pot(driver):
    rng = np.random.default_rng(1)
    xs = _edge_ints(rng, 300)
    ys = list(reversed(xs))
    pairs = list(zip(xs, ys)) + [(I32_MIN, I32_MIN), (I32_MIN, I32_MAX)]
    got = _run(driver, [f"srdhm {a} {b}" for a, b in pairs])
    assert [int(g) for g in got] == [srdhm(a, b) for a, b in pairs]
    cases = [(x, int(e)) for x in xs for e in (0, 1, 5, 17, 31)][:1500]
    got = _run(driver, [f"rdbpot {x} {e}" for x, e in cases])
    assert [int(g) for g in got] == [rdbpot(x, e) for x, e in cases]


def test_multiply_by_quantized_multiplier(driver):
    rng = np.random.default_rng(2)
    cases = []
    for x in _edge_ints(rng, 200):
        m = int(rng.integers(1 << 30, 1 << 31))
        s = int(rng.integers(-31, 8))
        cases.append((x, m, s))
    got = _run(driver, [f"mbqm {x} {m} {s}" for x, m, s in cases])
    assert [int(g) for g in got] == [mbqm(x, m, s) for x, m, s in cases]


def test_quantize_multiplier(driver):
    rng = np.random.default_rng(3)
    reals = [0.0, 1.0, 0.5, 0.25, 1e-12, 1e-10, 3.0, 1 - 2 ** -40, 2.0 ** -31, 2.0 ** -33] + \
        [float(v) for v in np.exp(rng.uniform(-25, 10, size=300))]
    got = _run(driver, [f"qmul {r!r}" for r in reals])
    for r, line in zip(reals, got):
        m, s = (int(v) for v in line.split())
        assert (m, s) == quantize_multiplier(r), r
        if m:
            assert abs(m * 2.0 ** (s - 31) - r) <= r * 2 ** -30


def test_fixed_point_functions_track_the_real_ones(driver):
    rng = np.random.default_rng(4)
    # exp on Q5.26 inputs in [-32, 0].
    xs = [0, -1, -(1 << 26), -(1 << 30)] + [int(v) for v in rng.integers(-(1 << 31) + 1, 0, size=300)]
    got = [int(g) for g in _run(driver, [f"exp {x} 5" for x in xs])]
    for x, g in zip(xs, got):
        assert abs(g / 2 ** 31 - math.exp(x / 2 ** 26)) < 3e-7 + 2 ** -31, x
    # logistic and tanh on Q4.27 inputs.
    xs = [0, 1, -1, I32_MAX, I32_MIN + 1] + [int(v) for v in rng.integers(I32_MIN + 1, I32_MAX, size=300)]
    got = [int(g) for g in _run(driver, [f"logistic {x} 4" for x in xs])]
    for x, g in zip(xs, got):
        assert abs(g / 2 ** 31 - 1 / (1 + math.exp(-x / 2 ** 27))) < 2e-7 + 2 ** -31, x
    got = [int(g) for g in _run(driver, [f"tanh {x} 4" for x in xs])]
    for x, g in zip(xs, got):
        assert abs(g / 2 ** 31 - math.tanh(x / 2 ** 27)) < 3e-7, x
    # reciprocal of a Q12.19 sum, as used by SOFTMAX.
    sums = [1 << 19, (1 << 19) + 1, 3 << 19, I32_MAX] + [int(v) for v in rng.integers(1 << 19, I32_MAX, size=200)]
    got = _run(driver, [f"recip {s} 12" for s in sums])
    for s, line in zip(sums, got):
        r, over = (int(v) for v in line.split())
        approx = r / 2 ** 31 / 2 ** over
        assert abs(approx - 1 / (s / 2 ** 19)) <= 2e-8 / 2 ** over + 1e-9, s


def test_activation_ranges(driver):
    rng = np.random.default_rng(5)
    lines, expect = [], []
    for _ in range(200):
        scale = np.float32(np.exp(rng.uniform(-8, 0)))
        zp = int(rng.integers(-128, 128))
        act = int(rng.integers(0, 4))

        def q(f: float) -> int:
            v = np.float32(f) / scale
            return zp + int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))

        lo, hi = -128, 127
        if act == 1:
            lo = max(lo, q(0.0))
        elif act == 2:
            lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
        elif act == 3:
            lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
        lines.append(f"act {act} {float(scale)!r} {zp}")
        expect.append((0, lo, hi))
    lines.append("act 4 0.1 0")     # TANH is not a fused activation the kernels take
    got = [tuple(int(v) for v in line.split()) for line in _run(driver, lines)]
    assert got[:-1] == expect
    assert got[-1][0] != 0
