# tinyml.kws: the streaming pipeline with stand-in frontend/interpreter
# (kwsfakes) and, when the firmware has them, the real runtime and frontend.
import gc
from array import array

import kwsfakes as kf
from tinyml import gate as gatemod
from tinyml.kws import KWS, feature_lut
from tinyml.postprocess import Recognizer
from tinyml.ring import RAISE
from tinyml.testing import raises

LABELS = ["_silence_", "_unknown_", "yes", "no"]
FLOAT_SCALE = 0.25
HOP_FRAMES = 2


def _pipeline(recognizer=True, gate=None, feature_typecode="H", **kw):
    interp = kf.FakeInterpreter()
    fe = kf.FakeFrontend(typecode=feature_typecode)
    rec = None
    if recognizer:
        rec = Recognizer(LABELS, 1 / 256, -128, threshold=0.8, average_window_ms=100, minimum_count=2,
                         suppression_ms=500)
    return KWS(interp, fe, kf.FRAMES, kf.CH, kf.STEP, hop_frames=HOP_FRAMES, sample_rate=16000,
               float_scale=FLOAT_SCALE if feature_typecode == "H" else None, recognizer=rec, gate=gate,
               feature_typecode=feature_typecode, **kw)


def _feed_chunks(k, sig, chunk, events=None):
    buf = array("h", bytes(2 * chunk))
    sig.rewind()
    while True:
        n = sig.readinto(buf)
        if n == 0:
            break
        k.feed(buf, n, None if events is None else (lambda d: events.append((d.label, d.time_ms))))


def test_feature_lut_matches_formula():
    lut = feature_lut(0.0390625, 0.1017, -128)
    for f in range(len(lut)):
        q = round(f * 0.0390625 / 0.1017) - 128
        assert lut[f] == max(-128, min(127, q))
    assert lut[-1] == 127 and lut[0] == -128
    # Past the end of the table the value is saturated.
    assert round(len(lut) * 0.0390625 / 0.1017) - 128 >= 127
    with raises(ValueError):
        feature_lut(0, 0.1, 0)


def test_window_holds_newest_frames_in_model_layout():
    k = _pipeline(recognizer=False)
    sig = kf.Signal(16000, [(4000, 3000)])
    _feed_chunks(k, sig, 1000)
    # Reference: every frame of the audio the pipeline consumed, through a
    # frontend of its own, converted (the frontend streams: feeding it in
    # pieces gives the frames of a single call).
    fe = kf.FakeFrontend()
    out = array("H", bytes(2 * kf.CH * 200))
    consumed = k.hops * k.hop
    piece = array("h", bytes(2 * 1600))
    sig.rewind()
    n = 0
    while sig.pos < consumed:
        got = sig.readinto(piece, consumed - sig.pos)
        n += fe.process(memoryview(piece)[:got], out)
    assert n == k.frame_count and n > kf.FRAMES
    want = array("b", bytes(kf.FRAMES * kf.CH))
    for i in range(kf.FRAMES * kf.CH):
        f = out[(200 - kf.FRAMES) * kf.CH + i]
        want[i] = k.lut[f] if f < len(k.lut) else 127
    assert bytes(k._win) == bytes(want)
    assert k.filled == kf.FRAMES


def test_chunking_does_not_change_results():
    sig = kf.Signal(24000, [(5000, 4000), (15000, 4000)])
    runs = []
    for chunk in (1, 77, 320, 999, 4000):
        k = _pipeline(ring_hops=16)  # room for the largest chunk
        seen = []

        def on(d, seen=seen):
            seen.append((d.label, d.time_ms))

        buf = array("h", bytes(2 * chunk))
        sig.rewind()
        while True:
            n = sig.readinto(buf)
            if n == 0:
                break
            k.feed(buf, n, on)
        # Only small results outlive the pipeline: what stays on the heap
        # between runs must not fragment it (small boards).
        runs.append((seen, (k.t_ms, bytes(k.scores)), k.inferences, k.hops, k.interpreter.digest))
        del k, buf
    for r in runs[1:]:
        assert r[2] == runs[0][2] and r[3] == runs[0][3]
        assert r[1] == runs[0][1]
        assert r[0] == runs[0][0]
        assert r[4] == runs[0][4]  # the scores of every inference, in order
    seen, last, inferences, hops, digest = runs[0]
    # One hop = 2 frames = 320 samples = 20 ms; inference starts once the
    # window holds FRAMES frames.
    assert hops == 24000 // 320
    assert 0 < inferences < hops


def test_detects_bursts_at_the_right_time():
    sig = kf.Signal(48000, [(8000, 6000), (30000, 6000)])
    k = _pipeline()
    events = []
    _feed_chunks(k, sig, 512, events)
    assert [e[0] for e in events] == ["yes", "yes"], events
    # Each event fires while its burst is in the window (times in ms).
    assert 500 <= events[0][1] <= 14000 // 16 + 200
    assert 30000 // 16 <= events[1][1] <= 36000 // 16 + 200
    assert k.detections == 2


def test_no_allocation_per_hop_after_warmup():
    k = _pipeline()
    chunk = array("h", bytes(2 * 320))
    seed = 5

    def fill(loud):
        s = seed
        for i in range(320):
            s = s * 171 % 30269  # small ints: filling the chunk allocates nothing on any port
            chunk[i] = (8000 if (i // 8) % 2 else -8000) if loud else s % 401 - 200
        return s

    def on(d):
        events[0] += 1

    events = [0]
    for i in range(300):  # warm-up: ring views, recognizer, frontend
        seed = fill(i % 40 < 8)
        k.feed(chunk, -1, on)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        hops = k.hops
        ev_before = events[0]
        for i in range(400):
            seed = fill(i % 40 < 8)
            k.feed(chunk, -1, on)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert k.hops - hops == 400 and k.inferences > 300
    assert events[0] - ev_before >= 5  # detections in the measured part too
    assert after - before == 0, "pipeline allocated %d bytes in 400 hops" % (after - before)


def test_gate_rejects_without_touching_inference():
    g = gatemod.InputGate(stuck_samples=100)
    k = _pipeline(gate=g, ring_hops=16)
    sig = kf.Signal(16000, [])
    _feed_chunks(k, sig, 320)
    inf = k.inferences
    rec_frames = k.recognizer.frames
    dead = array("h", bytes(2 * 3200))  # all zeros: a stuck input
    k.feed(dead)
    assert k.rejected == 10 and k.inferences == inf
    assert k.recognizer.frames == rec_frames  # post-processing untouched
    assert k.last_cause == gatemod.STUCK and g.counts[gatemod.STUCK] == 10
    _feed_chunks(k, sig, 320)
    assert k.inferences > inf


def test_overflow_drops_are_counted_and_stream_recovers():
    k = _pipeline(ring_hops=2)
    sig = kf.Signal(20000, [(12000, 5000)])
    buf = array("h", bytes(2 * 2000))
    while True:  # 20000 samples into a 640-sample ring without processing
        n = sig.readinto(buf)
        if n == 0:
            break
        k.write(buf, n)
    assert k.dropped == 20000 - 640
    k.process()
    events = []
    _feed_chunks(k, sig, 320, events)
    assert [e[0] for e in events] == ["yes"]
    k2 = _pipeline(ring_hops=2, overflow=RAISE)
    sig.rewind()
    sig.readinto(buf)
    with raises(OverflowError):
        k2.write(buf)


def test_int8_frontend_output_goes_straight_into_the_window():
    k = _pipeline(feature_typecode="b")
    sig = kf.Signal(16000, [(6000, 5000)])
    events = []
    _feed_chunks(k, sig, 400, events)
    assert k.lut is None and k.inferences > 0
    assert [e[0] for e in events] == ["yes"]


def test_bad_arguments():
    interp = kf.FakeInterpreter()
    fe = kf.FakeFrontend()
    with raises(ValueError, "input tensor"):
        KWS(interp, fe, kf.FRAMES + 1, kf.CH, kf.STEP, float_scale=0.25)
    with raises(ValueError, "hop_frames"):
        KWS(interp, fe, kf.FRAMES, kf.CH, kf.STEP, hop_frames=kf.FRAMES + 1, float_scale=0.25)
    with raises(ValueError, "float_scale"):
        KWS(interp, fe, kf.FRAMES, kf.CH, kf.STEP)
    with raises(TypeError):
        KWS(interp, fe, kf.FRAMES, kf.CH, 160.0, float_scale=0.25)
    with raises(ValueError, "feature_typecode"):
        KWS(interp, fe, kf.FRAMES, kf.CH, kf.STEP, float_scale=0.25, feature_typecode="f")


def _soak_seconds():
    # An hour of audio on the Unix port. Boards that interpret Python at
    # emulated (or microcontroller) speed run 10 minutes of the same code
    # unless $MPYML_SOAK_SECONDS asks for more (`make soak`: an hour).
    import os
    import sys

    getenv = getattr(os, "getenv", None)  # not on every port
    v = getenv and getenv("MPYML_SOAK_SECONDS")
    if v:
        return max(300, int(v))
    return 3600 if sys.platform == "linux" else 600


def test_soak_heap_does_not_grow():
    # Audio at full speed (an hour: 11250 hops, over 11000 inferences);
    # the heap must not grow and the clock must not drift.
    k = KWS(kf.FakeInterpreter(), kf.CheapFrontend(), kf.FRAMES, kf.CH, kf.STEP, hop_frames=HOP_FRAMES,
            feature_typecode="b", ring_hops=10,
            recognizer=Recognizer(LABELS, 1 / 256, -128, threshold=0.8, average_window_ms=100, minimum_count=2,
                                  suppression_ms=500))
    loud = array("h", [8000] * 1600)
    quiet = array("h", [100] * 1600)
    count = [0]

    def on(d):
        count[0] += 1

    seconds = _soak_seconds()
    chunks = seconds * 16000 // 1600
    for i in range(50):  # warm-up
        k.feed(loud if i % 20 < 3 else quiet, -1, on)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for i in range(50, chunks):
            k.feed(loud if i % 20 < 3 else quiet, -1, on)  # a "keyword" every 2 s
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert after == before, "heap grew by %d bytes over %d s of audio" % (after - before, seconds)
    assert k.t_ms == seconds * 1000 and k.hops == seconds * 16000 // k.hop
    assert k.inferences == k.hops - (kf.FRAMES // HOP_FRAMES), (k.inferences, k.hops, count[0])
    assert count[0] == chunks // 20, (count[0], chunks)  # one detection per burst, none lost or doubled
    assert k.dropped == 0


# -- the real runtime and frontend with TFLM's micro_speech model ----------

import pkgfixtures as fx  # noqa: E402
from tinyml import package  # noqa: E402

_tmp = []


def teardown():
    while _tmp:
        fx.rmtree(_tmp.pop())


def _micro_speech():
    d = fx.tmpdir("kws")
    _tmp.append(d)
    fx.write_package(d + "/p", fx.micro_speech_files())
    return package.load(d + "/p")


def _play(k, parts, on):
    buf = array("h", bytes(2 * 320))
    fx.play(parts, buf, lambda n: k.feed(buf, n, on))


def test_real_micro_speech_stream_detects_yes_and_no():
    k = KWS.from_package(_micro_speech(), hop_ms=100)
    yes = "tflite-micro/yes_1000ms.wav"
    no = "tflite-micro/no_1000ms.wav"
    noise = "tflite-micro/noise_1000ms.wav"
    quiet = 16000  # one second of silence
    events = []
    _play(k, (quiet, yes, quiet, no, noise, quiet, yes, quiet), lambda d: events.append((d.label, d.time_ms)))
    assert [e[0] for e in events] == ["yes", "no", "yes"], events
    # Each fires after its word starts and within 1.5 s of its end.
    for (label, t), start in zip(events, (1000, 3000, 6000)):
        assert start < t <= start + 2500, (label, t)
    assert k.hops == 8 * 16000 // 1600 and k.dropped == 0


def test_real_pipeline_allocates_nothing_per_hop():
    k = KWS.from_package(_micro_speech(), hop_ms=100)
    chunk = array("h", bytes(2 * 320))
    count = [0]

    def on(d):
        count[0] += 1

    alloc = [0]

    def play(times):
        def feed(n):
            # reading the recording into chunk is the test's own work: not measured
            assert n == len(chunk)
            m = gc.mem_alloc()
            k.feed(chunk, -1, on)
            alloc[0] += gc.mem_alloc() - m

        fx.play(("tflite-micro/yes_1000ms.wav",) * times, chunk, feed)

    play(3)  # warm-up
    gc.collect()
    gc.disable()
    try:
        alloc[0] = 0
        inf = k.inferences
        play(4)
    finally:
        gc.enable()
    assert k.inferences - inf == 4 * 10
    assert count[0] >= 2
    assert alloc[0] == 0, "pipeline allocated %d bytes in 200 hops" % alloc[0]
