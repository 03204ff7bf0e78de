"""Fixed-size binary record ring for field logs, in a file or a buffer.

Logs every Nth window plus every rejected one (and whatever else the app
records) into ``capacity`` fixed-size slots; when full, the oldest record
is overwritten. The host decodes it with ``mpyml logs decode FILE``.

    from tinyml.logring import LogRing, DETECT

    log = LogRing("/log.bin", capacity=256, n_scores=4, every=50)
    # per window (allocation-free; writes only when due):
    log.window(index, t_ms, cause=gate_cause, scores=out, label=top,
               score=top_q, lo=gate.min, hi=gate.max, level=gate.mean_abs)
    log.record(DETECT, index, t_ms, label=ev.index, score=ev.score_q)
    log.close()

A ``bytearray`` target (``LogRing.size(capacity, n_scores)`` bytes) keeps the
ring in RAM; write it out with ``save(path)`` to decode it on the host.

Format (all little-endian). Header, 32 bytes::

    0  8s  magic b"MPYMLLOG"
    8  H   format version (1)
    10 H   header size (32)
    12 H   record size R = 28 + n_scores rounded up to a multiple of 4
    14 H   n_scores (score slots per record)
    16 I   capacity (number of record slots)
    20 I   every (N of "every Nth window"; 0 = only rejected ones)
    24 8x  reserved, zero

Then ``capacity`` records of R bytes; slot i starts at 32 + i * R::

    0  I  seq: 1, 2, 3, ... in write order; 0 = empty slot
    4  I  time_ms
    8  I  window index
    12 B  kind: 1 window (sampled), 2 rejected by the input gate,
              3 detection, 4 application marker
    13 B  cause: input-gate cause (0 ok, 1 nan, 2 range, 3 stuck, 4 clip)
    14 b  label: class index (top-1 or detected), -1 = none
    15 B  number of valid scores (<= n_scores)
    16 h  score: top-1 / detection score as q - zero_point
    18 h  min sample of the window (saturated to int16)
    20 h  max sample of the window (saturated to int16)
    22 H  level: mean absolute sample value (saturated to uint16)
    24 H  check: Fletcher-16 of the record with these two bytes as zero
    26 H  extra: application value
    28 b[n_scores]  raw int8 output scores, then zero padding

The decoder orders records by ``seq`` and reports records whose check
fails (torn writes) instead of trusting them. A file whose header matches
is resumed after its newest valid record.
"""

import struct

WINDOW = 1
REJECT = 2
DETECT = 3
MARKER = 4

MAGIC = b"MPYMLLOG"
VERSION = 1
HEADER_SIZE = 32
_HDR = "<8sHHHHII8x"
_REC = "<IIIBBbBhhhHHH"


def record_size(n_scores):
    return (28 + n_scores + 3) & ~3


def size(capacity, n_scores):
    """Bytes of a whole log (header plus slots)."""
    return HEADER_SIZE + capacity * record_size(n_scores)


def _fletcher16(buf, start, n):
    a = 0
    b = 0
    for i in range(start, start + n):
        a += buf[i]
        if a >= 255:
            a -= 255
        b += a
        if b >= 255:
            b -= 255
    return (b << 8) | a


def _sat(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


class LogRing:
    def __init__(self, target, capacity=256, n_scores=12, every=50, flush=True):
        for name, v, lo in (("capacity", capacity, 1), ("n_scores", n_scores, 0), ("every", every, 0)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("%s must be an int" % name)
            if v < lo:
                raise ValueError("%s must be >= %d, got %d" % (name, lo, v))
        if n_scores > 127:
            raise ValueError("n_scores must be <= 127, got %d" % n_scores)
        self.capacity = capacity
        self.n_scores = n_scores
        self.every = every
        self.rsize = record_size(n_scores)
        self._flush = flush
        self.seq = 0  # seq of the newest record
        self._slot = 0  # next slot to write
        self.written = 0  # records written since opened
        self._file = None
        if isinstance(target, str):
            self._rec = bytearray(self.rsize)
            self._buf = self._rec
            self._open_file(target)
        elif isinstance(target, (bytearray, memoryview)):
            need = size(capacity, n_scores)
            if len(target) < need:
                raise ValueError("buffer of %d bytes is too small: the log needs %d" % (len(target), need))
            self._buf = target
            self._rec = None
            self._init_buffer()
        else:
            raise TypeError("target must be a path or a bytearray, not %s" % type(target).__name__)

    # -- storage -------------------------------------------------------------

    def _header(self):
        h = bytearray(HEADER_SIZE)
        struct.pack_into(_HDR, h, 0, MAGIC, VERSION, HEADER_SIZE, self.rsize, self.n_scores, self.capacity, self.every)
        return h

    def _init_buffer(self):
        h = self._header()
        buf = self._buf
        if bytes(buf[0:HEADER_SIZE]) == bytes(h):
            self._resume(lambda i: self._valid_seq(buf, HEADER_SIZE + i * self.rsize))
            return
        for i in range(size(self.capacity, self.n_scores)):
            buf[i] = 0
        buf[0:HEADER_SIZE] = h

    def _open_file(self, path):
        h = self._header()
        f = None
        try:
            f = open(path, "r+b")
            old = f.read(HEADER_SIZE)
        except OSError:
            old = b""
        if old == bytes(h):
            self._file = f
            rec = self._rec

            def seq_at(i):
                f.seek(HEADER_SIZE + i * self.rsize)
                if f.readinto(rec) != self.rsize:
                    return 0
                return self._valid_seq(rec, 0)

            self._resume(seq_at)
            return
        if f is not None:
            f.close()
        # new log (or another geometry): start over
        f = open(path, "wb")
        f.write(h)
        zero = bytearray(self.rsize)
        for _ in range(self.capacity):
            f.write(zero)
        f.close()
        self._file = open(path, "r+b")

    def _valid_seq(self, buf, off):
        seq = struct.unpack_from("<I", buf, off)[0]
        if seq == 0:
            return 0
        stored = struct.unpack_from("<H", buf, off + 24)[0]
        return seq if self._check(buf, off) == stored else 0

    def _check(self, buf, off):
        c = _fletcher16(buf, off, 24)
        # continue over bytes 26.. with the check field counted as zero
        a = c & 255
        b = c >> 8
        b += a
        if b >= 255:
            b -= 255
        b += a
        if b >= 255:
            b -= 255
        for i in range(off + 26, off + self.rsize):
            a += buf[i]
            if a >= 255:
                a -= 255
            b += a
            if b >= 255:
                b -= 255
        return (b << 8) | a

    def _resume(self, seq_at):
        best = 0
        slot = 0
        for i in range(self.capacity):
            s = seq_at(i)
            if s > best:
                best = s
                slot = i
        if best:
            self.seq = best
            self._slot = (slot + 1) % self.capacity

    # -- writing -------------------------------------------------------------

    def window(self, index, t_ms, cause=0, scores=None, label=-1, score=0, lo=0, hi=0, level=0, extra=0):
        """Record window ``index`` if it was rejected (``cause`` != 0) or
        is every ``every``-th one; return True when written."""
        if cause:
            kind = REJECT
        elif self.every and index % self.every == 0:
            kind = WINDOW
        else:
            return False
        self.record(kind, index, t_ms, cause, scores, label, score, lo, hi, level, extra)
        return True

    def record(self, kind, index, t_ms, cause=0, scores=None, label=-1, score=0, lo=0, hi=0, level=0, extra=0):
        """Write one record unconditionally."""
        if self._buf is None:
            raise ValueError("log is closed")
        self.seq += 1
        if self._file is None:
            buf = self._buf
            off = HEADER_SIZE + self._slot * self.rsize
        else:
            buf = self._rec
            off = 0
        n = 0
        if scores is not None:
            n = len(scores)
            if n > self.n_scores:
                n = self.n_scores
        struct.pack_into(_REC, buf, off, self.seq, t_ms, index, kind, cause, _sat(label, -128, 127), n,
                         _sat(score, -32768, 32767), _sat(lo, -32768, 32767), _sat(hi, -32768, 32767),
                         _sat(level, 0, 65535), 0, extra & 0xFFFF)
        p = off + 28
        for i in range(n):
            buf[p + i] = scores[i] & 255
        for i in range(p + n, off + self.rsize):
            buf[i] = 0
        struct.pack_into("<H", buf, off + 24, self._check(buf, off))
        if self._file is not None:
            f = self._file
            f.seek(HEADER_SIZE + self._slot * self.rsize)
            f.write(buf)
            if self._flush:
                f.flush()
        self._slot += 1
        if self._slot == self.capacity:
            self._slot = 0
        self.written += 1

    def save(self, path):
        """Write a buffer-backed log to a file (for the host decoder)."""
        if self._file is not None:
            raise ValueError("this log already lives in a file")
        with open(path, "wb") as f:
            f.write(memoryview(self._buf)[0 : size(self.capacity, self.n_scores)])

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._buf = None
