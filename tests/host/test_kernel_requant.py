"""The kernels' faster requantization variants against the shared one.

tml_window_requant (portable, used by CONV_2D and DEPTHWISE_CONV_2D on every
core) and the host fast path's 8-lane AVX2 version must give exactly what
tml_mul_by_quantized_mult (tml_quant.h, the reference's rounding) gives, for
every multiplier tml_quantize_multiplier can produce and every shift.
A small C driver (csrc/requant_check.c) runs millions of random and edge
operands (many exact rounding ties) and counts mismatches.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

N = 2_000_000


@pytest.fixture(scope="module")
def driver(root, tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("a C compiler (gcc) is needed for the requantization checks")
    exe = tmp_path_factory.mktemp("requant") / "requant_check"
    nm = root / "native_modules"
    subprocess.run([cc, "-std=gnu99", "-O2", "-Wall", "-Wextra", "-Werror",
                    f"-I{nm / 'runtime' / 'kernels'}", f"-I{nm / 'runtime'}", f"-I{nm / 'core'}",
                    str(root / "tests" / "host" / "csrc" / "requant_check.c"), "-o", str(exe), "-lm"], check=True)
    return exe


def _run(driver: Path, n: int, seed: int) -> dict[str, int]:
    out = subprocess.run([str(driver), str(n), str(seed)], capture_output=True, text=True, check=True).stdout
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "checked", out
    return {last[i]: int(last[i + 1]) for i in range(0, len(last), 2)}


@pytest.mark.parametrize("seed", [1, 2])
def test_requant_variants_equal_the_shared_one(driver, seed):
    r = _run(driver, N, seed)
    assert r["checked"] == N
    assert r["mismatches"] == 0, r


def test_avx2_variant_is_checked_on_avx2_hosts(driver):
    """On an x86-64 machine with AVX2 the vector version is part of the run."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    r = _run(driver, 8000, 3)
    if platform.machine() in ("x86_64", "AMD64") and " avx2" in flags:
        assert r["avx2"] == 8000
    else:
        assert r["avx2"] == 0
