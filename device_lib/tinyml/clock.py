"""Clocks for deterministic tests: a simulated ``ticks``/``sleep`` source.

Classes that measure or wait take the functions as arguments
(``ticks_ms``, ``ticks_diff``, ``sleep_ms``); pass the real ones from
``time``/``machine`` on a board, or a ``SimClock``'s in tests, where time
only moves when the test (or a simulated sleep) moves it.

    from tinyml.clock import SimClock

    clock = SimClock()
    t0 = clock.ticks_ms()
    clock.sleep_ms(25)                      # returns at once
    assert clock.ticks_diff(clock.ticks_ms(), t0) == 25
    assert clock.sleeps == 1 and clock.slept_ms == 25

Time is kept as whole milliseconds plus a microsecond remainder, so
``ticks_ms`` stays a small (heap-free) int on 32-bit ports for 2**30 ms
(12 days of simulated time); ``ticks_us`` is exact but leaves the small-int
range after 18 minutes there.

``system()`` returns the port's real ``(ticks_ms, ticks_diff, sleep_ms)``,
with ``machine.lightsleep`` as the sleep where the port has it.
"""


class SimClock:
    """Simulated monotonic clock with microsecond resolution."""

    def __init__(self, start_ms=0):
        self.ms = start_ms
        self.us = 0  # 0..999 past ``ms``
        self.sleeps = 0
        self.slept_ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_us(self):
        return self.ms * 1000 + self.us

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, delta):
        return a + delta

    def advance_us(self, us):
        if us < 0:
            raise ValueError("time cannot go backwards")
        us += self.us
        self.ms += us // 1000
        self.us = us % 1000

    def advance_ms(self, ms):
        if ms < 0:
            raise ValueError("time cannot go backwards")
        self.ms += ms

    def sleep_ms(self, ms):
        """Simulated sleep: time moves on, nothing waits."""
        self.advance_ms(ms)
        self.sleeps += 1
        self.slept_ms += ms


def system():
    """The real ``(ticks_ms, ticks_diff, sleep_ms)`` of this port."""
    try:
        import time
    except ImportError:
        raise ImportError("this port has no time module: pass ticks_ms, ticks_diff and sleep_ms explicitly")
    sleep = time.sleep_ms
    try:
        import machine

        sleep = machine.lightsleep
    except (ImportError, AttributeError):
        pass
    return time.ticks_ms, time.ticks_diff, sleep
