# The _tinyml native module as seen from MicroPython.
import array

import tinyml
from tinyml.testing import raises


def _ref(a, b, pa, pb):
    return sum((a[i] + pa) * (b[i] + pb) for i in range(len(a)))


def test_version():
    assert tinyml.version() == tinyml.__version__


def test_dot_s8_matches_python():
    seed = 12345
    for n in (0, 1, 7, 64, 1000):
        a = array.array("b", [0] * n)
        b = array.array("b", [0] * n)
        for i in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            a[i] = (seed >> 8) % 256 - 128
            b[i] = (seed >> 16) % 256 - 128
        for pa, pb in ((0, 0), (128, -128), (-255, 255), (3, 0)):
            assert tinyml.dot_s8(a, b, pa, pb) == _ref(a, b, pa, pb)


def test_dot_s8_accepts_bytes_types():
    assert tinyml.dot_s8(b"\x01\x02", bytearray(b"\x03\x04")) == 11
    assert tinyml.dot_s8(memoryview(b"\xff"), b"\xff") == 1  # 0xff is -1 as int8


def test_dot_s8_extremes_do_not_overflow():
    n = 20000
    a = bytes([0x80]) * n  # -128
    assert tinyml.dot_s8(a, a, -255, -255) == n * 383 * 383


def test_dot_s8_rejects_bad_arguments():
    with raises(TypeError):
        tinyml.dot_s8(1, b"a")
    with raises(TypeError, "8-bit"):
        tinyml.dot_s8(array.array("h", [1]), b"ab")
    with raises(ValueError, "length mismatch"):
        tinyml.dot_s8(b"a", b"ab")
    with raises(ValueError, "offsets"):
        tinyml.dot_s8(b"a", b"a", 256)
