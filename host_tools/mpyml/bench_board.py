"""Instructions per inference on the emulated Cortex-M boards.

QEMU runs with ``-icount shift=0``: virtual time advances exactly 1 ns per
executed instruction, so a hardware timer clocked from virtual time counts
instructions (nRF51 TIMER0 at 16 MHz: 62.5 instructions per tick; the mps2
CMSDK timer at 25 MHz: 40). The device reads the timer around ``invoke()``
and subtracts the cost of the two reads; the result is deterministic.
Models come from the ROMFS image zero-copy (memoryview of the file).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .errors import MpymlError
from .firmware import qemu_config
from .boards import get_board

MODELS = {
    "hello_world_int8": "tflite-micro/hello_world_int8.tflite",
    "micro_speech_quantized": "tflite-micro/micro_speech_quantized.tflite",
    "kws_ref_model": "mlperf-tiny/kws_ref_model.tflite",
    "person_detect": "tflite-micro/person_detect.tflite",
}

# Timer access per timer kind: setup code, a "read" expression (ticks,
# increasing), and nanoseconds (= instructions) per tick.
TIMERS = {
    "nrf51": (
        "import machine\n"
        "_T = 0x40008000\n"
        "machine.mem32[_T + 0x504] = 0\n"  # MODE: timer
        "machine.mem32[_T + 0x508] = 3\n"  # BITMODE: 32 bit
        "machine.mem32[_T + 0x510] = 0\n"  # PRESCALER: 16 MHz
        "machine.mem32[_T + 0x00c] = 1\n"  # CLEAR
        "machine.mem32[_T + 0x000] = 1\n"  # START
        "def _restart():\n"
        "    machine.mem32[_T + 0x00c] = 1\n"  # CLEAR: readings stay small ints
        "def _now():\n"
        "    machine.mem32[_T + 0x040] = 1\n"  # CAPTURE[0]
        "    return machine.mem32[_T + 0x540]\n",
        1e9 / 16e6,
    ),
    "cmsdk": (
        "import machine\n"
        "_T = 0x40000000\n"
        "machine.mem32[_T + 0x0] = 0\n"
        "machine.mem32[_T + 0x8] = 0xffffffff\n"  # RELOAD
        "machine.mem32[_T + 0x4] = 0xffffffff\n"  # VALUE
        "machine.mem32[_T + 0x0] = 1\n"  # enable
        "def _restart():\n"
        "    machine.mem32[_T + 0x4] = 0x3fffffff\n"  # readings stay small ints
        "def _now():\n"
        "    return 0x3fffffff - machine.mem32[_T + 0x4]\n",
        1e9 / 25e6,
    ),
}

DEVICE = """
import gc, tinyml
def _bench(path, runs):
    f = open(path, "rb")
    model = memoryview(f)
    it = tinyml.Interpreter(model)
    it.invoke()  # warm-up: first-call effects stay out of the figure
    # No collection may run inside a measurement, and the timer restarts
    # each time so its readings never need a heap-allocated int.
    gc.collect()
    gc.disable()
    _restart(); t0 = _now(); t1 = _now()
    base = t1 - t0
    total = 0
    for _ in range(runs):
        _restart()
        t0 = _now()
        it.invoke()
        t1 = _now()
        total += t1 - t0 - base
    gc.enable()
    arena = it.arena_used
    it = None
    gc.collect()
    return (total, runs, arena)
"""


@dataclass
class BoardBench:
    board: str
    model: str
    instructions: int  # per invoke()
    arena_used: int
    runs: int


def bench_board(board: str, testdata: Path, models: list[str] | None = None, runs: int = 2) -> list[BoardBench]:
    from .qemu import QemuSession

    b = get_board(board)
    if b.port != "qemu":
        raise MpymlError(f"instruction counts need a qemu board (qemu-m0, qemu-m3, qemu-m4), not {board}")
    chosen = models or list(MODELS)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise MpymlError(f"unknown model {unknown[0]!r}; models: {', '.join(MODELS)}")
    files = {}
    for m in chosen:
        path = testdata / MODELS[m]
        if not path.is_file():
            raise MpymlError(f"{path} is missing (set MPYML_TESTDATA)")
        files[path.as_posix()] = path.read_bytes()
    setup, ns_per_tick = TIMERS[qemu_config(b).timer]
    results = []
    with QemuSession(board, files, testdata) as s:
        r = s.repl.exec(setup + DEVICE, timeout=60)
        if not r.ok:
            raise MpymlError(f"benchmark setup failed on {board}:\n{r.error.strip()}")
        if not s.repl.exec("import tinyml\nprint(hasattr(tinyml, 'Interpreter'))\n", timeout=30).output.strip() == "True":
            raise MpymlError(f"the {board} firmware has no tinyml.Interpreter")
        for m in chosen:
            r = s.repl.exec(f"print(repr(_bench({(testdata / MODELS[m]).as_posix()!r}, {runs})))\n", timeout=3600)
            if not r.ok:
                raise MpymlError(f"{m} on {board} failed:\n{r.error.strip()}")
            total, n, arena = ast.literal_eval(r.output.strip())
            results.append(BoardBench(board, m, round(total * ns_per_tick / n), int(arena), n))
    return results
