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
    # The prepare-time helpers live in tml_quant.c; unused code of the
    # runtime sources it needs is dropped at link time.
    rt = nm / "runtime"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                    "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
                    f"-I{rt / 'kernels'}", f"-I{rt}", f"-I{nm / 'core'}",
                    str(src), str(rt / "kernels" / "tml_quant.c"), str(rt / "tml_op.c"), str(rt / "tml_fb.c"),
                    "-o", str(exe), "-lm"], check=True)
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


def _f32(v) -> str:
    return float(np.float32(v)).hex()


def _positive_f32(rng: np.random.Generator, n: int) -> list[float]:
    """Random positive finite float32 values: realistic scales, whole-range
    bit patterns (subnormals included) and a few edges."""
    real = np.exp(rng.uniform(-25, 6, size=n)).astype(np.float32)
    bits = rng.integers(1, 0x7F800000, size=n, dtype=np.uint32).view(np.float32)
    edges = np.array([1.0, 0.5, 2.0, 1.5, 3.0, 1e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38, 0.1,
                      1.0 - 2.0 ** -24, 1.0 + 2.0 ** -23], dtype=np.float32)
    return [float(v) for v in np.concatenate([real, bits, edges])]


def test_integer_multiplier_is_bit_exact_with_double(driver):
    """The multipliers of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED come
    from integer arithmetic (no soft double on Cortex-M0); they must equal
    the double computation of the reference for every float triple."""
    rng = np.random.default_rng(11)
    xs = _positive_f32(rng, 1500)
    n = len(xs)
    cases = [(xs[i], xs[(i * 7 + 3) % n], xs[(i * 13 + 5) % n]) for i in range(n)]
    # Typical per-channel convolution scales.
    cases += [(float(np.float32(a)), float(np.float32(b)), float(np.float32(c))) for a, b, c in
              zip(rng.uniform(0.005, 0.5, 3000), np.exp(rng.uniform(-12, -3, 3000)), rng.uniform(0.005, 0.5, 3000))]
    # Ratios near powers of two and near the rounding to 2^31.
    cases += [(1.0, 1.0, float(np.float32(1.0 + k * 2.0 ** -23))) for k in range(-4, 5)]
    # Zero, negative, infinite and NaN operands give 0 in both.
    cases += [(0.0, 1.0, 1.0), (-1.0, 1.0, 1.0), (-1.0, -1.0, 1.0), (1.0, 1.0, 0.0), (math.inf, 1.0, 1.0),
              (1.0, 1.0, math.inf), (math.nan, 1.0, 1.0), (-2.0, 3.0, -0.5)]
    got = _run(driver, [f"qabc {_f32(a)} {_f32(b)} {_f32(c)}" for a, b, c in cases])
    bad = [(c, g) for c, g in zip(cases, got) if g.split()[:2] != g.split()[2:]]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[:3]}"
    assert sum(g.split()[0] != "0" for g in got) > len(cases) // 2  # most cases give a real multiplier


def test_softmax_multiplier_and_radius_are_bit_exact(driver):
    rng = np.random.default_rng(12)
    xs = _positive_f32(rng, 600)
    betas = [1.0, 0.5, 2.0] + xs[:300]
    cases = [(b, s, 5) for b in betas[:40] for s in xs[::13]][:3000]
    cases += [(1.0, float(np.float32(2.0 ** k)), 5) for k in range(-40, 10)]
    cases += [(b, s, 5) for b, s in zip(betas, reversed(xs))]
    got = _run(driver, [f"smx {_f32(b)} {_f32(s)} 5" for b, s, _ in cases])
    bad = [(c, g) for c, g in zip(cases, got) if g.split()[:3] != g.split()[3:] and not (g.split()[0] == g.split()[3] == "0")]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[:3]}"
    assert {g.split()[0] for g in got} == {"0", "1"}  # both outcomes covered
    cases = [(ib, ls) for ib in (0, 3, 4, 5, 8, 12) for ls in range(0, 40)]
    got = _run(driver, [f"radius {ib} {ls}" for ib, ls in cases])
    assert all(g.split()[0] == g.split()[1] for g in got), got


def _qexact_model(q: int, sticky: int, e: int) -> tuple[int, int]:
    """q * 2^e (plus a nonzero remainder below q's last bit when sticky),
    rounded to a double (53 bits, ties to even), then quantize_multiplier()."""
    top = q.bit_length() - 1
    if top > 52:
        k = top - 52
        low, q = q & ((1 << k) - 1), q >> k
        e += k
        half = 1 << (k - 1)
        if low > half or (low == half and (sticky or q & 1)):
            q += 1
    return quantize_multiplier(math.ldexp(float(q), e))


def test_double_rounding_before_the_multiplier(driver):
    """Quotients just below a tie of the 31-bit multiplier: rounding to the
    double first moves them onto the tie (then away from zero), as the
    reference's double does; sticky bits and ties to even included."""
    rng = np.random.default_rng(13)
    cases = []
    for _ in range(400):
        m31 = int(rng.integers(1 << 30, 1 << 31))
        for shift_bits in (23, 24, 26):
            tie = ((2 * m31 + 1) << (shift_bits - 1))  # exactly half-way below 31 bits, 54+ bits long
            base = tie << (55 - tie.bit_length()) if tie.bit_length() < 55 else tie
            for d in (-2, -1, 0, 1):
                cases.append((base + d, int(rng.integers(0, 2)), int(rng.integers(-80, 0))))
    cases += [((1 << 57) - 1, 1, -57), ((1 << 53) - 1, 0, -53), (1 << 52, 0, -52), (3, 0, -40), (1, 0, -31), (1, 0, -32)]
    got = _run(driver, [f"qexact {q} {s} {e}" for q, s, e in cases])
    assert [tuple(int(v) for v in g.split()) for g in got] == [_qexact_model(q, s, e) for q, s, e in cases]


def test_integer_round_division_is_bit_exact_with_float(driver):
    """Activation bounds zp + round(f / scale) come from integer arithmetic;
    they must equal the float computation for every scale, also at ties."""
    rng = np.random.default_rng(14)
    dens = _positive_f32(rng, 1500)
    dens += [-d for d in dens[:300]] + [0.0, -0.0, math.inf, -math.inf, math.nan]
    # Quotients exactly on .5 (ties) and on float rounding boundaries.
    dens += [float(np.float32(6.0 / (k + 0.5))) for k in range(200)] + [2.0 / (2 * k + 1) for k in range(100)]
    nums = [0, 1, -1, 6, -6, 3, 1 << 23, (1 << 24) - 1, -((1 << 24) - 1)]
    cases = [(n, d) for d in dens for n in nums[:5]] + [(int(n), d) for n, d in
                                                       zip(rng.integers(-(1 << 24) + 1, 1 << 24, 2000), dens)]
    got = _run(driver, [f"rdiv {n} {_f32(d)}" for n, d in cases])
    bad = [(c, g) for c, g in zip(cases, got) if g.split()[0] != g.split()[1]]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[:3]}"
    assert len({g.split()[0] for g in got}) > 100


def test_float_compares_on_bit_patterns(driver):
    rng = np.random.default_rng(15)
    vals = _positive_f32(rng, 200)
    vals += [-v for v in vals[:100]] + [0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 1.0 / 256, 1.0 / 65536]
    pairs = [(a, b) for a in vals[::7] for b in vals[::5]] + [(v, v) for v in vals]
    got = _run(driver, [f"fcmp {_f32(a)} {_f32(b)}" for a, b in pairs])
    assert all(g.split()[:2] == g.split()[2:] for g in got)
    assert {g.split()[0] for g in got} == {"0", "1"} and {g.split()[1] for g in got} == {"0", "1"}
