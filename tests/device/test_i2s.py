# tinyml.i2s.I2SMic: the real driver where machine.I2S exists; everything
# else (arguments, 16/32-bit paths, saturation) with a fake I2S class.
from array import array

from tinyml.i2s import I2SMic
from tinyml.testing import SkipTest, allocated, raises

try:
    import machine
except ImportError:
    machine = None

HAS_I2S = machine is not None and hasattr(machine, "I2S")


class _Slicer:
    def __getitem__(self, key):
        return key


class FakePin:
    def __init__(self, n):
        self.n = n


class FakeI2S:
    RX = 0
    MONO = 0
    made = []
    _all = _Slicer()[:]

    def __init__(self, id, sck, ws, sd, mode, bits, format, rate, ibuf):
        self.args = (id, sck.n, ws.n, sd.n, mode, bits, format, rate, ibuf)
        self.bits = bits
        self.k = 0
        self.closed = False
        FakeI2S.made.append(self)
        FakeI2S.last = self

    def readinto(self, buf):
        n = len(buf)
        if self.bits == 16:
            for i in range(n):
                buf[i] = (self.k + i) % 200 - 100
        else:
            # 32-bit slots carry the sample in the upper 16 bits. Such words
            # are not small ints on 32-bit ports, so they are prepared once
            # and copied in as a block (the driver does this in C).
            if self.k == 0:
                words = array("i", bytes(4 * n))
                for i in range(n):
                    words[i] = ((i % 200 - 100) * 300) * 65536 + 12345
                self.words = words
            buf[FakeI2S._all] = self.words
        self.k += n
        return n * self.bits // 8

    @staticmethod
    def shift(buf, bits, shift):
        # in C on a board; here: the known result of the shift, written as
        # small ints (the sample times 300, rounded down)
        FakeI2S.shift_bits = bits
        FakeI2S.shift_by = shift
        n = len(buf)
        for i in range(n):
            buf[i] = (i % 200 - 100) * 300 + (12345 >> -shift)

    def deinit(self):
        self.closed = True


def test_real_microphone():
    if not HAS_I2S:
        raise SkipTest("machine.I2S is not available on this port")
    mic = I2SMic(sck=16, ws=17, sd=18, sample_rate=16000, bits=16)
    buf = array("h", bytes(2 * 160))
    assert mic.readinto(buf) == 160
    mic.deinit()


def test_missing_i2s_is_a_clear_error():
    if HAS_I2S:
        raise SkipTest("this port has machine.I2S")
    with raises(NotImplementedError, "machine.I2S is not available on this port"):
        I2SMic(1, 2, 3)


def test_argument_validation():
    for kw, msg in (({"sample_rate": 12345}, "sample_rate"), ({"bits": 24}, "bits"), ({"shift": 30}, "shift"),
                    ({"ibuf": 100}, "ibuf")):
        with raises(ValueError, msg):
            I2SMic(1, 2, 3, i2s=FakeI2S, pin=FakePin, **kw)


def test_16bit_path_and_driver_arguments():
    mic = I2SMic(sck=10, ws=11, sd=12, id=1, sample_rate=16000, bits=16, ibuf=4096, i2s=FakeI2S, pin=FakePin)
    dev = FakeI2S.made[-1]
    assert dev.args == (1, 10, 11, 12, FakeI2S.RX, 16, FakeI2S.MONO, 16000, 4096)
    buf = array("h", bytes(2 * 50))
    assert mic.readinto(buf) == 50
    assert list(buf[:3]) == [-100, -99, -98]
    mic.deinit()
    assert dev.closed


def test_32bit_path_shifts_and_saturates():
    mic = I2SMic(1, 2, 3, bits=32, shift=16, i2s=FakeI2S, pin=FakePin)
    buf = array("h", bytes(2 * 64))
    assert mic.readinto(buf) == 64
    # v * 300 after the shift, saturated to int16
    for i in range(64):
        v = (i % 200 - 100) * 300
        want = 32767 if v > 32767 else -32768 if v < -32768 else v
        assert buf[i] == want, (i, buf[i], want)
    assert mic.samples_read == 64
    assert (FakeI2S.shift_bits, FakeI2S.shift_by) == (32, -16)  # in place, right by 16
    assert allocated(lambda: mic.readinto(buf), n=20) == 0
