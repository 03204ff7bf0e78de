# Small stand-ins for tinyml.AudioFrontend and tinyml.Interpreter with the
# same calling conventions, allocation-free in their hot paths, so the KWS
# pipeline can be tested on any firmware.
from array import array

import pkgfixtures as fx

CH = 8
FRAMES = 10
STEP = 160  # samples per frame
FIRST = 240  # samples before the first frame (a window longer than a step)


def _roll(out, c):
    # Rolling window like tinyml.AudioFrontend: rows move up by one frame.
    if len(out) % c:
        raise ValueError("features_out must hold whole frames")
    for i in range(len(out) - c):
        out[i] = out[i + c]


class FakeFrontend:
    """One frame per STEP samples once FIRST samples arrived; channel j of a
    frame is the mean |sample| of the step (>> 4) plus 3*j."""

    def __init__(self, channels=CH, typecode="H"):
        self.channels = channels
        self.total = 0
        self.acc = 0
        self.n = 0
        self.int8 = typecode == "b"

    def process(self, samples, out):
        c = self.channels
        frames = 0
        for i in range(len(samples)):
            s = samples[i]
            self.acc += s if s >= 0 else -s
            self.total += 1
            self.n += 1
            if self.total >= FIRST and self.n >= STEP:
                level = (self.acc // self.n) >> 4
                _roll(out, c)
                base = len(out) - c
                for j in range(c):
                    v = level + 3 * j
                    if self.int8:
                        v = v - 128 if v < 255 else 127
                    elif v > 65535:
                        v = 65535
                    out[base + j] = v
                frames += 1
                self.acc = 0
                self.n = 0
        return frames


class FakeInterpreter:
    """Scores 4 classes; "yes" (index 2) follows the mean of the newest
    third of the window, "_silence_" the rest."""

    def __init__(self, frames=FRAMES, channels=CH, in_scale=0.5, in_zp=-128):
        self._in = fx.Tensor((1, frames * channels), scale=in_scale, zero_point=in_zp)
        self._out = fx.Tensor((1, 4), scale=1 / 256, zero_point=-128)
        self.frames = frames
        self.channels = channels
        self.invokes = 0
        self.digest = 0

    def input(self, i):
        return self._in

    def output(self, i):
        return self._out

    def invoke(self):
        self.invokes += 1
        inp = self._in
        c = self.channels
        start = (self.frames * 2 // 3) * c
        acc = 0
        for i in range(start, len(inp)):
            v = inp[i]
            acc += (v if v < 128 else v - 256) + 128
        mean = acc // (len(inp) - start)  # 0..255
        p = mean * 2 if mean < 128 else 255
        out = self._out
        out[0] = (255 - p - 128) & 255
        out[1] = 0x80
        out[2] = (p - 128) & 255
        out[3] = 0x80
        # Order-sensitive digest of every output so far (small ints).
        self.digest = (self.digest * 31 + out[0] * 7 + out[2]) % 1000003


class Signal:
    """``n`` int16 samples of noise (amplitude ~200) with loud bursts at
    (start, length), produced chunk by chunk: several seconds of audio held
    whole would not fit the smallest boards' heap. ``readinto`` continues
    where the last call ended; ``rewind`` starts over with the same values."""

    def __init__(self, n, bursts, amp=8000, seed=1):
        self.n = n
        self.bursts = bursts
        self.amp = amp
        self._seed0 = seed % 30269 or 1
        self.rewind()

    def __len__(self):
        return self.n

    def rewind(self):
        self.pos = 0
        self._seed = self._seed0

    def readinto(self, buf, count=-1):
        """Fill ``buf`` (at most ``count`` samples); returns how many."""
        n = len(buf) if count < 0 else min(count, len(buf))
        n = min(n, self.n - self.pos)
        pos = self.pos
        seed = self._seed
        for k in range(n):
            seed = seed * 171 % 30269  # small ints on every port: no heap use
            buf[k] = seed % 401 - 200
        amp = self.amp
        for start, length in self.bursts:
            for i in range(max(start, pos), min(self.n, start + length, pos + n)):
                buf[i - pos] = amp if (i // 8) % 2 else -amp
        self._seed = seed
        self.pos = pos + n
        return n


class CheapFrontend:
    """Frame timing like FakeFrontend, int8 output, but the features come
    from the first sample of each call only: cheap enough for hour-long
    soaks."""

    def __init__(self, channels=CH):
        self.channels = channels
        self.total = 0
        self.pending = 0

    def process(self, samples, out):
        n = len(samples)
        if n == 0:
            return 0
        s = samples[0]
        level = (s if s >= 0 else -s) >> 4
        before = self.total
        self.total += n
        frames = 0
        if self.total >= FIRST:
            done_before = 0 if before < FIRST else (before - FIRST) // STEP + 1
            frames = (self.total - FIRST) // STEP + 1 - done_before
        c = self.channels
        base = len(out) - c
        for f in range(frames):
            _roll(out, c)
            for j in range(c):
                v = level + 3 * j
                out[base + j] = v - 128 if v < 255 else 127
        return frames
