"""Duty cycling: sleep, check cheaply for activity, then collect and infer.

States::

    IDLE_CHECK --activity--> COLLECT --window full--> INFER --> COOLDOWN
        ^  |  (sleep idle_sleep_ms, read check_samples,          |
        |  |   level = mean |x| >= activity_level?)              |
        +--+------------------------- sleep cooldown_ms ---------+

The inference window is ``preroll`` samples recorded before the chunk that
triggered plus ``collect`` samples from its start on; the ring must hold
``preroll + collect`` samples. Sleep is ``machine.lightsleep`` where the
port has it (see ``tinyml.clock.system``); clock and sleep are arguments,
so tests run on a ``SimClock`` with a simulated sensor.

    from array import array
    from tinyml.ring import RingBuffer
    from tinyml.duty import DutyCycle

    ring = RingBuffer(20000, "h")
    def read(buf):                 # fill buf, return samples read
        return mic.readinto(buf)
    def infer(a, b, end):          # the window as two memoryviews
        return model_label(a, b)
    duty = DutyCycle(ring, read, infer, check_samples=320, activity_level=300,
                     preroll=3200, collect=16000, cooldown_ms=500, idle_sleep_ms=100)
    while True:
        duty.step()
        if duty.state == COOLDOWN: print(duty.result)

``time_ms[state]`` is the time spent in each state (sleeps count towards
the state that slept), ``wakes`` counts sleeps ended, ``triggers`` and
``inferences`` count transitions; ``report()`` returns them as a dict.
``step`` allocates nothing apart from what ``read``/``infer`` do.
"""

from array import array

IDLE_CHECK = 0
COLLECT = 1
INFER = 2
COOLDOWN = 3
STATES = ("idle_check", "collect", "infer", "cooldown")


def mean_abs(buf, n):
    """Mean absolute value of the first ``n`` samples (integer)."""
    if n <= 0:
        return 0
    s = 0
    for i in range(n):
        v = buf[i]
        s += -v if v < 0 else v
    return s // n


class DutyCycle:
    def __init__(self, ring, read, infer, check_samples=320, activity_level=300, preroll=3200, collect=16000,
                 cooldown_ms=500, idle_sleep_ms=100, activity=mean_abs, ticks_ms=None, ticks_diff=None,
                 sleep_ms=None):
        for name, v, lo in (("check_samples", check_samples, 1), ("activity_level", activity_level, 0),
                            ("preroll", preroll, 0), ("collect", collect, 1), ("cooldown_ms", cooldown_ms, 0),
                            ("idle_sleep_ms", idle_sleep_ms, 0)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("%s must be an int" % name)
            if v < lo:
                raise ValueError("%s must be >= %d, got %d" % (name, lo, v))
        if preroll + collect > ring.capacity:
            raise ValueError("preroll + collect (%d) exceeds the ring capacity %d" % (preroll + collect, ring.capacity))
        if ticks_ms is None or ticks_diff is None or sleep_ms is None:
            from tinyml.clock import system

            t, d, s = system()
            ticks_ms = ticks_ms or t
            ticks_diff = ticks_diff or d
            sleep_ms = sleep_ms or s
        self.ring = ring
        self._read = read
        self._infer = infer
        self._activity = activity
        self._ticks = ticks_ms
        self._diff = ticks_diff
        self._sleep = sleep_ms
        self.check_samples = check_samples
        self.activity_level = activity_level
        self.preroll = preroll
        self.collect = collect
        self.cooldown_ms = cooldown_ms
        self.idle_sleep_ms = idle_sleep_ms
        self._chunk = array(ring.typecode, bytes(check_samples * ring.itemsize))
        self.time_ms = array("i", bytes(16))
        self.state = IDLE_CHECK
        self.wakes = 0
        self.triggers = 0
        self.inferences = 0
        self.level = 0  # activity level of the last check
        self.result = None  # what infer returned last
        self.window_end = 0
        self._trigger = 0
        self._t = ticks_ms()

    def _account(self):
        now = self._ticks()
        self.time_ms[self.state] += self._diff(now, self._t)
        self._t = now

    def _fill(self):
        n = self._read(self._chunk)
        if n:
            self.ring.write(self._chunk, n)
        return n

    def step(self):
        """Run one state's action; return the new state."""
        st = self.state
        ring = self.ring
        if st == IDLE_CHECK:
            if self.idle_sleep_ms:
                self._sleep(self.idle_sleep_ms)
                self.wakes += 1
            n = self._fill()
            # keep only the pre-roll; older samples may be overwritten
            ring.release(ring.written - self.preroll)
            self.level = self._activity(self._chunk, n) if n else 0
            if n and self.level >= self.activity_level:
                self.triggers += 1
                self._trigger = ring.written - n
                self.window_end = self._trigger + self.collect
                nxt = COLLECT if ring.written < self.window_end else INFER
            else:
                nxt = IDLE_CHECK
        elif st == COLLECT:
            self._fill()
            nxt = COLLECT if ring.written < self.window_end else INFER
        elif st == INFER:
            end = self.window_end
            start = self._trigger - self.preroll
            oldest = ring.oldest()
            if start < oldest:
                start = oldest
            a, b = ring.window(end - start, end)
            self.result = self._infer(a, b, end)
            self.inferences += 1
            ring.release(ring.written - self.preroll)
            nxt = COOLDOWN
        else:
            if self.cooldown_ms:
                self._sleep(self.cooldown_ms)
                self.wakes += 1
            nxt = IDLE_CHECK
        self._account()
        self.state = nxt
        return nxt

    def report(self):
        """Time per state (ms), wake/trigger/inference counts, duty ratio
        (active time per mille)."""
        r = {}
        total = 0
        for i in range(4):
            r[STATES[i] + "_ms"] = self.time_ms[i]
            total += self.time_ms[i]
        r["wakes"] = self.wakes
        r["triggers"] = self.triggers
        r["inferences"] = self.inferences
        busy = self.time_ms[COLLECT] + self.time_ms[INFER]
        r["active_permille"] = busy * 1000 // total if total else 0
        return r
