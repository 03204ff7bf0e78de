# tinyml.ring: RingBuffer and Hopper on the Unix port.
from array import array

from tinyml.ring import DROP_NEWEST, DROP_OLDEST, RAISE, Hopper, RingBuffer
from tinyml.testing import allocated, raises

MOD = 30000  # sample value = its counter modulo MOD: every window is checkable


def chunk_at(start, n, buf=None):
    if buf is None:
        buf = array("h", bytes(2 * n))
    for i in range(n):
        buf[i] = (start + i) % MOD
    return buf


def assert_window(views, start):
    k = start
    for seg in views:
        for i in range(len(seg)):
            assert seg[i] == k % MOD, "sample %d is %d, expected %d" % (k, seg[i], k % MOD)
            k += 1


def test_constructor_validation():
    with raises(ValueError, "capacity"):
        RingBuffer(0)
    with raises(TypeError, "capacity"):
        RingBuffer(1.5)
    with raises(ValueError, "typecode"):
        RingBuffer(10, "x")
    with raises(ValueError, "policy"):
        RingBuffer(10, "h", 7)
    r = RingBuffer(10, "b")
    with raises(ValueError, "window"):
        Hopper(r, 11, 1)
    with raises(ValueError, "hop"):
        Hopper(r, 5, 0)


def test_window_segments_and_wrap():
    r = RingBuffer(10, "h")
    r.write(chunk_at(0, 7))
    a, b = r.window(5)
    assert len(a) == 5 and len(b) == 0
    assert_window((a, b), 2)
    r.release(r.written)
    r.write(chunk_at(7, 6))  # wraps: counters 7..12
    assert r.written == 13
    a, b = r.window(6)  # counters 7..12 -> positions 7,8,9 | 0,1,2
    assert len(a) == 3 and len(b) == 3
    assert_window((a, b), 7)
    a, b = r.window(4, 10)  # ends at counter 10: 6..9 in one piece
    assert len(b) == 0
    assert_window((a, b), 6)
    dst = array("h", bytes(2 * 8))
    assert r.read_into(dst, 13, 6) == 6
    assert list(dst[0:6]) == [7, 8, 9, 10, 11, 12]
    dst2 = array("h", bytes(2 * 10))
    r.read_into(dst2)
    assert list(dst2) == list(range(3, 13))
    with raises(ValueError, "no longer stored"):
        r.window(10, 12)
    with raises(ValueError, "ahead"):
        r.window(2, 14)
    with raises(ValueError, "window length"):
        r.window(11)
    assert r.dropped == 0


def test_partial_write_and_big_write():
    r = RingBuffer(8, "h")
    src = chunk_at(0, 5)
    assert r.write(src, 3) == 3
    assert_window(r.window(3), 0)
    with raises(ValueError, "exceeds"):
        r.write(src, 6)
    r.release(r.written)
    big = chunk_at(3, 20)  # more than the capacity: only the last 8 survive
    assert r.write(big) == 20
    assert r.written == 23
    assert r.dropped == 12
    assert_window(r.window(8), 15)


def test_drop_oldest_counts_unreleased_samples():
    r = RingBuffer(10, "h", DROP_OLDEST)
    r.write(chunk_at(0, 8))
    r.release(4)  # consumer still needs 4..7
    assert r.free() == 6
    r.write(chunk_at(8, 9))  # 3 too many: 4, 5, 6 are lost
    assert r.dropped == 3
    assert r.tail == 7
    assert_window(r.window(10), 7)


def test_drop_newest_keeps_stored_samples():
    r = RingBuffer(10, "h", DROP_NEWEST)
    r.write(chunk_at(0, 8))
    assert r.write(chunk_at(8, 5)) == 2
    assert r.dropped == 3 and r.written == 10
    assert_window(r.window(10), 0)
    assert r.write(chunk_at(10, 4)) == 0
    assert r.dropped == 7
    r.release(6)
    assert r.write(chunk_at(10, 4)) == 4
    assert_window(r.window(10), 4)


def test_raise_policy_writes_nothing():
    r = RingBuffer(10, "h", RAISE)
    r.write(chunk_at(0, 8))
    with raises(OverflowError, "ring full"):
        r.write(chunk_at(8, 3))
    assert r.written == 8 and r.dropped == 0
    assert_window(r.window(8), 0)


def test_hopper_schedule():
    r = RingBuffer(100, "h")
    h = Hopper(r, window=40, hop=10)
    ends = []
    for k in range(10):
        r.write(chunk_at(k * 7, 7))
        while h.ready():
            ends.append(h.end)
            assert_window(r.window(40, h.end), h.end - 40)
            h.advance()
    assert ends == [40, 50, 60, 70], ends
    assert h.skipped == 0 and r.dropped == 0
    assert r.tail == h.end - 40


def test_overload_producer_faster_than_consumer():
    # The producer writes 3 hops per consumed window: the ring overflows,
    # lost windows are skipped and counted, and every window the consumer
    # does get holds exactly the right samples.
    window, hop, cap = 400, 100, 1000
    r = RingBuffer(cap, "h")
    h = Hopper(r, window, hop)
    chunk = array("h", bytes(2 * 300))
    frame = array("h", bytes(2 * window))
    consumed = 0
    written = 0
    for step in range(400):
        chunk_at(written, 300, chunk)
        written += r.write(chunk)
        if h.ready():  # at most one window per step: the consumer is slow
            r.read_into(frame, h.end)
            assert_window((frame,), h.end - window)
            consumed += 1
            h.advance()
    assert r.written == written == 120000
    assert r.dropped > 0
    assert h.skipped > 0
    # every window end up to the last scheduled one was consumed or skipped
    assert consumed + h.skipped == (h.end - window) // hop
    # samples released without being lost + samples lost = everything before tail
    assert r.tail <= r.written


def test_allocation_probe_sees_allocations():
    # the probe used below must be able to fail
    assert allocated(lambda: bytearray(64), n=10) >= 640


def test_steady_state_is_allocation_free():
    r = RingBuffer(1600, "h")
    h = Hopper(r, 800, 160)
    chunk = chunk_at(0, 160)
    frame = array("h", bytes(2 * 800))

    def step():
        r.write(chunk)
        while h.ready():
            a, b = r.window(800, h.end)
            r.read_into(frame, h.end)
            h.advance()

    assert allocated(step, n=500, warmup=40) == 0


def test_unaligned_sizes_also_settle():
    # 1000 % 300 != 0: writes wrap at varying places, but the set of
    # positions is finite, so the caches fill and then nothing allocates.
    r = RingBuffer(1000, "h")
    h = Hopper(r, 500, 100)
    chunk = chunk_at(0, 300)
    frame = array("h", bytes(1000))

    def step():
        r.write(chunk)
        while h.ready():
            r.read_into(frame, h.end)
            h.advance()

    assert allocated(step, n=200, warmup=60) == 0


def test_rebase():
    r = RingBuffer(10, "h")
    h = Hopper(r, 5, 5)
    for k in range(5):
        r.write(chunk_at(5 * k, 5))
        while h.ready():
            h.advance()
    assert r.written == 25 and r.tail == 25
    with raises(ValueError, "multiple"):
        r.rebase(7)
    amount = r.rebase(10)
    h.rebase(amount)
    assert r.written == 15 and h.end == 20
    r.write(chunk_at(25, 5))
    assert h.ready()
    assert_window(r.window(5, h.end), 25 - 5 + 5)


def test_other_typecodes():
    r = RingBuffer(6, "f")
    src = array("f", [0.5, 1.5, 2.5, 3.5])
    r.write(src)
    r.release(4)
    r.write(src)
    a, b = r.window(5)
    assert list(a) + list(b) == [3.5, 0.5, 1.5, 2.5, 3.5]
    r8 = RingBuffer(4, "b")
    r8.write(array("b", [-1, -2, -3]))
    assert list(r8.window(3)[0]) == [-1, -2, -3]


def test_overload_drop_newest_keeps_windows_consistent():
    # Drop-newest under overload: whole tails of chunks are refused; what
    # the consumer reads is exactly the accepted samples, in order.
    window, hop, cap = 300, 300, 900
    r = RingBuffer(cap, "h", DROP_NEWEST)
    h = Hopper(r, window, hop)
    chunk = array("h", bytes(2 * 250))
    frame = array("h", bytes(2 * window))
    writes = []  # (counter of the first accepted sample, its value index, count)
    offered = 0
    consumed = 0

    def expected(counter):
        for first, value, n in writes:
            if first <= counter < first + n:
                return (value + counter - first) % MOD
        raise AssertionError("counter %d was never written" % counter)

    for step in range(120):
        chunk_at(offered, 250, chunk)
        before = r.written
        n = r.write(chunk)
        if n:
            writes.append((before, offered, n))
        offered += 250
        if step % 2 and h.ready():  # consumer runs at half the producer's pace
            r.read_into(frame, h.end)
            for i in range(0, window, 7):
                assert frame[i] == expected(h.end - window + i)
            consumed += 1
            h.advance()
    assert r.written == sum(w[2] for w in writes)
    assert r.dropped == offered - r.written > 0
    assert any(w[2] < 250 for w in writes)  # partial writes happened
    assert h.skipped == 0  # nothing the consumer needed was overwritten
    assert consumed == (h.end - window) // hop
