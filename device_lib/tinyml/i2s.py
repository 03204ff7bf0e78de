"""I2S MEMS microphone source over ``machine.I2S`` (rp2, esp32, stm32, ...).

``readinto(buf)`` fills an ``array("h")`` with 16-bit samples and returns
how many. Microphones that send 24 bits in 32-bit slots (INMP441,
SPH0645) use ``bits=32``: the driver reads 32-bit words into an internal
buffer, shifts them in C (``I2S.shift``) by ``shift`` bits and stores the
result as int16; nothing is allocated after the first call.

    from array import array
    from tinyml.i2s import I2SMic

    mic = I2SMic(sck=16, ws=17, sd=18, sample_rate=16000, bits=32)
    buf = array("h", bytes(2 * 320))
    n = mic.readinto(buf)       # blocks until 320 samples arrived
    mic.deinit()

Ports without ``machine.I2S`` (the Unix port) raise ``NotImplementedError``
at construction. ``i2s`` and ``pin`` inject replacements for
``machine.I2S`` and ``machine.Pin`` (tests, unusual boards).
"""

from array import array

RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class I2SMic:
    def __init__(self, sck, ws, sd, id=0, sample_rate=16000, bits=16, shift=16, ibuf=8192, i2s=None, pin=None):
        if sample_rate not in RATES:
            raise ValueError("sample_rate %r is not supported; use one of %s" % (sample_rate, RATES))
        if bits not in (16, 32):
            raise ValueError("bits must be 16 or 32, got %r" % (bits,))
        if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= 24:
            raise ValueError("shift must be an int within 0..24, got %r" % (shift,))
        if isinstance(ibuf, bool) or not isinstance(ibuf, int) or ibuf < 1024:
            raise ValueError("ibuf must be an int >= 1024 bytes, got %r" % (ibuf,))
        if i2s is None or pin is None:
            try:
                import machine
            except ImportError:
                machine = None
            if i2s is None:
                i2s = getattr(machine, "I2S", None)
            if pin is None:
                pin = getattr(machine, "Pin", None)
        if i2s is None:
            raise NotImplementedError("machine.I2S is not available on this port")
        if pin is None:
            raise NotImplementedError("machine.Pin is not available on this port")
        self.sample_rate = sample_rate
        self.bits = bits
        self.shift = shift
        self._cls = i2s
        self._dev = i2s(id, sck=pin(sck), ws=pin(ws), sd=pin(sd), mode=i2s.RX, bits=bits, format=i2s.MONO,
                        rate=sample_rate, ibuf=ibuf)
        self._wide = None
        self.samples_read = 0

    def readinto(self, buf):
        """Fill ``buf`` (int16 array) with samples; return how many."""
        n = len(buf)
        if self.bits == 16:
            got = self._dev.readinto(buf) // 2
        else:
            wide = self._wide
            if wide is None or len(wide) != n:
                wide = self._wide = array("i", bytes(4 * n))
            got = self._dev.readinto(wide) // 4
            if self.shift:
                self._cls.shift(buf=wide, bits=32, shift=-self.shift)
            for i in range(got):
                v = wide[i]
                buf[i] = 32767 if v > 32767 else -32768 if v < -32768 else v
        self.samples_read += got
        return got

    def deinit(self):
        self._dev.deinit()
