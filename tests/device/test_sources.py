# tinyml.sources: WavSource and RawStreamSource on the Unix port.
import io
import os
import struct
from array import array

from tinyml.ring import Hopper, RingBuffer
from tinyml.sources import RawStreamSource, WavSource
from tinyml.testing import SkipTest, allocated, raises

DIR = "/tmp/mpyml_devtest_sources"


def setup():
    try:
        os.mkdir(DIR)
    except OSError:
        pass


def teardown():
    for name in os.listdir(DIR):
        os.remove(DIR + "/" + name)


def ramp(n, start=0):
    return array("h", [((start + i) * 37) % 60000 - 30000 for i in range(n)])


def write_wav(name, samples, rate=16000, channels=1, bits=16, tag=1, junk_before=True, junk_after=True,
              data=True):
    path = DIR + "/" + name
    body = bytes(samples)
    chunks = b""
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if junk_before:
        chunks += b"junk" + struct.pack("<I", 3) + b"abc\x00"  # odd size: padded
    if data:
        chunks += b"data" + struct.pack("<I", len(body)) + body
    if junk_after:
        chunks += b"LIST" + struct.pack("<I", 4) + b"\x01\x02\x03\x04"
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def read_all(src, chunk):
    buf = array("h", bytes(2 * chunk))
    out = array("h")
    while True:
        n = src.readinto(buf)
        if n == 0:
            return out
        out.extend(buf[:n] if n < chunk else buf)


def test_wav_reads_every_sample_in_chunks():
    samples = ramp(1000)
    path = write_wav("a.wav", samples)
    for chunk in (1, 160, 333, 1000, 4096):
        with WavSource(path) as src:
            assert src.sample_rate == 16000 and src.samples == 1000
            got = read_all(src, chunk)
            assert got == samples, chunk  # the trailing LIST chunk is not audio
            assert src.position == 1000


def test_wav_format_errors_name_the_problem():
    s = ramp(10)
    cases = [
        (write_wav("st.wav", s, channels=2), "2 channels; mono is required"),
        (write_wav("b8.wav", s, bits=8), "8-bit samples; 16-bit is required"),
        (write_wav("fl.wav", s, tag=3, bits=32), "audio format 3 is not PCM"),
        (write_wav("nodata.wav", s, data=False, junk_after=False), "no data chunk"),
    ]
    for path, msg in cases:
        with raises(ValueError, msg) as r:
            WavSource(path)
        assert path in str(r.value)
    bad = DIR + "/text.wav"
    with open(bad, "w") as f:
        f.write("just some text, long enough")
    with raises(ValueError, "not a RIFF/WAVE file"):
        WavSource(bad)
    with open(bad, "wb") as f:
        f.write(b"RIFF")
    with raises(ValueError, "not a RIFF/WAVE file"):
        WavSource(bad)
    with raises(OSError):
        WavSource(DIR + "/missing.wav")


def test_wav_loop_fills_whole_buffers():
    samples = ramp(1000)
    path = write_wav("loop.wav", samples)
    src = WavSource(path, loop=True)
    buf = array("h", bytes(2 * 300))  # 1000 % 300 != 0: wraps mid-buffer
    k = 0
    for _ in range(20):
        assert src.readinto(buf) == 300
        for i in range(300):
            assert buf[i] == samples[(k + i) % 1000]
        k += 300
    assert src.loops == 5 and src.position == 1000  # 6000 samples: the 6th pass just ended
    src.close()
    with raises(ValueError, "closed"):
        src.readinto(buf)


def test_wav_loop_aligned_is_allocation_free():
    path = write_wav("al.wav", ramp(1600))
    with open(path, "rb") as f:
        data = f.read()
    buf = array("h", bytes(2 * 320))
    # from a stream in memory: on every port
    src = WavSource(io.BytesIO(data), loop=True)
    assert allocated(lambda: src.readinto(buf), n=100) == 0
    assert src.loops >= 20 and buf[0] == ramp(1, (110 - 1) * 320 % 1600)[0]  # 10 warm-up + 100 reads
    # from the file system: on the qemu boards a littlefs whose block device
    # (C) allocates nothing either
    src = WavSource(path, loop=True)
    assert allocated(lambda: src.readinto(buf), n=100) == 0
    assert src.loops >= 20


def test_real_recording():
    getenv = getattr(os, "getenv", None)  # not on every port
    root = (getenv and getenv("MPYML_TESTDATA")) or "../shared/testdata"
    path = root + "/tflite-micro/yes_1000ms.wav"
    try:
        os.stat(path)
    except OSError:
        raise SkipTest("test data not found at " + path)
    src = WavSource(path)
    assert src.sample_rate == 16000 and src.samples == 16000
    # Compared chunk by chunk with the file's own data chunk: a whole second
    # (32 KB) twice over does not fit the smallest boards' heap.
    got = array("h", bytes(2 * 320))
    ref = array("h", bytes(2 * 320))
    total = peak = 0
    with open(path, "rb") as f:
        start = f.read(4096).find(b"data") + 8
        assert start >= 8
        f.seek(start)
        while True:
            n = src.readinto(got)
            if n == 0:
                break
            assert f.readinto(ref) >= 2 * n
            assert bytes(got)[: 2 * n] == bytes(ref)[: 2 * n], total
            total += n
            peak = max(peak, max(got[:n]))
    assert total == 16000
    assert peak > 1000  # a spoken word, not silence


def test_raw_stream_from_file_and_bytesio():
    samples = ramp(777)
    path = DIR + "/raw.bin"
    with open(path, "wb") as f:
        f.write(bytes(samples))
        f.write(b"\x01")  # half a sample at the end: dropped
    with RawStreamSource(path, 8000) as src:
        assert src.sample_rate == 8000
        assert read_all(src, 100) == samples
    src = RawStreamSource(io.BytesIO(bytes(samples)))
    assert read_all(src, 64) == samples
    assert src.samples_read == 777


class Trickle:
    """A stream that returns at most 7 bytes per read, like a slow pipe."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def readinto(self, buf, n=-1):
        mv = memoryview(buf)
        want = len(bytes(mv)) if n < 0 else n
        k = min(7, want, len(self.data) - self.pos)
        for i in range(k):
            mv[i] = self.data[self.pos + i]
        self.pos += k
        return k


def test_raw_stream_assembles_short_reads():
    samples = ramp(500)
    src = RawStreamSource(Trickle(bytes(samples)), typecode="h")
    buf = bytearray(2 * 50)
    out = bytearray()
    while True:
        n = src.readinto(buf)
        if n == 0:
            break
        out.extend(buf[: 2 * n])
    assert bytes(out) == bytes(samples)


def test_raw_stream_validation():
    with raises(ValueError, "typecode"):
        RawStreamSource(io.BytesIO(b""), typecode="z")
    with raises(ValueError, "sample_rate"):
        RawStreamSource(io.BytesIO(b""), sample_rate=0)
    with raises(TypeError, "readinto"):
        RawStreamSource(42)


def test_wav_into_ring_windows():
    samples = ramp(4000)
    src = WavSource(write_wav("ring.wav", samples))
    ring = RingBuffer(1600, "h")
    hops = Hopper(ring, 800, 400)
    buf = array("h", bytes(2 * 250))
    frame = array("h", bytes(2 * 800))
    windows = 0
    while True:
        n = src.readinto(buf)
        if n == 0:
            break
        ring.write(buf, n)
        while hops.ready():
            ring.read_into(frame, hops.end)
            assert frame == samples[hops.end - 800 : hops.end]
            windows += 1
            hops.advance()
    assert windows == (4000 - 800) // 400 + 1
    assert ring.dropped == 0
