"""Fixed-capacity sample ring with a monotonic write counter.

Samples live in one preallocated typed array. Every accepted sample gets a
number, its *counter*: the first sample written is 0, ``ring.written`` is
the counter of the next one. Windows are addressed by the counter of their
end, so a consumer never depends on wall-clock time.

    from array import array
    from tinyml.ring import RingBuffer, Hopper

    ring = RingBuffer(4000, "h")            # int16 samples, drop-oldest
    hops = Hopper(ring, window=1600, hop=320)
    chunk = array("h", bytes(2 * 320))      # filled by a source
    frame = array("h", bytes(2 * 1600))
    for _ in range(10):
        ring.write(chunk)
        while hops.ready():
            a, b = ring.window(1600, hops.end)   # zero copy: two memoryviews
            ring.read_into(frame, hops.end)      # or one contiguous copy
            hops.advance()                       # releases old samples

Overflow: the consumer tells the ring which samples it still needs with
``release(counter)`` (a ``Hopper`` does it). When a write does not fit in
the free space, the policy decides:

- ``DROP_OLDEST`` (default): overwrite unreleased samples; the consumer's
  ``tail`` moves forward and ``dropped`` counts the lost samples.
- ``DROP_NEWEST``: keep what is stored, write only what fits, count the rest
  in ``dropped``.
- ``RAISE``: raise ``OverflowError`` and write nothing.

Allocation: writes, ``window`` and ``read_into`` do not allocate once their
slice objects and memoryviews are cached; a cache entry exists per distinct
(position, length), so with chunk and hop sizes that divide the capacity the
cache stops growing after one pass over the ring. ``max_cached`` bounds it;
past the bound, views are created per call (which allocates).

Counters are plain ints: on 32-bit ports they stay small (heap-free) up to
2**30 samples, 18.6 hours at 16 kHz; ``rebase()`` moves all counters of a
ring and its hoppers back by a multiple of the capacity before that.
"""

from array import array

DROP_OLDEST = 0
DROP_NEWEST = 1
RAISE = 2

_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 4, "L": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class _Slicer:
    # The slice() constructor is not available on every port; subscripting
    # this object hands back the slice object the VM built.
    def __getitem__(self, key):
        return key


_SLICER = _Slicer()


def _check_int(name, value, lo):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < lo:
        raise ValueError("%s must be >= %d, got %d" % (name, lo, value))


class RingBuffer:
    """``capacity`` samples of array typecode ``typecode``.

    Attributes (read them, do not assign): ``written`` (write counter),
    ``tail`` (oldest counter the consumer still needs), ``dropped`` (samples
    lost to overflow), ``capacity``, ``typecode``, ``policy``, ``buf`` (the
    backing array).
    """

    def __init__(self, capacity, typecode="h", policy=DROP_OLDEST, max_cached=256):
        _check_int("capacity", capacity, 1)
        if typecode not in _SIZES:
            raise ValueError("typecode must be one of %s, got %r" % ("".join(_SIZES), typecode))
        if policy not in (DROP_OLDEST, DROP_NEWEST, RAISE):
            raise ValueError("policy must be DROP_OLDEST, DROP_NEWEST or RAISE, got %r" % (policy,))
        _check_int("max_cached", max_cached, 0)
        self.capacity = capacity
        self.typecode = typecode
        self.itemsize = _SIZES[typecode]
        self.policy = policy
        self.buf = array(typecode, bytes(capacity * self.itemsize))
        self._mv = memoryview(self.buf)
        self._empty = self._mv[0:0]
        self.written = 0
        self.tail = 0
        self.dropped = 0
        self.max_cached = max_cached
        self._cached = 0
        self._slices = {}  # start -> {stop -> slice}
        self._windows = {}  # n -> {pos -> (views, slice_a, slice_b)}
        self._src = None  # the last source array of a wrapping write
        self._src_views = {}  # split -> (head view, tail view)

    # -- caches --------------------------------------------------------------

    def _slice(self, start, stop):
        row = self._slices.get(start)
        if row is not None:
            s = row.get(stop)
            if s is not None:
                return s
        s = _SLICER[start:stop]
        if self._cached < self.max_cached:
            if row is None:
                row = self._slices[start] = {}
            row[stop] = s
            self._cached += 1
        return s

    def _window_entry(self, n, pos):
        row = self._windows.get(n)
        if row is not None:
            e = row.get(pos)
            if e is not None:
                return e
        cap = self.capacity
        if pos + n <= cap:
            views = (self._mv[pos : pos + n], self._empty)
            e = (views, self._slice(0, n), None)
        else:
            first = cap - pos
            views = (self._mv[pos:cap], self._mv[0 : n - first])
            e = (views, self._slice(0, first), self._slice(first, n))
        if self._cached < self.max_cached:
            if row is None:
                row = self._windows[n] = {}
            row[pos] = e
            self._cached += 1
        return e

    # -- producer ------------------------------------------------------------

    def free(self):
        """Samples that fit without overwriting unreleased ones."""
        used = self.written - self.tail
        return self.capacity - (used if used > 0 else 0)

    def write(self, src, n=-1):
        """Append ``n`` samples (default: all) of ``src``; return how many
        were stored. ``src`` is an array or memoryview of the same typecode.
        """
        if n < 0:
            n = len(src)
        elif n > len(src):
            raise ValueError("n=%d exceeds the source length %d" % (n, len(src)))
        if n == 0:
            return 0
        free = self.free()
        skip = 0  # leading source samples that never reach the ring
        if n > free:
            over = n - free
            if self.policy == RAISE:
                raise OverflowError("ring full: %d samples offered, %d free" % (n, free))
            if self.policy == DROP_NEWEST:
                self.dropped += over
                n = free
                if n == 0:
                    return 0
            else:
                self.dropped += over
                self.tail += over
                if n > self.capacity:
                    skip = n - self.capacity
        cap = self.capacity
        pos = (self.written + skip) % cap
        count = n - skip
        buf = self.buf
        if skip == 0 and count == len(src) and pos + count <= cap:
            buf[self._slice(pos, pos + count)] = src
        else:
            self._copy_split(src, skip, count, pos)
        self.written += n
        return n

    def _copy_split(self, src, skip, count, pos):
        # A write that wraps around the end (or uses part of ``src``) needs
        # views of the source; they are cached for the last source object.
        cap = self.capacity
        first = cap - pos
        if first > count:
            first = count
        if src is not self._src:
            self._src = src
            self._src_views = {}
        key = (skip * (cap + 1) + first) * (cap + 1) + count
        views = self._src_views.get(key)
        if views is None:
            mv = memoryview(src)
            views = (mv[skip : skip + first], mv[skip + first : skip + count])
            if len(self._src_views) < 16:
                self._src_views[key] = views
        self.buf[self._slice(pos, pos + first)] = views[0]
        if count > first:
            self.buf[self._slice(0, count - first)] = views[1]

    # -- consumer ------------------------------------------------------------

    def release(self, counter):
        """Declare samples before ``counter`` no longer needed."""
        if counter > self.tail:
            self.tail = counter

    def oldest(self):
        """Counter of the oldest sample still stored."""
        d = self.written - self.capacity
        return d if d > 0 else 0

    def _check(self, n, end):
        if n <= 0 or n > self.capacity:
            raise ValueError("window length must be 1..%d, got %d" % (self.capacity, n))
        if end > self.written:
            raise ValueError("window end %d is ahead of the write counter %d" % (end, self.written))
        if end - n < self.oldest():
            raise ValueError("samples [%d, %d) are no longer stored (oldest is %d)" % (end - n, end, self.oldest()))

    def window(self, n, end=-1):
        """The ``n`` samples ending at counter ``end`` (default: newest) as a
        tuple of two memoryviews into the ring, oldest first; the second is
        empty unless the window wraps. The views are shared and stay valid
        until the ring overwrites those samples: copy what you keep.
        """
        if end < 0:
            end = self.written
        self._check(n, end)
        return self._window_entry(n, (end - n) % self.capacity)[0]

    def read_into(self, dst, end=-1, n=-1):
        """Copy the ``n`` samples (default ``len(dst)``) ending at counter
        ``end`` (default: newest) to the start of ``dst``; return ``n``."""
        if n < 0:
            n = len(dst)
        elif n > len(dst):
            raise ValueError("n=%d exceeds the destination length %d" % (n, len(dst)))
        if end < 0:
            end = self.written
        self._check(n, end)
        views, sa, sb = self._window_entry(n, (end - n) % self.capacity)
        dst[sa] = views[0]
        if sb is not None:
            dst[sb] = views[1]
        return n

    def rebase(self, amount):
        """Subtract ``amount`` (a multiple of the capacity, at most
        ``oldest()`` and ``tail``) from every counter; returns it. Hoppers
        over this ring must be rebased with the same amount."""
        if amount % self.capacity:
            raise ValueError("rebase amount must be a multiple of the capacity %d" % self.capacity)
        if amount < 0 or amount > self.oldest() or amount > self.tail:
            raise ValueError("rebase amount %d is out of range" % amount)
        self.written -= amount
        self.tail -= amount
        return amount


class Hopper:
    """Schedules windows of ``window`` samples every ``hop`` samples.

    ``end`` is the counter at which the next window ends; the first window
    ends at ``first_end`` (default ``window``). ``ready()`` is true once the
    ring holds that window; ``advance()`` moves to the next one and releases
    the samples no later window needs. Windows whose samples were
    overwritten (producer faster than consumer, drop-oldest) are skipped and
    counted in ``skipped``.
    """

    def __init__(self, ring, window, hop, first_end=-1):
        _check_int("window", window, 1)
        _check_int("hop", hop, 1)
        if window > ring.capacity:
            raise ValueError("window %d exceeds the ring capacity %d" % (window, ring.capacity))
        self.ring = ring
        self.window = window
        self.hop = hop
        self.end = window if first_end < 0 else first_end
        if self.end < window:
            raise ValueError("first_end must be >= window")
        self.skipped = 0
        ring.release(self.end - window)

    def ready(self):
        ring = self.ring
        start = self.end - self.window
        lost = ring.tail - start
        if lost > 0 or start < ring.oldest():
            old = ring.oldest()
            if old - start > lost:
                lost = old - start
            k = (lost + self.hop - 1) // self.hop
            self.end += k * self.hop
            self.skipped += k
        return ring.written >= self.end

    def advance(self):
        self.end += self.hop
        self.ring.release(self.end - self.window)

    def rebase(self, amount):
        self.end -= amount
