"""Input gate: reject raw windows that cannot be trusted before inference.

Checks, each with its own cause code and counter:

- ``NAN``: a float sample is NaN (float typecodes only);
- ``RANGE``: a sample lies outside ``lo..hi``;
- ``STUCK``: the same value repeats ``stuck_samples`` times in a row
  (dead or disconnected sensor, digital silence);
- ``CLIP``: more than ``max_clipped`` samples with ``abs(x) >= clip_level``.

A rejected window is to be treated as UNKNOWN: skip inference and
post-processing for it so their state stays untouched; ``counts[cause]``
increments (``counts[OK]`` counts accepted windows).

Streaming use: windows of ``window_blocks`` hops, one ``check`` per hop
with only the *new* samples, so each sample is scanned once; a block's
verdict holds while the block is inside the window.

    from tinyml.gate import InputGate, OK, CAUSES

    gate = InputGate(lo=-32000, hi=32000, stuck_samples=400,
                     clip_level=32000, max_clipped=10, window_blocks=5)
    a, b = ring.window(hop, end)            # the hop's new samples
    cause = gate.check(a, b)
    if cause != OK:
        print("rejected:", CAUSES[cause])

With ``window_blocks=1`` each ``check`` judges exactly the samples given
(a whole window). After each check, ``min``, ``max``, ``mean_abs`` and
``max_run`` describe the samples just scanned. ``check`` allocates nothing
for integer samples; float samples are heap objects on some ports.

int16 samples are scanned by ``_tinyml.scan_s16`` (C) when the firmware
has it, with results identical to the Python loop used otherwise
(``native=False`` forces the loop): on a Cortex-M0 a 320-sample check
takes about 53,000 instructions instead of 635,000 (``mpyml bench
device-lib``).
"""

from array import array

try:
    from _tinyml import scan_s16 as _native_scan
except ImportError:  # no native module: the Python loop below does it all
    _native_scan = None

OK = 0
NAN = 1
RANGE = 2
STUCK = 3
CLIP = 4
CAUSES = ("ok", "nan", "range", "stuck", "clip")


class InputGate:
    def __init__(self, lo=-32768, hi=32767, stuck_samples=0, clip_level=0, max_clipped=0, window_blocks=1,
                 native=True):
        for name, v in (("lo", lo), ("hi", hi), ("stuck_samples", stuck_samples), ("clip_level", clip_level),
                        ("max_clipped", max_clipped), ("window_blocks", window_blocks)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("%s must be an int, not %s" % (name, type(v).__name__))
        if lo > hi:
            raise ValueError("lo (%d) must be <= hi (%d)" % (lo, hi))
        if stuck_samples < 0 or stuck_samples == 1:
            raise ValueError("stuck_samples must be 0 (off) or >= 2, got %d" % stuck_samples)
        if clip_level < 0:
            raise ValueError("clip_level must be >= 0 (0 = off), got %d" % clip_level)
        if max_clipped < 0:
            raise ValueError("max_clipped must be >= 0, got %d" % max_clipped)
        if window_blocks < 1:
            raise ValueError("window_blocks must be >= 1, got %d" % window_blocks)
        self.lo = lo
        self.hi = hi
        self.stuck_samples = stuck_samples
        self.clip_level = clip_level
        self.max_clipped = max_clipped
        self.window_blocks = window_blocks
        big = max(abs(lo), abs(hi)) + 1
        self._clip = clip_level if clip_level > 0 else big
        self._stuck = stuck_samples if stuck_samples > 0 else (1 << 29)
        self._causes = array("b", bytes(window_blocks))
        self._clips = array("i", bytes(4 * window_blocks))
        self.counts = array("i", bytes(4 * len(CAUSES)))
        # int16 blocks are scanned by the native module when the firmware
        # has it (the same statistics, about 100x fewer instructions)
        self._native = _native_scan if native else None
        self._nclip = clip_level if clip_level <= 65536 else 65536
        self._st = array("i", bytes(32))  # tml_scan_t: min max sum clipped prev run max_run flags
        self.reset()

    def reset(self):
        """Forget earlier blocks (counters stay)."""
        for i in range(self.window_blocks):
            self._causes[i] = 0
            self._clips[i] = 0
        self._pos = 0
        self._prev = None
        self._run = 0
        self._st[7] = 0
        self.min = 0
        self.max = 0
        self.mean_abs = 0
        self.max_run = 0

    def rejected(self):
        """Windows rejected so far, all causes."""
        c = self.counts
        return c[NAN] + c[RANGE] + c[STUCK] + c[CLIP]

    def _scan(self, seg, first):
        # Returns (cause, clipped) for one segment; updates the run state
        # and min/max/sum so that consecutive segments form one block.
        n = len(seg)
        if n == 0:
            return 0
        prev = self._prev
        run = self._run
        max_run = self.max_run
        mn = self.min
        mx = self.max
        if first:
            mn = mx = seg[0]
        total = 0
        clipped = 0
        nan = 0
        chi = self._clip
        clo = -chi
        isfloat = not isinstance(seg[0], int)
        for i in range(n):
            v = seg[i]
            if v == prev:
                run += 1
                if run > max_run:
                    max_run = run
            else:
                run = 1
                prev = v
            if v < mn:
                mn = v
            elif v > mx:
                mx = v
            if v < 0:
                total -= v
            else:
                total += v
            if v >= chi or v <= clo:
                clipped += 1
            if isfloat and v != v:
                nan += 1
        self._prev = prev
        self._run = run
        self.max_run = max_run
        self.min = mn
        self.max = mx
        self._sum += total
        self._nan += nan
        return clipped

    def _scan_native(self, a, b):
        # Returns the number of clipped samples, or -1 when the samples are
        # not int16 (nothing touched: the Python loop takes over).
        st = self._st
        scan = self._native
        # a new block: range, sums and max_run restart; the run of equal
        # values carries over between blocks of one window
        st[7] &= 1 if self.window_blocks > 1 else 0
        st[2] = 0
        st[3] = 0
        st[6] = 0
        if not scan(a, st, self._nclip):
            return -1
        if b is not None:
            scan(b, st, self._nclip)
        if not st[7] & 2:
            return 0  # empty block
        self.min = st[0]
        self.max = st[1]
        self.max_run = st[6]
        self._sum = st[2]
        self._nan = 0
        return st[3]

    def check(self, a, b=None):
        """Scan one block (``a`` then ``b``); return the window's cause."""
        n = len(a)
        if b is not None:
            n += len(b)
        if n == 0:
            raise ValueError("empty block")
        clipped = -1
        if self._native is not None:
            clipped = self._scan_native(a, b)
        if clipped < 0:
            if self.window_blocks == 1:
                self._prev = None
                self._run = 0
            self.max_run = 0
            self._sum = 0
            self._nan = 0
            clipped = self._scan(a, True)
            if b is not None and len(b):
                clipped += self._scan(b, len(a) == 0)
        self.mean_abs = self._sum // n if isinstance(self._sum, int) else self._sum / n
        cause = OK
        if self._nan:
            cause = NAN
        elif self.min < self.lo or self.max > self.hi:
            cause = RANGE
        elif self.max_run >= self._stuck:
            cause = STUCK
        pos = self._pos
        self._causes[pos] = cause
        self._clips[pos] = clipped
        pos += 1
        self._pos = 0 if pos == self.window_blocks else pos
        # the window's verdict: the most serious cause of its blocks
        worst = 0
        clips = 0
        causes = self._causes
        for i in range(self.window_blocks):
            c = causes[i]
            if c and (worst == 0 or c < worst):
                worst = c
            clips += self._clips[i]
        if worst == 0 and clips > self.max_clipped and self.clip_level > 0:
            worst = CLIP
        self.counts[worst] += 1
        return worst
