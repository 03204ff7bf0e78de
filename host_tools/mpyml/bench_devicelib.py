"""Instructions per hop of the tinyml device logic on the QEMU boards.

Runs the streaming steps of an application (ring write and hop
scheduling, window views and copies, input gate, post-processing, log
ring) on a board's firmware under ``-icount shift=0``, where QEMU's virtual
time advances one nanosecond per executed instruction, and reads that time
from a hardware timer. The figures are instruction counts (not cycles) per
call, with the cost of the measuring loop itself subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MpymlError

HOP = 320
N = 200

SCRIPT = """
import gc, machine
from array import array
from tinyml.ring import RingBuffer, Hopper
from tinyml.gate import InputGate
from tinyml.postprocess import Recognizer
from tinyml.logring import LogRing, size
%(timer)s
HOP = %(hop)d
N = %(n)d
ring = RingBuffer(16000, "h")
hops = Hopper(ring, HOP, HOP)
chunk = array("h", bytes(2 * HOP))
seed = 7
for i in range(HOP):
    seed = seed * 171 %% 30269
    chunk[i] = seed %% 2001 - 1000
frame = array("h", bytes(2 * 8000))
gate = InputGate(stuck_samples=800, clip_level=32000, max_clipped=10, window_blocks=5)
rec = Recognizer(["_silence_", "_unknown_", "yes", "no"], 1 / 256, -128, threshold=0.7, exit_threshold=0.5,
                 average_window_ms=1000, minimum_count=3, suppression_ms=1500, vote_k=2, vote_m=3, margin=0.1,
                 history=64)
log = LogRing(bytearray(size(64, 4)), capacity=64, n_scores=4, every=50)
scores = array("b", [100, -120, -100, -128])
t = [0]

def nothing():
    pass

def write():
    ring.write(chunk)
    hops.ready()
    hops.advance()

def window():
    ring.window(HOP, ring.written)

def copy():
    ring.read_into(frame, ring.written)

def check():
    a, b = ring.window(HOP, ring.written)
    gate.check(a, b)

def update():
    t[0] += 20
    rec.update(scores, t[0])

def skip():
    log.window(1, 0)

def record():
    log.window(0, 0, scores=scores, label=2, score=200, lo=-5, hi=5, level=3)

for _ in range(60):
    write()
for f in (copy, check, update, skip, record):
    f()

def run(f):
    gc.collect()
    t0 = now()
    for _ in range(N):
        f()
    return now() - t0

base = run(nothing)
for name, f in (("ring_write_hop", write), ("window_views", window), ("read_into_8000", copy),
                ("gate_check_320", check), ("recognizer_update", update), ("log_window_skipped", skip),
                ("log_record", record)):
    print("DL", name, run(f) - base)
print("DL call_overhead", base)
"""


@dataclass
class DeviceLibBench:
    board: str
    hop: int
    instructions: dict[str, int]

    def per_hop_total(self) -> int:
        """One hop of a streaming app: write, gate, post-process, log (not due)."""
        i = self.instructions
        return i["ring_write_hop"] + i["gate_check_320"] + i["recognizer_update"] + i["log_window_skipped"]


def run_bench(board: str) -> DeviceLibBench:
    from .qemu import QemuSession, instruction_timer

    timer, per_tick = instruction_timer(board)
    code = SCRIPT % {"timer": timer, "hop": HOP, "n": N}
    with QemuSession(board) as session:
        r = session.repl.exec(code, timeout=600)
    if r.error.strip():
        raise MpymlError(f"device-lib benchmark on {board} failed:\n{r.error.strip()}")
    out: dict[str, int] = {}
    for line in r.output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "DL":
            out[parts[1]] = round(int(parts[2]) * per_tick / N)
    if "log_record" not in out:
        raise MpymlError(f"device-lib benchmark on {board} printed no results:\n{r.output[-2000:]}")
    return DeviceLibBench(board, HOP, out)
