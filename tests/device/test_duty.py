# tinyml.duty.DutyCycle on a simulated clock and microphone.
from tinyml.clock import SimClock, system
from tinyml.duty import COLLECT, COOLDOWN, IDLE_CHECK, INFER, DutyCycle, mean_abs
from tinyml.ring import RingBuffer
from tinyml.testing import SkipTest, allocated, raises

RATE = 16000


class World:
    """A microphone in simulated time: quiet noise with loud bursts.

    Samples are a function of absolute time, so what the device hears
    depends only on when it listens; sleeping skips samples."""

    def __init__(self, clock, bursts, level=4000):
        self.clock = clock
        self.bursts = bursts  # (start_ms, length_ms)
        self.level = level

    def loud(self, sample):
        t = sample // (RATE // 1000)  # ms; stays a small int on 32-bit ports
        for start, length in self.bursts:
            if start <= t < start + length:
                return True
        return False

    def read(self, buf):
        c = self.clock
        s0 = c.ms * (RATE // 1000) + c.us * RATE // 1000000  # small ints on 32-bit ports too
        n = len(buf)
        amp = self.level if self.loud(s0) else 40  # loudness per 20 ms chunk
        for i in range(n):
            s = s0 + i
            buf[i] = amp if s & 1 else -amp + (s % 7)
        self.clock.advance_us(n * 1000000 // RATE)
        return n


class Infer:
    def __init__(self):
        self.calls = []
        self.record = True  # False: keep only counters (allocation-free)
        self.count = 0
        self.peak = 0

    def _peak(self, seg, peak):
        for i in range(len(seg)):
            v = seg[i]
            if v > peak:
                peak = v
        return peak

    def __call__(self, a, b, end):
        peak = self._peak(b, self._peak(a, 0))
        self.count += 1
        self.peak = peak
        if self.record:
            self.calls.append((len(a) + len(b), peak, end))
        return peak


def make(bursts, **kw):
    clock = SimClock()
    world = World(clock, bursts)
    ring = RingBuffer(8000, "h")
    infer = Infer()
    args = dict(check_samples=320, activity_level=1000, preroll=1600, collect=4800, cooldown_ms=300,
                idle_sleep_ms=80, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff, sleep_ms=clock.sleep_ms)
    args.update(kw)
    duty = DutyCycle(ring, world.read, infer, **args)
    return duty, clock, infer


def run_until(duty, clock, ms):
    while clock.ticks_ms() < ms:
        duty.step()


def test_validation():
    ring = RingBuffer(1000, "h")
    with raises(ValueError, "exceeds the ring capacity"):
        DutyCycle(ring, None, None, preroll=500, collect=600, ticks_ms=1, ticks_diff=1, sleep_ms=1)
    with raises(ValueError, "check_samples"):
        DutyCycle(ring, None, None, check_samples=0, preroll=0, collect=10, ticks_ms=1, ticks_diff=1, sleep_ms=1)
    with raises(TypeError, "cooldown_ms"):
        DutyCycle(ring, None, None, cooldown_ms=0.5, preroll=0, collect=10, ticks_ms=1, ticks_diff=1, sleep_ms=1)


def test_state_sequence_and_preroll():
    duty, clock, infer = make([(1000, 600)])
    seen = []
    while clock.ticks_ms() < 3000:
        st = duty.step()
        if not seen or seen[-1] != st:
            seen.append(st)
    assert seen == [IDLE_CHECK, COLLECT, INFER, COOLDOWN, IDLE_CHECK], seen
    assert duty.triggers == 1 and duty.inferences == 1
    assert len(infer.calls) == 1
    n, peak, end = infer.calls[0]
    assert n == 1600 + 4800  # pre-roll plus collected samples
    assert peak == 4000  # the burst is inside the window
    # the window ends collect samples after the triggering chunk started
    assert end - 4800 == duty.window_end - 4800 and duty.window_end == end


def test_time_per_state_and_wakes_add_up():
    bursts = [(1000, 600), (5000, 300), (9000, 400)]
    duty, clock, infer = make(bursts, cooldown_ms=500)
    run_until(duty, clock, 15000)
    r = duty.report()
    total = r["idle_check_ms"] + r["collect_ms"] + r["infer_ms"] + r["cooldown_ms"]
    assert total == clock.ticks_ms()
    assert duty.triggers == 3 == duty.inferences == len(infer.calls)
    # wakes: one per idle check and one per cooldown
    assert r["wakes"] == clock.sleeps
    assert clock.slept_ms == 80 * (clock.sleeps - 3) + 500 * 3
    assert r["collect_ms"] > 0 and r["cooldown_ms"] == 1500
    assert 0 < r["active_permille"] < 500
    # deterministic: a second run gives the same report
    duty2, clock2, _ = make(bursts, cooldown_ms=500)
    run_until(duty2, clock2, 15000)
    assert duty2.report() == r


def test_quiet_world_never_triggers_and_step_is_allocation_free():
    duty, clock, infer = make([])
    # warm-up: one pass over the ring fills its view cache
    assert allocated(duty.step, n=300, warmup=40) == 0
    assert duty.triggers == 0 and duty.state == IDLE_CHECK
    assert duty.level < 1000
    assert duty.wakes == 340


def test_full_cycles_are_allocation_free():
    bursts = [(t, 200) for t in range(500, 200000, 1500)]
    duty, clock, infer = make(bursts)
    run_until(duty, clock, 120000)  # until every window position of the ring is cached
    infer.record = False
    before = duty.inferences
    assert allocated(duty.step, n=500, warmup=0) == 0
    assert duty.inferences - before >= 5
    assert infer.peak == 4000


def test_mean_abs():
    from array import array

    assert mean_abs(array("h", [3, -5, 0, 8]), 4) == 4
    assert mean_abs(array("h", [3, -5]), 0) == 0


def test_sim_clock():
    c = SimClock(5)
    c.advance_us(1500)
    c.advance_us(700)
    assert c.ticks_ms() == 7 and c.ticks_us() == 7200
    c.sleep_ms(3)
    assert (c.ticks_ms(), c.sleeps, c.slept_ms) == (10, 1, 3)
    with raises(ValueError, "backwards"):
        c.advance_us(-1)


def test_system_clock():
    try:
        import time
    except ImportError:
        with raises(ImportError, "pass ticks_ms"):
            system()
        raise SkipTest("this port has no time module")
    ticks, diff, sleep = system()
    assert ticks is time.ticks_ms and diff is time.ticks_diff
    try:
        import machine

        has_lightsleep = hasattr(machine, "lightsleep")
    except ImportError:
        has_lightsleep = False
    if has_lightsleep:
        assert sleep is machine.lightsleep
    else:
        assert sleep is time.sleep_ms
