# tinyml.gate.InputGate: cause codes, per-cause counters, streaming windows.
from array import array

from tinyml.gate import CAUSES, CLIP, NAN, OK, RANGE, STUCK, InputGate
from tinyml.testing import SkipTest, allocated, raises


def tone(n, amp=1000, start=0):
    # deterministic non-repeating waveform (triangle with a drifting step)
    out = array("h", bytes(2 * n))
    for i in range(n):
        k = (start + i) % 64
        out[i] = (k * amp // 16 if k < 32 else (64 - k) * amp // 16) - amp + (start + i) % 3
    return out


def test_validation():
    with raises(ValueError, "lo"):
        InputGate(lo=10, hi=0)
    with raises(ValueError, "stuck_samples"):
        InputGate(stuck_samples=1)
    with raises(TypeError, "clip_level"):
        InputGate(clip_level=0.5)
    with raises(ValueError, "window_blocks"):
        InputGate(window_blocks=0)
    with raises(ValueError, "empty"):
        InputGate().check(array("h"))


def test_whole_window_causes_and_counters():
    g = InputGate(lo=-30000, hi=30000, stuck_samples=50, clip_level=20000, max_clipped=2)
    w = tone(400)
    assert g.check(w) == OK
    assert g.min == min(w) and g.max == max(w)
    assert g.mean_abs == sum(abs(v) for v in w) // len(w)
    bad = array("h", w)
    bad[100] = 31000
    assert g.check(bad) == RANGE
    stuck = array("h", w)
    for i in range(200, 260):
        stuck[i] = 7
    assert g.check(stuck) == STUCK
    assert g.max_run == 60
    short = array("h", w)
    for i in range(200, 240):
        short[i] = 7  # 40 < 50: fine
    assert g.check(short) == OK
    clipped = array("h", w)
    for i in (10, 20, 30):
        clipped[i] = -25000
    assert g.check(clipped) == CLIP
    clipped[30] = 0
    assert g.check(clipped) == OK  # two clipped samples are allowed
    assert list(g.counts) == [3, 0, 1, 1, 1]
    assert g.rejected() == 3
    assert CAUSES[RANGE] == "range"


def test_split_window_is_one_block():
    g = InputGate(stuck_samples=30)
    a = tone(100)
    b = tone(100, start=100)
    for i in range(85, 100):
        a[i] = 5
    for i in range(0, 20):
        b[i] = 5  # the run continues across the two segments: 35 >= 30
    assert g.check(a, b) == STUCK
    assert g.check(a) == OK  # a window of its own: 15 only


def test_nan_in_float_windows():
    g = InputGate(lo=-10, hi=10)
    w = array("f", [0.5, -1.0, 2.0, 0.25])
    assert g.check(w) == OK
    w[2] = float("nan")
    assert g.check(w) == NAN
    w[2] = 20.0
    assert g.check(w) == RANGE


def test_streaming_blocks_reject_while_bad_block_is_in_window():
    g = InputGate(lo=-5000, hi=5000, window_blocks=4)
    verdicts = []
    for k in range(12):
        blk = tone(100, start=100 * k)
        if k == 3:
            blk[50] = 6000
        verdicts.append(g.check(blk))
    assert verdicts == [OK] * 3 + [RANGE] * 4 + [OK] * 5, verdicts
    assert g.counts[RANGE] == 4 and g.counts[OK] == 8


def test_streaming_stuck_run_across_blocks_and_clip_sum():
    g = InputGate(stuck_samples=150, clip_level=3000, max_clipped=4, window_blocks=3)
    out = []
    for k in range(8):
        blk = tone(100, start=100 * k)
        if k in (2, 3):
            for i in range(100):
                blk[i] = 0  # 200 equal samples spread over two blocks
        if k == 5:
            for i in range(0, 6, 2):
                blk[i] = 3500  # 3 clipped samples per block in blocks 5 and 6
        if k == 6:
            for i in range(0, 6, 2):
                blk[i] = -3500
        out.append(g.check(blk))
    # block 3 completes the stuck run; windows 3..5 contain it
    assert out[:3] == [OK, OK, OK], out
    assert out[3:6] == [STUCK, STUCK, STUCK], out
    assert out[6] == CLIP and out[7] == CLIP, out  # 6 clipped samples > 4 in windows 6 and 7


def test_check_is_allocation_free():
    g = InputGate(lo=-30000, hi=30000, stuck_samples=100, clip_level=30000, max_clipped=3, window_blocks=5)
    a = tone(160)
    b = tone(160, start=160)
    mv = memoryview(b)
    assert allocated(lambda: g.check(a, mv), n=200) == 0


def test_native_scan_matches_python_loop():
    import tinyml.gate as gate_mod

    if gate_mod._native_scan is None:
        raise SkipTest("this firmware has no _tinyml.scan_s16")
    seed = 5
    for blocks, stuck, clip in ((1, 40, 3000), (5, 150, 2990), (3, 0, 0)):
        fast = InputGate(lo=-3200, hi=3200, stuck_samples=stuck, clip_level=clip, max_clipped=3, window_blocks=blocks)
        slow = InputGate(lo=-3200, hi=3200, stuck_samples=stuck, clip_level=clip, max_clipped=3, window_blocks=blocks,
                         native=False)
        a = array("h", bytes(2 * 100))
        b = array("h", bytes(2 * 60))
        for k in range(120):
            for seg in (a, b):
                for i in range(len(seg)):
                    seed = seed * 171 % 30269
                    r = seed % 1000
                    if k % 7 == 3:
                        seg[i] = 9  # a stuck stretch over both segments
                    elif r < 2 and k % 11 == 5:
                        seg[i] = 3300 if r else -3300  # out of range and clipped
                    else:
                        seg[i] = r * 6 - 3000
            tail = b if k % 2 else None
            got = fast.check(a, tail)
            want = slow.check(a, tail)
            assert got == want, (blocks, k, got, want)
            assert (fast.min, fast.max, fast.mean_abs, fast.max_run) == (slow.min, slow.max, slow.mean_abs,
                                                                          slow.max_run), (blocks, k)
        assert list(fast.counts) == list(slow.counts)
        assert fast.rejected() > 0 and fast.counts[OK] > 0, (blocks, list(fast.counts))
    # other element types take the Python loop
    g = InputGate(lo=-5, hi=5)
    assert g.check(array("b", [1, 2, 9])) == RANGE and g.max == 9
