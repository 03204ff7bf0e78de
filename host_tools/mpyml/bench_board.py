"""Instructions per inference on the emulated Cortex-M boards, next to TFLM.

QEMU runs with ``-icount shift=0``: virtual time advances exactly 1 ns per
executed instruction, so a hardware timer clocked from virtual time counts
instructions (nRF51 TIMER0 at 16 MHz: 62.5 instructions per tick; the mps2
CMSDK timer at 25 MHz: 40). The device reads the timer around ``invoke()``
and subtracts the cost of the two reads; the result is deterministic.
Models come from the ROMFS image zero-copy (memoryview of the file).

Per model the report gives instructions per invoke and per MAC (MACs of the
CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED ops), a per-operator
breakdown (``Interpreter.profile()``: the runtime's per-op hook reading the
same timer), ``arena_used``, and the ratios to TFLM on the same QEMU machine
(``TFLM`` below: ../shared/notes/tflm-anchors.md). The runtime's flash size
comes from the firmware's linker map: the input sections of the runtime's
objects that the link kept (.text, .rodata, .data).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .boards import get_board
from .errors import MpymlError
from .firmware import qemu_config

MODELS = {
    "hello_world_int8": "tflite-micro/hello_world_int8.tflite",
    "micro_speech_quantized": "tflite-micro/micro_speech_quantized.tflite",
    "kws_ref_model": "mlperf-tiny/kws_ref_model.tflite",
    "person_detect": "tflite-micro/person_detect.tflite",
}
# The models TFLM was measured with (the default set of the benchmark).
DEFAULT_MODELS = ("micro_speech_quantized", "kws_ref_model", "person_detect")
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")

# TFLM (tflite-micro @ 90b983c2, gcc 12.2.1, core -Os, kernels -O2) built
# bare-metal and run on the same QEMU machines with -icount shift=0:
# instructions per Invoke() with the reference kernels and with CMSIS-NN,
# and arena_used_bytes (reference / CMSIS-NN builds).
CORES = {"qemu-m0": "M0", "qemu-m3": "M3", "qemu-m4": "M4"}
TFLM = {
    "micro_speech_quantized": {
        "macs": 336_000, "arena": 6_788, "arena_cmsis": 6_836,
        "ref": {"M0": 15_360_900, "M3": 9_155_152, "M4": 9_309_080},
        "cmsis": {"M0": 2_596_431, "M3": 1_512_644, "M4": 1_495_520},
    },
    "kws_ref_model": {
        "macs": 2_656_768, "arena": 22_772, "arena_cmsis": 22_820,
        "ref": {"M0": 72_017_612, "M3": 42_001_656, "M4": 43_023_808},
        "cmsis": {"M0": 28_999_956, "M3": 10_531_960, "M4": 7_697_744},
    },
    "person_detect": {
        "macs": 7_157_888, "arena": 82_292, "arena_cmsis": 82_308,
        "ref": {"M0": 155_798_369, "M3": 94_363_708, "M4": 95_592_360},
        "cmsis": {"M0": 83_675_938, "M3": 30_327_088, "M4": 22_929_260},
    },
}
# Flash of TFLM + the registered kernels (linker map after gc-sections), as
# ranges over the builds; KB = 1024 B.
TFLM_FLASH = {"ref": (38 * 1024, 49 * 1024), "cmsis": (56 * 1024, 93 * 1024)}

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
def _bench(path, runs, profile):
    f = open(path, "rb")
    model = memoryview(f)
    it = tinyml.Interpreter(model)
    # A fixed pseudo-random input, written before every run (the planner
    # may reuse the input's memory for later tensors): the same work on
    # every run and board.
    inp = it.input(0)
    n = inp.nbytes
    buf = bytearray(n)
    x = 12345
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        buf[i] = x >> 23
    inp[:] = buf
    it.invoke()  # warm-up: first-call effects stay out of the figure
    # No collection may run inside a measurement, and the timer restarts
    # each time so its readings never need a heap-allocated int.
    gc.collect()
    gc.disable()
    _restart(); t0 = _now(); t1 = _now()
    base = t1 - t0
    total = 0
    for _ in range(runs):
        inp[:] = buf
        _restart()
        t0 = _now()
        it.invoke()
        t1 = _now()
        total += t1 - t0 - base
    gc.enable()
    ops = it.ops
    inp[:] = buf
    ticks = it.profile() if profile else ()
    arena = it.arena_used
    it = None
    gc.collect()
    return (total, runs, arena, ops, ticks)
"""


@dataclass
class OpProfile:
    index: int
    op: str
    instructions: int
    macs: int


@dataclass
class BoardBench:
    board: str
    model: str
    instructions: int  # per invoke()
    arena_used: int
    runs: int
    macs: int = 0
    ops: list[OpProfile] = field(default_factory=list)

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else float("nan")

    def tflm_ratios(self) -> dict[str, float | None]:
        """ours / TFLM: instructions (reference kernels, CMSIS-NN) and arena."""
        ref = TFLM.get(self.model)
        core = CORES.get(self.board)
        if ref is None or core is None:
            return {"ref": None, "cmsis": None, "arena": None}
        return {"ref": self.instructions / ref["ref"][core], "cmsis": self.instructions / ref["cmsis"][core],
                "arena": self.arena_used / ref["arena"]}

    def by_type(self) -> dict[str, dict[str, int]]:
        """Instructions and MACs per op type, in order of first appearance."""
        out: dict[str, dict[str, int]] = {}
        for p in self.ops:
            d = out.setdefault(p.op, {"count": 0, "instructions": 0, "macs": 0})
            d["count"] += 1
            d["instructions"] += p.instructions
            d["macs"] += p.macs
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["insn_per_mac"] = self.per_mac if self.macs else None
        d["tflm"] = self.tflm_ratios()
        d["by_type"] = self.by_type()
        return d


@dataclass
class FlashSize:
    """Bytes the link kept of the runtime's objects (.text + .rodata + .data)."""
    map_file: str
    interpreter: int  # runtime/*.o and core/tml_common.o
    kernels: int  # runtime/kernels/*.o
    glue: int  # tinyml/mod_interpreter.o (the MicroPython binding, not counted in runtime)
    objects: dict[str, int] = field(default_factory=dict)

    @property
    def runtime(self) -> int:
        return self.interpreter + self.kernels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["runtime"] = self.runtime
        d["tflm_ratio"] = {k: [self.runtime / hi, self.runtime / lo] for k, (lo, hi) in TFLM_FLASH.items()}
        return d


def model_macs(tflite: bytes) -> list[tuple[str, int]]:
    """(op name, MACs) per operator in graph order; MACs only for conv/dwconv/FC."""
    from .analyze import op_macs
    from .tflite_model import read_model

    g = read_model(tflite)
    return [(op.op, op_macs(g, op) if op.op in MAC_OPS else 0) for op in g.operators]


def check_args(board: str, models: list[str] | None = None, runs: int = 1) -> list[str]:
    """Raise for a board that is not a qemu board, an unknown model or runs < 1;
    the models to run."""
    if get_board(board).port != "qemu":
        raise MpymlError(f"instruction counts need a qemu board (qemu-m0, qemu-m3, qemu-m4), not {board}")
    if runs < 1:
        raise MpymlError("runs must be at least 1")
    chosen = models or list(DEFAULT_MODELS)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise MpymlError(f"unknown model {unknown[0]!r}; models: {', '.join(MODELS)}")
    return chosen


def bench_board(board: str, testdata: Path, models: list[str] | None = None, runs: int = 2,
                profile: bool = True) -> list[BoardBench]:
    from .qemu import QemuSession

    chosen = check_args(board, models, runs)
    b = get_board(board)
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
        has = s.repl.exec("import tinyml\nprint(hasattr(tinyml, 'Interpreter'))\n", timeout=30).output.strip()
        if has != "True":
            raise MpymlError(f"the {board} firmware has no tinyml.Interpreter")
        for m in chosen:
            path = (testdata / MODELS[m]).as_posix()
            r = s.repl.exec(f"print(repr(_bench({path!r}, {runs}, {profile})))\n", timeout=3600)
            if not r.ok:
                hint = ""
                if "'profile'" in r.error:
                    hint = f"\n(firmware without Interpreter.profile(): rebuild it with `mpyml build --board {board}`)"
                raise MpymlError(f"{m} on {board} failed:\n{r.error.strip()}{hint}")
            total, n, arena, names, ticks = ast.literal_eval(r.output.strip())
            macs = model_macs(files[path])
            if [op for op, _ in macs] != list(names):
                raise MpymlError(f"{m}: the device runs ops {names}, the model file lists {[op for op, _ in macs]}")
            ops = [OpProfile(i, op, round(t * ns_per_tick), mac) for i, ((op, mac), t) in enumerate(zip(macs, ticks))]
            results.append(BoardBench(board, m, round(total * ns_per_tick / n), int(arena), n,
                                      sum(mac for _, mac in macs), ops))
    return results


# --- flash size from the linker map ---------------------------------------------------------

_MAP_ENTRY = re.compile(r"^ (\.[\w.$]+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S+)\s*$")
_FLASH_SECTIONS = (".text", ".rodata", ".data")


def map_path(board: str) -> Path:
    from .firmware import firmware_path

    path = firmware_path(board).parent / "obj" / "firmware.map"
    if not path.is_file():
        raise MpymlError(f"{path} is missing: rebuild with `mpyml build --board {board}`")
    return path


def _group(obj: str) -> str | None:
    # Our objects are tml_*.o in runtime/, runtime/kernels/ and core/ of the
    # module's build folder (MicroPython has a shared/runtime/ of its own).
    # CMake ports (rp2) name them <source>.c.o.
    p = Path(obj.replace("\\", "/"))
    name = p.name[:-4] + ".o" if p.name.endswith(".c.o") else p.name
    if name == "mod_interpreter.o" and p.parent.name == "tinyml":
        return "glue"
    if not name.startswith("tml_"):
        return None
    if p.parent.name == "kernels" and p.parent.parent.name == "runtime":
        return "kernels"
    if p.parent.name == "runtime" or name == "tml_common.o":
        return "interpreter"
    return None


def parse_map(text: str) -> dict[str, int]:
    """Bytes per object file of the sections the link kept in flash-resident
    output (.text*, .rodata*, .data*), from a GNU ld map."""
    start = text.find("Linker script and memory map")
    if start < 0:
        raise MpymlError("not a GNU ld map file (no memory map section)")
    sizes: dict[str, int] = {}
    pending: str | None = None
    for line in text[start:].splitlines():
        m = _MAP_ENTRY.match(line)
        if m is None:
            # A long section name stands alone; its address/size/file follow.
            s = line.strip()
            pending = s if line.startswith(" .") and " " not in s else None
            continue
        name = m.group(1) or pending
        pending = None
        if name is None or not name.startswith(_FLASH_SECTIONS):
            continue
        size = int(m.group(3), 16)
        if size:
            sizes[m.group(4)] = sizes.get(m.group(4), 0) + size
    return sizes


def firmware_flash(board: str, map_file: Path | None = None) -> FlashSize:
    """Runtime flash of the board's firmware, or of the linker map `map_file`
    (e.g. a model-aware build's: build/qemu-m0-ops-<tag>/obj/firmware.map)."""
    path = map_file if map_file is not None else map_path(board)
    if not path.is_file():
        raise MpymlError(f"{path} does not exist")
    sizes = parse_map(path.read_text(errors="replace"))
    groups = {"interpreter": 0, "kernels": 0, "glue": 0}
    objects = {}
    for obj, size in sizes.items():
        g = _group(obj)
        if g is not None:
            groups[g] += size
            objects[Path(obj).name] = objects.get(Path(obj).name, 0) + size
    if groups["interpreter"] == 0:
        raise MpymlError(f"{path} holds no runtime objects: is the firmware built with the mpyml modules?")
    return FlashSize(str(path), groups["interpreter"], groups["kernels"], groups["glue"],
                     dict(sorted(objects.items(), key=lambda kv: -kv[1])))


# --- report ----------------------------------------------------------------------------------

def board_report(board: str, testdata: Path, models: list[str] | None = None, runs: int = 2,
                 map_file: Path | None = None) -> dict:
    results = bench_board(board, testdata, models, runs)
    return {"board": board, "core": CORES.get(board), "models": [r.to_dict() for r in results],
            "flash": firmware_flash(board, map_file).to_dict(), "_results": results}


def _x(v: float | None) -> str:
    return f"{v:.3f}" if v is not None else "n/a"


def format_report(report: dict, per_op: bool = True) -> str:
    board = report["board"]
    results: list[BoardBench] = report["_results"]
    lines = [f"{board} ({report['core'] or '?'}; QEMU -icount shift=0: instructions, deterministic). "
             f"Ratios are ours / TFLM on the same machine (< 1: ours is better)."]
    lines.append(f"{'model':24s} {'MACs':>10s} {'insn/invoke':>12s} {'insn/MAC':>8s} {'/TFLM ref':>9s} "
                 f"{'/CMSIS-NN':>9s} {'arena B':>8s} {'/TFLM arena':>11s}")
    for r in results:
        t = r.tflm_ratios()
        lines.append(f"{r.model:24s} {r.macs:>10,d} {r.instructions:>12,d} {r.per_mac:>8.2f} {_x(t['ref']):>9s} "
                     f"{_x(t['cmsis']):>9s} {r.arena_used:>8,d} {_x(t['arena']):>11s}")
    f = report["flash"]
    lo_ref, hi_ref = TFLM_FLASH["ref"]
    lo_cm, hi_cm = TFLM_FLASH["cmsis"]
    lines.append(f"runtime flash ({Path(f['map_file']).parent.parent.name} linker map, .text+.rodata+.data): interpreter {f['interpreter']:,d} B + kernels "
                 f"{f['kernels']:,d} B = {f['runtime']:,d} B (MicroPython binding {f['glue']:,d} B not counted)")
    lines.append(f"  / TFLM + reference kernels ({lo_ref // 1024}-{hi_ref // 1024} KB): "
                 f"{f['runtime'] / hi_ref:.2f}-{f['runtime'] / lo_ref:.2f};  / TFLM + CMSIS-NN "
                 f"({lo_cm // 1024}-{hi_cm // 1024} KB): {f['runtime'] / hi_cm:.2f}-{f['runtime'] / lo_cm:.2f}")
    for r in results:
        if not r.ops:
            continue
        op_sum = sum(p.instructions for p in r.ops)
        lines.append(f"{r.model}: per op type (sum of ops {op_sum:,d} = {op_sum / max(r.instructions, 1):.1%} "
                     f"of the invoke)")
        for op, d in r.by_type().items():
            per = f"{d['instructions'] / d['macs']:.2f}/MAC" if d["macs"] else ""
            lines.append(f"  {op:20s} x{d['count']:<3d} {d['instructions']:>12,d} "
                         f"{d['instructions'] / max(op_sum, 1):6.1%} {per:>10s}")
        if per_op:
            for p in r.ops:
                per = f"{p.instructions / p.macs:.2f}/MAC" if p.macs else ""
                lines.append(f"    #{p.index:<3d} {p.op:20s} {p.instructions:>12,d} {p.macs:>10,d} MACs {per:>10s}")
    return "\n".join(lines)


def report_json(reports: list[dict]) -> str:
    return json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in reports], indent=2)


# --- committed baselines for the regression test ----------------------------------------------

BASELINE_TOLERANCE = 0.05


def write_baseline(path: Path, results: list[BoardBench]) -> dict:
    """Record instructions per invoke and arena bytes of `results` in the
    baseline file `path` (other boards and models already in it are kept)."""
    data: dict = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise MpymlError(f"{path} is not valid JSON: {e}") from e
    data["tolerance"] = BASELINE_TOLERANCE
    data["refresh"] = "mpyml bench board --board <board> --write-baseline <this file>"
    boards = data.setdefault("boards", {})
    for r in results:
        boards.setdefault(r.board, {})[r.model] = {
            "instructions": r.instructions, "arena_used": r.arena_used, "macs": r.macs,
            "ops": {op: d["instructions"] for op, d in r.by_type().items()},
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
