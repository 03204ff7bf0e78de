"""The host binding mpyml._native against plain Python references."""

import array

import numpy as np
import pytest

from mpyml import _native


def test_version_matches_package():
    import mpyml

    assert _native.version() == mpyml.__version__


def test_every_error_code_has_its_own_message():
    messages = [_native.error_str(code) for code in range(_native.ERROR_COUNT)]
    assert messages[0] == "ok"
    assert len(set(messages)) == len(messages)
    assert _native.error_str(_native.ERROR_COUNT) == "unknown error"
    assert _native.error_str(-1) == "unknown error"


@pytest.mark.parametrize("seed", range(20))
def test_dot_s8_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 5000))
    a = rng.integers(-128, 128, n, dtype=np.int8)
    b = rng.integers(-128, 128, n, dtype=np.int8)
    pa, pb = (int(x) for x in rng.integers(-255, 256, 2))
    want = int(((a.astype(np.int64) + pa) * (b.astype(np.int64) + pb)).sum())
    assert _native.dot_s8(a, b, pa, pb) == want
    assert _native.dot_s8(a.tobytes(), bytearray(b.tobytes()), a_offset=pa, b_offset=pb) == want


def test_dot_s8_rejects_bad_input():
    with pytest.raises(TypeError):
        _native.dot_s8(1, b"a")
    with pytest.raises(TypeError, match="8-bit"):
        _native.dot_s8(array.array("h", [1]), b"ab")
    with pytest.raises(ValueError, match="length mismatch"):
        _native.dot_s8(b"a", b"ab")
    with pytest.raises(ValueError, match="offsets"):
        _native.dot_s8(b"a", b"a", 256)
