"""Benchmark of the int8 runtime: invoke time of the host binding against
TFLM (tflite-micro package) on the same machine in the same run, arena use
against TFLM's, and the runtime's code size for Cortex-M0+ and Cortex-M4F.

Timings are wall-clock ratios measured side by side (best of several runs),
so they compare the two implementations, not the machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import MpymlError
from .paths import project_root

REAL_MODELS = {
    "hello_world_int8": "tflite-micro/hello_world_int8.tflite",
    "micro_speech_quantized": "tflite-micro/micro_speech_quantized.tflite",
    "person_detect": "tflite-micro/person_detect.tflite",
    "kws_ref_model": "mlperf-tiny/kws_ref_model.tflite",
}
KWS_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX")
ARM_TARGETS = {
    "armv6m": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
    "armv7em": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
}


@dataclass
class ModelResult:
    name: str
    ours_ms: float
    tflm_ms: float
    arena_ours: int
    arena_tflm: int
    identical: bool
    # Microseconds per invoke by operator type (Interpreter.profile(), the
    # fastest of several runs per operator).
    per_op_us: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours_ms / self.tflm_ms if self.tflm_ms > 0 else float("nan")


@dataclass
class BenchResult:
    models: list[ModelResult] = field(default_factory=list)
    code_size: dict[str, dict[str, int]] = field(default_factory=dict)
    qemu: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "models": [{**asdict(m), "ratio": m.ratio} for m in self.models],
            "code_size": self.code_size,
            "qemu": self.qemu,
        }


def _best_ms(fn: Callable[[], None], n: int, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def bench_model(name: str, model: bytes, repeats: int = 5, min_seconds: float = 0.2) -> ModelResult:
    from tflite_micro.python.tflite_micro import runtime as tflm

    from .interpreters import tflm_arena_bytes
    from .runtime import Interpreter

    ours = Interpreter(model)
    ref = tflm.Interpreter.from_bytes(model)
    x = np.random.default_rng(0).integers(-128, 128, ours.input(0).shape, dtype=np.int8)
    ours.set_input(x)
    ref.set_input(x, 0)
    ours.invoke()
    ref.invoke()
    identical = bool(np.array_equal(ours.get_output().ravel(), np.asarray(ref.get_output(0)).ravel()))
    # Enough invokes per timing run to last about min_seconds on TFLM.
    t0 = time.perf_counter()
    ref.invoke()
    n = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-6)))
    ours_ms = _best_ms(ours.invoke, n, repeats)
    tflm_ms = _best_ms(ref.invoke, n, repeats)
    profiles = [ours.profile() for _ in range(max(3, repeats))]
    per_op: dict[str, float] = {}
    for i, op in enumerate(ours.ops):
        per_op[op] = per_op.get(op, 0.0) + min(p[i] for p in profiles) / 1e3
    return ModelResult(name, ours_ms, tflm_ms, ours.arena_used, tflm_arena_bytes(model), identical, per_op)


def _registry_source(ops: tuple[str, ...]) -> str:
    """A kernel registry with only `ops`, from the entries of the full one."""
    text = (project_root() / "native_modules" / "runtime" / "kernels" / "tml_registry.c").read_text()
    entries = re.findall(r"TML_KERNEL\(\s*(\w+)\s*,\s*(\d+)\s*,\s*\"(\w+)\"\s*,\s*(\w+)\s*\)", text)
    chosen = [e for e in entries if e[2] in ops]
    missing = set(ops) - {e[2] for e in chosen}
    if missing:
        raise MpymlError(f"the kernel registry lacks {', '.join(sorted(missing))}")
    lines = [f"    {{ {c}, {v}, \"{n}\", tml_{f}_prepare, tml_{f}_eval }}," for c, v, n, f in chosen]
    return ("#include \"tml_kernels.h\"\n"
            "const tml_op_registration_t tml_op_registry[] = {\n" + "\n".join(lines)
            + "\n    { 0, 0, NULL, NULL, NULL },\n};\n")


ENTRY = """
#include "tml_interp.h"
// Link root for the size measurement: everything an application calls.
volatile const uint8_t *bench_model;
volatile uint32_t bench_size;
uint8_t bench_arena[16];
void bench_entry(void) {
    static tml_interp_t it;
    tml_error_t err;
    if (tml_interp_init(&it, (const uint8_t *)bench_model, bench_size, bench_arena, sizeof(bench_arena), &err) == TML_OK) {
        tml_interp_input(&it, 0);
        tml_interp_output(&it, 0);
        tml_interp_invoke(&it, &err);
    }
}
"""


# Size-constrained builds (compile-time switches of the runtime): int8-only
# kernels; also without the detailed error texts and the op-name table; and
# smallest, with the portable kernels instead of the architecture fast paths.
SIZE_VARIANTS = {
    "": [],
    "-int8": ["-DTML_KERNELS_FLOAT32=0"],
    "-int8-short": ["-DTML_KERNELS_FLOAT32=0", "-DTML_ERROR_TEXT=0"],
    "-min": ["-DTML_KERNELS_FLOAT32=0", "-DTML_ERROR_TEXT=0", "-DTML_FAST_NONE"],
}
# Compiler support routines of soft floating point (libgcc).
_SOFT_FLOAT = re.compile(r"^__(aeabi_[df]?(add|sub|mul|div|cmp\w*|[dfi]2\w+|ui2\w+|l2\w+)|\w+[sd]f[23]?)$")


def _map_sizes(map_text: str) -> int:
    """Bytes of .text/.rodata input sections from the runtime's own objects
    (not from libgcc/libc archives, nor the link-root entry function)."""
    total = 0
    for m in re.finditer(r"^ (\.text\S*|\.rodata\S*)\s*\n?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", map_text, re.M):
        sec, addr, size, obj = m.groups()
        if int(addr, 16) == 0 or "(" in obj or sec.endswith("bench_entry"):
            continue
        total += int(size, 16)
    return total


def code_size(ops: tuple[str, ...] = KWS_OPS) -> dict[str, dict[str, int | list[str]]]:
    """text/data/bss of the runtime linked for each ARM target with -Os and
    --gc-sections, with only `ops` registered; "core" rows have no kernels.
    armv6m also in the size-constrained variants (SIZE_VARIANTS).
    runtime_text: text + rodata of the runtime's and kernels' own objects
    (from the linker map; without libgcc/libc); soft_float: the soft
    floating-point routines the image links."""
    if shutil.which("arm-none-eabi-gcc") is None:
        raise MpymlError("arm-none-eabi-gcc is not installed (make deps)")
    native = project_root() / "native_modules"
    core = sorted((native / "core").glob("*.c")) + sorted((native / "runtime").glob("*.c"))
    kernels = [p for p in sorted((native / "runtime" / "kernels").glob("*.c")) if p.name != "tml_registry.c"]
    incs = [f"-I{native / d}" for d in ("core", "runtime", "runtime/kernels")]
    out: dict[str, dict[str, int | list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "entry.c").write_text(ENTRY)
        (t / "registry_ops.c").write_text(_registry_source(ops))
        (t / "registry_none.c").write_text("#include \"tml_op.h\"\n"
                                           "const tml_op_registration_t tml_op_registry[] = {{ 0, 0, NULL, NULL, NULL }};\n")
        builds = []
        for target in ARM_TARGETS:
            for suffix, defines in SIZE_VARIANTS.items():
                if suffix and target != "armv6m":
                    continue
                builds.append((target + suffix, target, defines, kernels + [t / "registry_ops.c"]))
            builds.append((f"{target}-core", target, [], [t / "registry_none.c"]))
        for label, target, defines, extra in builds:
            elf = t / f"{label}.elf"
            cmd = ["arm-none-eabi-gcc", *ARM_TARGETS[target], "-Os", "-std=c99", "-ffunction-sections", "-fdata-sections",
                   *defines, *incs, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                   "-Wl,--gc-sections", "-Wl,-e,bench_entry", f"-Wl,-Map,{elf}.map", "-o", str(elf),
                   str(t / "entry.c"), *map(str, core), *map(str, extra), "-lm"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise MpymlError(f"ARM size build failed: {r.stderr.strip()[-800:]}")
            r = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True)
            text, data, bss = (int(v) for v in r.stdout.splitlines()[1].split()[:3])
            nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True)
            soft = sorted({line.split()[-1] for line in nm.stdout.splitlines()
                           if line.split() and _SOFT_FLOAT.match(line.split()[-1])})
            out[label] = {"text": text, "data": data, "bss": bss,
                          "runtime_text": _map_sizes(Path(f"{elf}.map").read_text()), "soft_float": soft}
    return out


# Instructions per invoke of TFLM with its reference kernels on the same QEMU
# machines (docs: ../shared/notes/tflm-anchors.md, tflite-micro @ 90b983c2).
TFLM_REF_INSTRUCTIONS = {
    ("qemu-m0", "micro_speech_quantized"): 15_360_900, ("qemu-m4", "micro_speech_quantized"): 9_309_080,
    ("qemu-m0", "kws_ref_model"): 72_017_612, ("qemu-m4", "kws_ref_model"): 43_023_808,
}
QEMU_MODELS = ("micro_speech_quantized", "kws_ref_model")

_QEMU_SCRIPT = """
import machine, tinyml
%(timer)s
for name, path in %(jobs)r:
    f = open(path, 'rb')
    m = f.read()
    f.close()
    it = tinyml.Interpreter(m)
    inp = it.input(0)
    inp[:] = bytes((i * 37) & 0xFF for i in range(len(inp)))
    it.invoke()
    best = None
    for _ in range(3):
        t0 = now()
        it.invoke()
        t = now() - t0
        best = t if best is None else min(best, t)
    print('RT', name, abs(best), it.arena_used)
    it = m = None
"""


def qemu_instructions(board: str, testdata: Path) -> dict[str, dict[str, int]]:
    """Instructions per invoke (QEMU -icount: 1 ns per instruction, read from a
    hardware timer) and arena_used of the runtime on a QEMU board."""
    from .qemu import QemuSession, instruction_timer

    timer, per_tick = instruction_timer(board)
    jobs = [(name, str(testdata / REAL_MODELS[name])) for name in QEMU_MODELS]
    files = {path: Path(path).read_bytes() for _, path in jobs}
    with QemuSession(board, files, testdata) as session:
        r = session.repl.exec(_QEMU_SCRIPT % {"timer": timer, "jobs": jobs}, timeout=900)
    if r.error.strip():
        raise MpymlError(f"runtime run on {board} failed:\n{r.error.strip()}")
    out: dict[str, dict[str, int]] = {}
    for line in r.output.splitlines():
        if line.startswith("RT "):
            _, name, ticks, used = line.split()
            out[name] = {"instructions": round(int(ticks) * per_tick), "arena_used": int(used),
                         "tflm_ref_instructions": TFLM_REF_INSTRUCTIONS.get((board, name), 0)}
    return out


def run_bench(testdata: Path, repeats: int = 5, sizes: bool = True, qemu: bool = False,
              log: Callable[[str], None] = lambda m: None) -> BenchResult:
    result = BenchResult()
    for name, rel in REAL_MODELS.items():
        path = testdata / rel
        if not path.is_file():
            raise MpymlError(f"{path} is missing (set MPYML_TESTDATA)")
        log(f"timing {name} ...")
        result.models.append(bench_model(name, path.read_bytes(), repeats=repeats))
    if sizes:
        log("building for armv6m / armv7em ...")
        result.code_size = code_size()
    if qemu:
        for board in ("qemu-m0", "qemu-m4"):
            log(f"counting instructions on {board} ...")
            result.qemu[board] = qemu_instructions(board, testdata)
    return result
