"""Sample sources for the Unix port (and any board with a filesystem).

- ``WavSource``: 16-bit mono PCM WAV files, read in chunks straight into
  the caller's buffer (no intermediate copies); ``loop=True`` repeats the
  file forever. Other formats raise ``ValueError`` saying what is wrong.
- ``RawStreamSource``: raw little-endian samples from any stream with
  ``readinto`` (file, pipe, stdin, socket).

Both have ``readinto(buf)`` returning the number of *samples* stored at
the start of ``buf`` (an ``array`` such as ``array("h")``); 0 means the
end of the data. Reading from a file allocates nothing per call.

    from array import array
    from tinyml.sources import WavSource

    src = WavSource("speech.wav")          # 16 kHz, mono, 16-bit
    buf = array("h", bytes(2 * 320))
    while True:
        n = src.readinto(buf)
        if n == 0:
            break
        ring.write(buf, n)

Samples are taken in the machine's byte order, little-endian on every
supported port, as in WAV files.
"""

import struct


def _bytes_view(buf, nbytes):
    # A byte-addressed view of any buffer (array items may be wider).
    if isinstance(buf, bytearray):
        return buf
    import uctypes

    return uctypes.bytearray_at(uctypes.addressof(buf), nbytes)


class _Reader:
    """Shared reading logic; ``self._stream`` and ``self._left`` (bytes left
    in the data, -1 = unbounded) are set by subclasses."""

    def _read_bytes(self, buf, nbytes):
        stream = self._stream
        want = nbytes
        if self._left >= 0 and want > self._left:
            want = self._left
        if want == 0:
            return 0
        if want == self._buf_bytes:
            got = stream.readinto(buf)
        else:
            got = stream.readinto(buf, want)
        if got is None:
            got = 0
        # streams (pipes) may return less: continue into the rest of buf
        while 0 < got < want:
            view = memoryview(_bytes_view(buf, want))[got:want]
            more = stream.readinto(view)
            if not more:
                break
            got += more
        if self._left >= 0:
            self._left -= got
        return got

    def _prepare(self, buf):
        n = len(buf)
        if n == 0:
            raise ValueError("buffer is empty")
        size = n if isinstance(buf, bytearray) else n * self.itemsize
        self._buf_bytes = size
        return size

    def close(self):
        if self._own and self._stream is not None:
            self._stream.close()
        self._stream = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WavSource(_Reader):
    """16-bit mono PCM WAV reader. Attributes: ``sample_rate``,
    ``samples`` (total), ``position`` (samples delivered in this pass),
    ``loops`` (completed passes when looping)."""

    itemsize = 2

    def __init__(self, source, loop=False):
        self._own = isinstance(source, str)
        self._stream = open(source, "rb") if self._own else source
        self.name = source if self._own else "stream"
        try:
            self._parse()
        except Exception:
            self.close()
            raise
        self.loop = loop
        self.loops = 0
        self.position = 0
        self._left = self.data_bytes

    def _fail(self, why):
        raise ValueError("%s: %s" % (self.name, why))

    def _parse(self):
        f = self._stream
        head = f.read(12)
        if len(head) < 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
            self._fail("not a RIFF/WAVE file")
        pos = 12
        fmt = None
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                self._fail("no data chunk" if fmt else "no fmt chunk")
            cid = ch[0:4]
            size = struct.unpack("<I", ch[4:8])[0]
            pos += 8
            if cid == b"fmt ":
                if size < 16:
                    self._fail("fmt chunk too short (%d bytes)" % size)
                body = f.read(size + (size & 1))
                fmt = struct.unpack("<HHIIHH", body[0:16])
                tag = fmt[0]
                if tag == 0xFFFE and size >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]  # extensible: sub-format
                if tag != 1:
                    self._fail("audio format %d is not PCM (1)" % tag)
                if fmt[1] != 1:
                    self._fail("%d channels; mono is required" % fmt[1])
                if fmt[5] != 16:
                    self._fail("%d-bit samples; 16-bit is required" % fmt[5])
                pos += size + (size & 1)
            elif cid == b"data":
                if fmt is None:
                    self._fail("data chunk before fmt chunk")
                self.sample_rate = fmt[2]
                if self.sample_rate <= 0:
                    self._fail("sample rate %d is invalid" % self.sample_rate)
                self.data_start = pos
                self.data_bytes = size & ~1
                self.samples = self.data_bytes // 2
                return
            else:
                skip = size + (size & 1)
                f.seek(skip, 1)
                pos += skip

    def rewind(self):
        """Start again at the first sample."""
        self._stream.seek(self.data_start)
        self._left = self.data_bytes
        self.position = 0

    def readinto(self, buf):
        """Fill ``buf`` (int16 array, or bytes-like) with the next samples;
        return how many. Looping sources always fill the whole buffer."""
        if self._stream is None:
            raise ValueError("source is closed")
        total = self._prepare(buf)
        got = self._read_bytes(buf, total)
        if self.loop and got < total:
            if self.samples == 0:
                raise ValueError("%s: cannot loop over an empty file" % self.name)
            # wrap around mid-buffer: continue from the start of the data
            while got < total:
                self.loops += 1
                self.rewind()
                if got == 0:  # wrapped at a buffer boundary: no view needed
                    got = self._read_bytes(buf, total)
                    continue
                view = memoryview(_bytes_view(buf, total))[got:total]
                got += self._read_bytes(view, total - got)
        self.position = (self.data_bytes - self._left) // 2
        return got // 2


class RawStreamSource(_Reader):
    """Raw samples of ``typecode`` from a stream (or a file path)."""

    def __init__(self, source, sample_rate=16000, typecode="h"):
        sizes = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "f": 4}
        if typecode not in sizes:
            raise ValueError("typecode must be one of %s, got %r" % ("".join(sizes), typecode))
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError("sample_rate must be a positive int, got %r" % (sample_rate,))
        self._own = isinstance(source, str)
        self._stream = open(source, "rb") if self._own else source
        if not hasattr(self._stream, "readinto"):
            raise TypeError("the stream needs a readinto() method")
        self.sample_rate = sample_rate
        self.typecode = typecode
        self.itemsize = sizes[typecode]
        self._left = -1
        self.samples_read = 0
        self._odd = 0

    def readinto(self, buf):
        """Read the next samples into ``buf``; 0 at the end of the stream.
        A trailing partial sample at the end of the stream is dropped."""
        if self._stream is None:
            raise ValueError("source is closed")
        total = self._prepare(buf)
        got = self._read_bytes(buf, total)
        n = got // self.itemsize
        self._odd = got - n * self.itemsize
        self.samples_read += n
        return n
