"""Turn a stream of int8 class scores into (label, score, time) events.

Modeled on TFLM's RecognizeCommands: scores are averaged over a time
window, a decision needs a minimum number of results in that window, and a
label that just fired is suppressed for a while. On top of that:
hysteresis (enter/exit thresholds and a minimum hold), k-of-m voting, a
reject option (top-1 threshold and top-1/top-2 margin) and per-class
thresholds.

Everything runs on integers: a score ``q`` of the output tensor means
``(q - zero_point) * scale``; thresholds are converted once, at
construction, to that integer domain (resolution 1/64 of a quantization
step). ``update`` allocates nothing.

    from tinyml.postprocess import Recognizer

    rec = Recognizer(["_silence_", "_unknown_", "yes", "no"],
                     scale=1 / 256, zero_point=-128,
                     threshold=0.8, exit_threshold=0.6,
                     average_window_ms=1000, minimum_count=3,
                     suppression_ms=1500)
    ev = rec.update(scores, t_ms)   # scores: array("b") / bytes of int8
    if ev is not None:
        print(ev.label, ev.score, ev.time_ms)

``history`` is the most results the window can hold: make it at least
``average_window_ms / hop_ms + 1`` (the default 32 covers a 1 s window at
hops of 32 ms or longer); older results are dropped when it is full.

``update`` returns the recognizer's one ``Detection`` object (or None); its
fields change on the next event, so copy what you keep. Times are
milliseconds on a monotonic integer clock, e.g. ``counter // 16`` for a
sample counter at 16 kHz (``counter * 1000 // rate`` would leave the
small-int range of 32-bit ports after 67 s and allocate); going backwards
raises ``ValueError``.

Decision steps for each result at time t:

1. store it; drop results older than ``t - average_window_ms`` (and the
   oldest when ``history`` results are stored);
2. fewer than ``minimum_count`` stored, or the stored results span less
   than a quarter of ``average_window_ms``: no decision;
3. average per class; top-1 must not be an ``ignore`` label (silence,
   unknown), must reach its enter threshold (per-class if given) and lead
   top-2 by ``margin``: else the result is rejected (counted);
4. voting: the candidate must have been the candidate in ``vote_k`` of
   the last ``vote_m`` results;
5. hysteresis: the active label stays active while its average is at or
   above its exit threshold, and for at least ``min_hold_ms``; it does not
   fire again while active;
6. suppression: the label that fired last does not fire again within
   ``suppression_ms`` (another label may).
"""

from array import array

_FX = 64  # threshold resolution: 1/64 of a quantization step

IGNORE_DEFAULT = ("_silence_", "_unknown_", "silence", "unknown")


class Detection:
    """One event: ``index`` and ``label`` of the class, ``score_q`` (mean
    of ``q - zero_point`` over the window, int), ``score`` (float),
    ``time_ms``."""

    def __init__(self, scale):
        self.index = -1
        self.label = None
        self.score_q = 0
        self.time_ms = 0
        self._scale = scale

    @property
    def score(self):
        return self.score_q * self._scale

    def __repr__(self):
        return "Detection(%r, %.3f, %d)" % (self.label, self.score, self.time_ms)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number, not %s" % (name, type(value).__name__))
    return value


def _int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < lo:
        raise ValueError("%s must be >= %d, got %d" % (name, lo, value))
    return value


class Recognizer:
    def __init__(self, labels, scale, zero_point, threshold=0.8, exit_threshold=None, class_thresholds=None,
                 average_window_ms=1000, minimum_count=3, suppression_ms=1500, min_hold_ms=0, vote_k=1,
                 vote_m=1, margin=0.0, ignore=IGNORE_DEFAULT, history=32):
        labels = list(labels)
        if not labels:
            raise ValueError("labels must not be empty")
        if len(labels) > 127:
            raise ValueError("at most 127 labels are supported, got %d" % len(labels))
        scale = _number("scale", scale)
        if not scale > 0:
            raise ValueError("scale must be > 0, got %r" % scale)
        _int("zero_point", zero_point, -128)
        if zero_point > 127:
            raise ValueError("zero_point must be <= 127, got %d" % zero_point)
        self.labels = labels
        self.scale = scale
        self.zero_point = zero_point
        self.average_window_ms = _int("average_window_ms", average_window_ms, 0)
        self.minimum_count = _int("minimum_count", minimum_count, 1)
        self.suppression_ms = _int("suppression_ms", suppression_ms, 0)
        self.min_hold_ms = _int("min_hold_ms", min_hold_ms, 0)
        self.vote_m = _int("vote_m", vote_m, 1)
        self.vote_k = _int("vote_k", vote_k, 1)
        if vote_k > vote_m:
            raise ValueError("vote_k (%d) must be <= vote_m (%d)" % (vote_k, vote_m))
        self.history = _int("history", history, 1)
        if minimum_count > history:
            raise ValueError("minimum_count (%d) must be <= history (%d)" % (minimum_count, history))
        margin = _number("margin", margin)
        if margin < 0 or margin > 1:
            raise ValueError("margin must be within 0..1, got %r" % margin)
        k = len(labels)
        enter = array("i", bytes(4 * k))
        leave = array("i", bytes(4 * k))
        glob = self._pair("threshold", threshold, exit_threshold)
        for i in range(k):
            enter[i], leave[i] = glob
        if class_thresholds:
            for name, value in class_thresholds.items():
                if name not in labels:
                    raise ValueError("class_thresholds: unknown label %r (labels: %s)" % (name, ", ".join(labels)))
                field = "class_thresholds[%s]" % name
                if isinstance(value, (list, tuple)):
                    if len(value) != 2:
                        raise ValueError("%s must be a threshold or [enter, exit]" % field)
                    pair = self._pair(field, value[0], value[1])
                else:
                    pair = self._pair(field, value, None)
                i = labels.index(name)
                enter[i], leave[i] = pair
        self._enter = enter
        self._exit = leave
        self._margin = self._q(margin)
        ign = array("b", bytes(k))
        for name in ignore:
            if name in labels:
                ign[labels.index(name)] = 1
        self._ignore = ign
        self._hist = array("h", bytes(2 * k * history))
        self._times = array("i", bytes(4 * history))
        self._sums = array("i", bytes(4 * k))
        self._votes = array("b", bytes(vote_m))
        self.detection = Detection(scale)
        self.reset()

    def _q(self, value):
        # threshold in units of 1/_FX quantization steps of (q - zero_point)
        return int(value / self.scale * _FX + 0.5)

    def _pair(self, field, enter, leave):
        enter = _number(field, enter)
        if enter < 0 or enter > 1:
            raise ValueError("%s must be within 0..1, got %r" % (field, enter))
        if leave is None:
            leave = enter
        leave = _number(field + " exit", leave)
        if leave > enter:
            raise ValueError("%s: exit threshold %r must be <= enter threshold %r" % (field, leave, enter))
        if leave < 0:
            raise ValueError("%s: exit threshold must be >= 0, got %r" % (field, leave))
        return self._q(enter), self._q(leave)

    def reset(self):
        """Forget all results and state; counters restart at zero."""
        for i in range(len(self._sums)):
            self._sums[i] = 0
        for i in range(self.vote_m):
            self._votes[i] = -1
        self._head = 0  # slot of the next result
        self.count = 0  # results in the averaging window
        self._vote_pos = 0
        self._last_t = None
        self.active = -1  # label index inside its hysteresis band, or -1
        self._active_since = 0
        self._last_index = -1
        self._last_time = 0
        self.frames = 0
        self.events = 0
        self.suppressed = 0
        self.rejected_threshold = 0
        self.rejected_margin = 0
        self.rejected_votes = 0

    def _evict_oldest(self):
        k = len(self._sums)
        slot = self._head - self.count
        if slot < 0:
            slot += self.history
        base = slot * k
        hist = self._hist
        sums = self._sums
        for i in range(k):
            sums[i] -= hist[base + i]
        self.count -= 1

    def _oldest_time(self):
        slot = self._head - self.count
        if slot < 0:
            slot += self.history
        return self._times[slot]

    def average_q(self, index):
        """Mean ``q - zero_point`` of a class over the window (int)."""
        return self._sums[index] // self.count if self.count else 0

    def update(self, scores, t_ms):
        """Add one result (int8 scores, one per label) at ``t_ms``; return
        the ``Detection`` when an event fires, else None."""
        k = len(self._sums)
        if len(scores) != k:
            raise ValueError("expected %d scores, got %d" % (k, len(scores)))
        if self._last_t is not None and t_ms < self._last_t:
            raise ValueError("time went backwards: %d after %d" % (t_ms, self._last_t))
        self._last_t = t_ms
        self.frames += 1
        if self.count == self.history:
            self._evict_oldest()
        hist = self._hist
        sums = self._sums
        zp = self.zero_point
        base = self._head * k
        for i in range(k):
            # bytes give 0..255, array("b") gives -128..127: same int8 value
            v = ((scores[i] + 128) & 255) - 128 - zp
            hist[base + i] = v
            sums[i] += v
        self._times[self._head] = t_ms
        self._head += 1
        if self._head == self.history:
            self._head = 0
        self.count += 1
        limit = t_ms - self.average_window_ms
        while self.count > 1 and self._oldest_time() < limit:
            self._evict_oldest()

        n = self.count
        # hysteresis exit is judged on every result, before a new decision
        a = self.active
        if a >= 0 and sums[a] * _FX < self._exit[a] * n and t_ms - self._active_since >= self.min_hold_ms:
            self.active = -1
        # too few results, or results spanning less than a quarter of the
        # window (as TFLM's RecognizeCommands): no decision yet
        if n < self.minimum_count or t_ms - self._oldest_time() < self.average_window_ms // 4:
            return None

        top = 0
        second = -1
        for i in range(1, k):
            if sums[i] > sums[top]:
                second = top
                top = i
            elif second < 0 or sums[i] > sums[second]:
                second = i
        cand = -1
        if not self._ignore[top]:
            if sums[top] * _FX < self._enter[top] * n:
                self.rejected_threshold += 1
            elif second >= 0 and (sums[top] - sums[second]) * _FX < self._margin * n:
                self.rejected_margin += 1
            else:
                cand = top

        votes = self._votes
        votes[self._vote_pos] = cand
        self._vote_pos += 1
        if self._vote_pos == self.vote_m:
            self._vote_pos = 0
        if cand < 0:
            return None
        agree = 0
        for i in range(self.vote_m):
            if votes[i] == cand:
                agree += 1
        if agree < self.vote_k:
            self.rejected_votes += 1
            return None
        if cand == self.active:
            return None
        if cand == self._last_index and t_ms - self._last_time < self.suppression_ms:
            self.suppressed += 1
            return None
        self.active = cand
        self._active_since = t_ms
        self._last_index = cand
        self._last_time = t_ms
        self.events += 1
        d = self.detection
        d.index = cand
        d.label = self.labels[cand]
        d.score_q = sums[cand] // n
        d.time_ms = t_ms
        return d

    @classmethod
    def from_config(cls, section, labels, scale, zero_point):
        """Build from a validated config's ``postprocess`` section (dict)."""
        return cls(labels, scale, zero_point, **section)
