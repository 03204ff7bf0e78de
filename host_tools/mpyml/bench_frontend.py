"""Benchmark of the audio frontend: host speed against TensorFlow's op
(measured side by side in one run), state size, and code size of the C
frontend for Cortex-M0+ (armv6m) and Cortex-M4F (armv7em)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import MpymlError
from .frontend import compute_features, make_frontend
from .paths import project_root

MICRO_SPEECH = dict(window_size=30, window_step=20, num_channels=40)
ARM_TARGETS = {
    "armv6m": ["-mcpu=cortex-m0plus", "-mthumb"],
    "armv7em": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
}


@dataclass
class FrontendBench:
    clips: int
    hops_per_clip: int
    ours_us_per_hop: float
    tf_op_us_per_hop: float | None
    speedup: float | None
    identical_to_op: bool | None
    state_size: int
    code_size: dict[str, dict[str, int]]
    # Per QEMU board: instructions per hop and for the constructor, and
    # whether the board's features equal the host's.
    qemu: dict[str, dict[str, int | bool]] | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def _clips(testdata: Path | None, count: int) -> np.ndarray:
    """``count`` one-second clips: the real recordings when present, then
    deterministic noise bursts and tones."""
    clips: list[np.ndarray] = []
    if testdata is not None:
        for name in ("yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav", "silence_1000ms.wav"):
            path = testdata / "tflite-micro" / name
            if path.is_file():
                clips.append(_wav(path)[:16000])
    rng = np.random.RandomState(0)
    t = np.arange(16000) / 16000
    while len(clips) < count:
        x = rng.randn(16000) * rng.uniform(100, 5000) + 8000 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t)
        clips.append(np.clip(x, -32768, 32767).astype(np.int16))
    return np.stack([c for c in clips[:count] if len(c) == 16000])


def code_size(cc: str = "arm-none-eabi-gcc", size: str = "arm-none-eabi-size") -> dict[str, dict[str, int]]:
    """text/data/bss bytes of the frontend's objects, -Os, per ARM target."""
    if shutil.which(cc) is None or shutil.which(size) is None:
        raise MpymlError(f"{cc}/{size} not found: install gcc-arm-none-eabi (make deps)")
    native = project_root() / "native_modules"
    sources = sorted((native / "frontend").glob("*.c"))
    result: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target, flags in ARM_TARGETS.items():
            objs = []
            for src in sources:
                obj = Path(tmp) / f"{target}-{src.stem}.o"
                cmd = [cc, *flags, "-Os", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
                       "-fdata-sections", f"-I{native / 'core'}", f"-I{native / 'frontend'}", "-c",
                       str(src), "-o", str(obj)]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    raise MpymlError(f"compiling {src.name} for {target} failed:\n{r.stderr.strip()}")
                objs.append(str(obj))
            r = subprocess.run([size, "-t", *objs], capture_output=True, text=True, check=True)
            total = r.stdout.strip().splitlines()[-1].split()
            result[target] = {"text": int(total[0]), "data": int(total[1]), "bss": int(total[2])}
    return result


def run_bench(clips: int = 40, repeats: int = 3, testdata: Path | None = None, with_tf: bool = True,
              qemu_boards: tuple[str, ...] = (), log=lambda msg: None) -> FrontendBench:
    audio = _clips(testdata, clips)
    hops = (16000 - 480) // 320 + 1
    fe = make_frontend(**MICRO_SPEECH)

    def time_it(fn) -> float:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    ours_out: list[np.ndarray] = []
    log("timing the C frontend (host binding)")
    ours_s = time_it(lambda: ours_out.append(compute_features(audio, **MICRO_SPEECH)))
    tf_s = None
    identical = None
    if with_tf:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import tensorflow as tf
            from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as op
        except ImportError as e:
            raise MpymlError(f"TensorFlow is needed for the comparison ({e}); use --no-tf to skip it") from e
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tensors = [tf.constant(c) for c in audio]
        refs: list[np.ndarray] = []

        def run_tf() -> None:
            refs.clear()
            for x in tensors:
                refs.append(op.audio_microfrontend(x, out_type=tf.uint16, **MICRO_SPEECH).numpy())

        log("timing TensorFlow's audio_microfrontend op (one call per clip)")
        run_tf()  # warm-up: graph building and kernel lookup
        tf_s = time_it(run_tf)
        identical = bool(np.array_equal(np.stack(refs), ours_out[-1]))
    qemu: dict[str, dict[str, int | bool]] | None = None
    if qemu_boards:
        if testdata is None:
            raise MpymlError("the QEMU runs need the recordings in ../shared/testdata (or MPYML_TESTDATA)")
        qemu = {}
        for board in qemu_boards:
            log(f"running the frontend on {board} (QEMU, instruction counts)")
            q = qemu_frontend_run(board, testdata)
            same = all(np.array_equal(f, compute_features(_wav(testdata / "tflite-micro" / name), **MICRO_SPEECH)[0])
                       for name, f in q.features.items())
            qemu[board] = {"instructions_per_hop": q.instructions_per_hop,
                           "init_instructions": q.init_instructions, "identical_to_host": same}
    n_hops = len(audio) * hops
    ours_us = ours_s / n_hops * 1e6
    tf_us = None if tf_s is None else tf_s / n_hops * 1e6
    return FrontendBench(
        clips=len(audio), hops_per_clip=hops, ours_us_per_hop=round(ours_us, 3),
        tf_op_us_per_hop=None if tf_us is None else round(tf_us, 3),
        speedup=None if tf_us is None else round(tf_us / ours_us, 2), identical_to_op=identical,
        state_size=fe.state_size, code_size=code_size(), qemu=qemu)


# --- QEMU: the same C code on Cortex-M cores, counted in instructions -------------------------

_QEMU_SCRIPT = """
import array, machine, tinyml
from binascii import hexlify
%(timer)s
def pcm(path):
    d = open(path, 'rb').read()
    i = 12
    while d[i:i + 4] != b'data':
        i += 8 + int.from_bytes(d[i + 4:i + 8], 'little')
    return memoryview(d)[i + 8:]
cfg = %(cfg)r
for name in %(names)r:
    s = pcm(%(folder)r + '/' + name)
    t0 = now()
    fe = tinyml.AudioFrontend(**cfg)
    t1 = now()
    n = (len(s) // 2 - fe.window_samples) // fe.step_samples + 1
    w = array.array('H', [0] * (n * fe.num_channels))
    t2 = now()
    got = fe.process(s, w)
    t3 = now()
    print('FE', name, got, t1 - t0, t3 - t2, fe.state_size, hexlify(bytes(w)).decode())
"""


@dataclass
class QemuFrontendRun:
    board: str
    init_instructions: int
    instructions_per_hop: int
    state_size: int
    features: dict[str, np.ndarray]


def qemu_frontend_run(board: str, testdata: Path, cfg: dict | None = None) -> QemuFrontendRun:
    """Features of the four micro_speech recordings computed by the C
    frontend on a QEMU board's firmware, with instruction counts."""
    from .qemu import QemuSession, instruction_timer

    cfg = dict(MICRO_SPEECH if cfg is None else cfg)
    timer, per_tick = instruction_timer(board)
    folder = testdata / "tflite-micro"
    names = ["yes_1000ms.wav", "no_1000ms.wav", "noise_1000ms.wav", "silence_1000ms.wav"]
    files = {str(folder / n): (folder / n).read_bytes() for n in names}
    code = _QEMU_SCRIPT % {"timer": timer, "cfg": cfg, "names": names, "folder": str(folder)}
    with QemuSession(board, files, folder) as session:
        r = session.repl.exec(code, timeout=600)
    if r.error.strip():
        raise MpymlError(f"frontend run on {board} failed:\n{r.error.strip()}")
    feats: dict[str, np.ndarray] = {}
    init = hop = state = 0
    for line in r.output.splitlines():
        if not line.startswith("FE "):
            continue
        _, name, got, t_init, t_run, state_size, hexdata = line.split()
        data = np.frombuffer(bytes.fromhex(hexdata), np.uint16)
        feats[name] = data.reshape(int(got), -1) if int(got) else data.reshape(0, cfg.get("num_channels", 32))
        init = max(init, round(int(t_init) * per_tick))
        hop = max(hop, round(int(t_run) * per_tick / max(int(got), 1)))
        state = int(state_size)
    if len(feats) != len(names):
        raise MpymlError(f"frontend run on {board} printed {len(feats)} of {len(names)} results")
    return QemuFrontendRun(board, init, hop, state, feats)
