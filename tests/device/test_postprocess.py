# tinyml.postprocess.Recognizer: averaging, suppression, hysteresis,
# voting, reject option, per-class thresholds; integer-domain behaviour.
from array import array

from tinyml.postprocess import Recognizer
from tinyml.testing import allocated, raises

LABELS = ["_silence_", "_unknown_", "yes", "no"]
SCALE = 1 / 256
ZP = -128


def q(p):
    v = int(p * 256 + 0.5) + ZP
    return 127 if v > 127 else v


def scores(yes=0.0, no=0.0, silence=None, unknown=0.0):
    if silence is None:
        silence = max(0.0, 1.0 - yes - no - unknown)
    return array("b", [q(silence), q(unknown), q(yes), q(no)])


def make(**kw):
    args = dict(threshold=0.8, average_window_ms=1000, minimum_count=3, suppression_ms=1500)
    args.update(kw)
    return Recognizer(LABELS, SCALE, ZP, **args)


def feed(rec, frames, t0=0, step=100):
    """frames: list of score arrays, one per ``step`` ms; returns events."""
    events = []
    t = t0
    for s in frames:
        ev = rec.update(s, t)
        if ev is not None:
            events.append((ev.label, ev.score_q, ev.time_ms))
        t += step
    return events


def test_validation_names_fields():
    with raises(ValueError, "exit threshold"):
        make(threshold=0.5, exit_threshold=0.7)
    with raises(ValueError, "vote_k"):
        make(vote_k=3, vote_m=2)
    with raises(ValueError, "unknown label 'maybe'"):
        make(class_thresholds={"maybe": 0.5})
    with raises(ValueError, "class_thresholds[no]"):
        make(class_thresholds={"no": [0.5, 0.9]})
    with raises(ValueError, "threshold must be within"):
        make(threshold=1.5)
    with raises(ValueError, "scale"):
        Recognizer(LABELS, 0, ZP)
    with raises(ValueError, "labels"):
        Recognizer([], SCALE, ZP)
    with raises(TypeError, "minimum_count"):
        make(minimum_count=2.5)
    with raises(ValueError, "minimum_count"):
        make(minimum_count=40, history=32)
    rec = make()
    with raises(ValueError, "expected 4 scores"):
        rec.update(array("b", [0, 0]), 0)
    rec.update(scores(), 100)
    with raises(ValueError, "backwards"):
        rec.update(scores(), 50)


def test_minimum_count_then_single_event_while_active():
    rec = make()
    ev = feed(rec, [scores(yes=0.9)] * 10)
    # no decision before 3 results spanning >= 250 ms (a quarter of the
    # window); then one event; staying high does not repeat
    assert [(e[0], e[2]) for e in ev] == [("yes", 300)], ev
    assert ev[0][1] == q(0.9) - ZP
    assert rec.events == 1 and rec.active == 2


def test_results_must_span_a_quarter_of_the_window():
    rec = make(minimum_count=1, average_window_ms=1000)
    ev = feed(rec, [scores(yes=0.9)] * 6, step=50)
    assert [e[2] for e in ev] == [250], ev  # first time the span reaches 250 ms


def test_bytes_and_array_give_the_same_result():
    a = make()
    b = make()
    for t in range(0, 1000, 100):
        s = scores(yes=0.85, no=0.1)
        ea = a.update(s, t)
        eb = b.update(bytes(s), t)
        assert (ea is None) == (eb is None)
    assert a.events == b.events == 1
    assert a.average_q(2) == b.average_q(2)


def test_averaging_window_smooths_a_spike():
    rec = make(minimum_count=1)
    frames = [scores(yes=0.1)] * 9 + [scores(yes=1.0)] + [scores(yes=0.1)] * 5
    assert feed(rec, frames) == []
    assert rec.rejected_threshold == 0  # the top class stayed silence
    # with a 1-result window the same spike fires
    rec = make(minimum_count=1, average_window_ms=0)
    assert [e[0] for e in feed(rec, frames)] == ["yes"]


def test_suppression_then_refire():
    rec = make(minimum_count=1, average_window_ms=0, suppression_ms=1500)
    frames = ([scores(yes=0.9)] * 2 + [scores()] * 3) * 4  # yes every 500 ms
    ev = feed(rec, frames)
    times = [e[2] for e in ev]
    assert times == [0, 1500], times
    assert rec.suppressed == 4  # results at 500, 600, 1000 and 1100 ms
    # a different label is not suppressed by the last one
    rec = make(minimum_count=1, average_window_ms=0, suppression_ms=1500)
    ev = feed(rec, [scores(yes=0.9), scores(), scores(no=0.9)])
    assert [e[0] for e in ev] == ["yes", "no"]


def test_hysteresis_prevents_chatter():
    wobble = [0.85, 0.7, 0.82, 0.6, 0.9, 0.65, 0.81]
    frames = [scores(yes=p) for p in wobble]
    plain = make(minimum_count=1, average_window_ms=0, suppression_ms=0)
    assert len(feed(plain, frames)) == 4  # every crossing of 0.8 fires
    hyst = make(minimum_count=1, average_window_ms=0, suppression_ms=0, exit_threshold=0.5)
    assert len(feed(hyst, frames)) == 1
    # after falling below the exit threshold it can fire again
    more = [scores(yes=0.3), scores(yes=0.9)]
    assert len(feed(hyst, more, t0=1000)) == 1


def test_minimum_hold():
    frames = [scores(yes=0.9), scores(yes=0.1), scores(yes=0.9)]
    rec = make(minimum_count=1, average_window_ms=0, suppression_ms=0, min_hold_ms=500)
    assert len(feed(rec, frames)) == 1  # still held at 200 ms: no second event
    assert rec.active == 2
    rec.update(scores(yes=0.1), 600)
    assert rec.active == -1
    assert rec.update(scores(yes=0.9), 700) is not None


def test_k_of_m_voting():
    sporadic = [scores(yes=0.9), scores(), scores(), scores(yes=0.9), scores(), scores()]
    rec = make(minimum_count=1, average_window_ms=0, vote_k=2, vote_m=3)
    assert feed(rec, sporadic) == []
    assert rec.rejected_votes == 2
    steady = [scores(), scores(yes=0.9), scores(yes=0.9)]
    ev = feed(rec, steady, t0=1000)
    assert [(e[0], e[2]) for e in ev] == [("yes", 1200)]


def test_margin_reject_option():
    close = scores(yes=0.52, no=0.46, silence=0.02)
    rec = make(minimum_count=1, average_window_ms=0, threshold=0.5, margin=0.1)
    assert feed(rec, [close] * 3) == []
    assert rec.rejected_margin == 3
    clear = scores(yes=0.62, no=0.36, silence=0.02)
    assert len(feed(rec, [clear], t0=500)) == 1


def test_per_class_thresholds():
    rec = make(minimum_count=1, average_window_ms=0, suppression_ms=0, class_thresholds={"no": 0.95})
    assert feed(rec, [scores(no=0.9)]) == []
    assert rec.rejected_threshold == 1
    assert [e[0] for e in feed(rec, [scores(yes=0.9)], t0=100)] == ["yes"]
    rec = make(minimum_count=1, average_window_ms=0, class_thresholds={"yes": [0.6, 0.3]})
    frames = [scores(yes=0.65), scores(yes=0.4), scores(yes=0.7)]
    assert len(feed(rec, frames)) == 1  # yes uses its own hysteresis band


def test_ignored_labels_never_fire():
    rec = make(minimum_count=1, average_window_ms=0)
    assert feed(rec, [scores(silence=1.0)] * 3 + [scores(unknown=0.95)] * 3) == []
    assert rec.events == 0


def _reference(frames, window_ms, min_count, thr, supp, step=100):
    # Float re-implementation of the TFLM-style rule for comparison.
    hist = []
    events = []
    last_label, last_t = -1, -(10**9)
    active = -1
    for n, s in enumerate(frames):
        t = n * step
        hist.append((t, [(v - ZP) * SCALE for v in s]))
        hist = [h for h in hist if h[0] >= t - window_ms]
        avg = [sum(h[1][i] for h in hist) / len(hist) for i in range(4)]
        if active >= 0 and avg[active] < thr:
            active = -1
        if len(hist) < min_count or t - hist[0][0] < window_ms // 4:
            continue
        top = max(range(4), key=lambda i: (avg[i], -i))
        if top < 2 or avg[top] < thr or top == active:
            continue
        if top == last_label and t - last_t < supp:
            continue
        active = top
        last_label, last_t = top, t
        events.append((LABELS[top], t))
    return events


def test_matches_float_reference_on_a_random_stream():
    seed = 7
    frames = []
    for n in range(400):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        r = (seed >> 8) % 1000 / 1000
        phase = (n // 15) % 4
        if phase == 1:
            frames.append(scores(yes=0.5 + r * 0.5))
        elif phase == 3:
            frames.append(scores(no=0.4 + r * 0.6, yes=0.0))
        else:
            frames.append(scores(yes=r * 0.3, no=r * 0.2))
    rec = make(threshold=0.7, average_window_ms=500, minimum_count=3, suppression_ms=800)
    got = [(e[0], e[2]) for e in feed(rec, frames)]
    want = _reference(frames, 500, 3, 0.7, 800)
    assert len(want) > 10
    assert got == want, (got[:5], want[:5])


def test_update_is_allocation_free_even_when_firing():
    rec = make(minimum_count=1, average_window_ms=200, suppression_ms=0, exit_threshold=0.5, vote_k=1, vote_m=2,
               margin=0.05, class_thresholds={"no": 0.9})
    hi = scores(yes=0.95)
    lo = scores(yes=0.05)
    state = [0, 0]

    def step():
        state[0] += 100
        rec.update(hi if (state[0] // 400) % 2 else lo, state[0])

    assert allocated(step, n=400, warmup=20) == 0
    assert rec.events >= 40
