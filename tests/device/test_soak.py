# Soak: simulated audio at full speed through source -> ring -> gate ->
# (stand-in model) -> recognizer -> log, with the heap watched throughout.
#
# Duration in simulated seconds: $MPYML_SOAK_SECONDS (default 600 = 10
# minutes, the CI run); `make soak` runs a full hour.
import gc
import os
import struct
from array import array

from tinyml.clock import SimClock
from tinyml.duty import DutyCycle
from tinyml.gate import OK, STUCK, InputGate
from tinyml.logring import LogRing, size
from tinyml.postprocess import Recognizer
from tinyml.ring import Hopper, RingBuffer
from tinyml.sources import WavSource

RATE = 16000
HOP = 320
LOOP_S = 1  # the simulated recording repeats every second
WORD = (4000, 8800)  # a loud 300 ms "word" from 0.25 s
SILENT = (38 * HOP, 43 * HOP)  # 100 ms of digital silence on hop boundaries
WAV = "/tmp/mpyml_devtest_soak.wav"
LABELS = ["_silence_", "_unknown_", "yes", "no"]


def soak_seconds():
    getenv = getattr(os, "getenv", None)  # not on every port
    v = getenv and getenv("MPYML_SOAK_SECONDS")
    return max(300, int(v)) if v else 600


def setup():
    # Background noise (never exactly 0), the word and the stuck input,
    # written in blocks: small boards have little heap.
    n = LOOP_S * RATE
    block = array("h", bytes(2 * 1600))
    seed = 99
    fmt = struct.pack("<HHIIHH", 1, 1, RATE, 2 * RATE, 2, 16)
    with open(WAV, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + 16 + 8 + 2 * n) + b"WAVE")
        f.write(b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 2 * n))
        for base in range(0, n, 1600):
            for k in range(1600):
                i = base + k
                seed = seed * 171 % 30269  # small ints on every port
                noise = seed % 300 - 150
                if noise >= 0:
                    noise += 1
                if WORD[0] <= i < WORD[1]:
                    block[k] = 6000 if i & 1 else -6000 + noise
                elif SILENT[0] <= i < SILENT[1]:
                    block[k] = 0
                else:
                    block[k] = noise
            f.write(block)


def open_source():
    # Read from the file system on every board (on the qemu boards a
    # littlefs whose block device allocates nothing).
    return WavSource(WAV, loop=True)


def teardown():
    try:
        os.remove(WAV)
    except OSError:
        pass


class Pipeline:
    def __init__(self):
        self.src = open_source()
        self.ring = RingBuffer(RATE, "h")
        self.hops = Hopper(self.ring, HOP, HOP)
        self.chunk = array("h", bytes(2 * HOP))
        self.frame = array("h", bytes(2 * 8000))  # a 0.5 s model input window
        self.gate = InputGate(stuck_samples=800, window_blocks=5)
        self.rec = Recognizer(LABELS, 1 / 256, -128, threshold=0.7, average_window_ms=300, minimum_count=3,
                              suppression_ms=800)
        self.logbuf = bytearray(size(64, 4))
        self.log = LogRing(self.logbuf, capacity=64, n_scores=4, every=500)
        self.scores = array("b", bytes(4))
        self.window = 0
        self.detections = 0
        self.first_detection_ms = -1

    def model(self, level):
        # stand-in for the interpreter: loud input scores as "yes"
        s = self.scores
        if level > 2000:
            s[0], s[1], s[2], s[3] = -128 + 10, -128, 127, -128 + 5
        else:
            s[0], s[1], s[2], s[3] = 100, -128 + 20, -128 + 2, -128 + 1
        return s

    def step(self):
        ring = self.ring
        hops = self.hops
        ring.write(self.chunk, self.src.readinto(self.chunk))
        while hops.ready():
            end = hops.end
            a, b = ring.window(HOP, end)
            cause = self.gate.check(a, b)
            self.window += 1
            t_ms = end // (RATE // 1000)  # not end * 1000: small ints on 32-bit ports
            if cause == OK:
                if end >= 8000:
                    ring.read_into(self.frame, end)
                scores = self.model(self.gate.mean_abs)
                ev = self.rec.update(scores, t_ms)
                if ev is not None:
                    self.detections += 1
                    if self.first_detection_ms < 0:
                        self.first_detection_ms = ev.time_ms
                self.log.window(self.window, t_ms, scores=scores, label=-1 if ev is None else ev.index,
                                level=self.gate.mean_abs)
            else:
                self.log.window(self.window, t_ms, cause=cause, lo=self.gate.min, hi=self.gate.max,
                                level=self.gate.mean_abs)
            hops.advance()


def test_soak_streaming_pipeline_heap_flat():
    seconds = soak_seconds()
    steps = seconds * RATE // HOP
    warm = 2 * LOOP_S * RATE // HOP  # two passes over the file fill every cache
    p = Pipeline()
    for _ in range(warm):
        p.step()
    gc.collect()
    base = gc.mem_alloc()
    gc.disable()  # nothing may allocate: with the collector off the delta is exact
    try:
        for _ in range(steps - warm):
            p.step()
        grown = gc.mem_alloc() - base
    finally:
        gc.enable()
    gc.collect()
    assert grown == 0, "steady state allocated %d bytes" % grown
    assert gc.mem_alloc() == base, "heap grew by %d bytes" % (gc.mem_alloc() - base)
    loops = seconds // LOOP_S
    assert p.ring.written == steps * HOP and p.ring.dropped == 0
    assert p.src.loops == loops - 1
    assert p.window == steps
    # one word per pass -> one detection per pass, during the word
    assert p.detections == loops, (p.detections, loops)
    assert 250 < p.first_detection_ms < 550, p.first_detection_ms
    # stuck input: 5 hops of zeros; the run reaches 800 samples in the 3rd,
    # so 3 blocks are bad and each stays in the 5-block window 5 times:
    # windows ending at zero-hops 3, 4, 5 and the 4 after -> 7 per pass
    assert p.gate.counts[STUCK] == 7 * loops, (p.gate.counts[STUCK], loops)
    assert p.rec.frames == steps - 7 * loops
    assert p.log.written >= steps // 500 + 7 * loops


def test_soak_duty_cycle_heap_flat():
    seconds = soak_seconds()
    clock = SimClock()
    # 12800 = 40 hops: trigger windows start at one of 40 ring positions,
    # whose views are cached during the warm-up
    ring = RingBuffer(12800, "h")
    src = open_source()
    buf_state = [0]

    def read(buf):
        n = src.readinto(buf)
        clock.advance_us(n * 1000000 // RATE)
        return n

    def sleep_ms(ms):
        # the microphone is off while asleep: its samples are skipped
        clock.sleep_ms(ms)
        skip = ms * RATE // 1000 // HOP
        for _ in range(skip):
            src.readinto(chunk)

    def infer(a, b, end):
        buf_state[0] += 1
        return None

    chunk = array("h", bytes(2 * HOP))
    duty = DutyCycle(ring, read, infer, check_samples=HOP, activity_level=2000, preroll=1600, collect=4000,
                     cooldown_ms=300, idle_sleep_ms=100, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff,
                     sleep_ms=sleep_ms)
    while clock.ticks_ms() < 240000:
        duty.step()
    gc.collect()
    base = gc.mem_alloc()
    gc.disable()
    try:
        while clock.ticks_ms() < seconds * 1000:
            duty.step()
        grown = gc.mem_alloc() - base
    finally:
        gc.enable()
    assert grown == 0, "duty cycling allocated %d bytes" % grown
    r = duty.report()
    assert r["inferences"] == buf_state[0] > 0
    # the word repeats every second; each detection cycle lasts less than that
    assert abs(r["triggers"] - seconds // LOOP_S) <= 1, (r["triggers"], seconds // LOOP_S)
    total = r["idle_check_ms"] + r["collect_ms"] + r["infer_ms"] + r["cooldown_ms"]
    assert total == clock.ticks_ms()
