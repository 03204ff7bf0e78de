"""The end-to-end demo (`make demo` / `mpyml demo`).

Synthesises a small keyword dataset (held-out voices for validation and
test), trains a DS-CNN, quantizes it to int8, evaluates float / TFLM int8 /
mpyml-runtime int8 on the same test set, writes a model package, builds the
Unix-port firmware and classifies the test clips on that firmware through
the device library's package loader, then prints a summary table.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import MpymlError

DEMO_WORDS = ("yes", "no", "up", "down")

# Runs on the Unix-port firmware: load the package (manifest checks and the
# golden self-test happen in tinyml.package), then classify every input.
_DEVICE_SCRIPT = """\
import sys
import tinyml.package as P
pkg = P.load(sys.argv[1])
interp = pkg.interpreter
inp = memoryview(interp.input(0))
out = memoryview(interp.output(0))
n_in = len(inp)
buf = bytearray(n_in)
count = 0
with open(sys.argv[2], "rb") as f, open(sys.argv[3], "wb") as g:
    while f.readinto(buf) == n_in:
        inp[:] = buf
        interp.invoke()
        g.write(bytes(out))
        count += 1
print("classified", count)
"""


# Raw audio on the firmware: the device's AudioFrontend turns each 1 s clip
# into the model's int8 input (fresh frontend state per clip, as on the host).
_DEVICE_AUDIO_SCRIPT = """\
import sys
import tinyml
import tinyml.package as P
pkg = P.load(sys.argv[1])
m = pkg.manifest
params = m["features"]["params"]
pkg = P.load(sys.argv[1], features=params)
interp = pkg.interpreter
tin = interp.input(0)
args = dict(params)
args["input_scale"] = tin.scale
args["zero_point"] = tin.zero_point
args["float_scale"] = m["features"]["input_mapping"]["float_scale"]
fe = tinyml.AudioFrontend(**args)
inp = memoryview(tin)
out = memoryview(interp.output(0))
window = bytearray(len(inp))
clip = bytearray(int(sys.argv[4]) * 2)
count = 0
with open(sys.argv[2], "rb") as f, open(sys.argv[3], "wb") as g:
    while f.readinto(clip) == len(clip):
        fe.reset()
        frames = fe.process(clip, window)
        inp[:] = window
        interp.invoke()
        g.write(bytes(out))
        count += 1
print("classified", count)
"""


@dataclass
class Stage:
    name: str
    seconds: float
    result: str


@dataclass
class DemoResult:
    stages: list[Stage] = field(default_factory=list)
    firmware_ran: bool = False
    firmware_identical: bool | None = None
    run_path: Path | None = None

    def table(self) -> str:
        width = max(len(s.name) for s in self.stages)
        lines = [f"{'stage':{width}s}  {'time':>7s}  result", "-" * (width + 60)]
        for s in self.stages:
            lines.append(f"{s.name:{width}s}  {s.seconds:6.1f}s  {s.result}")
        lines.append(f"{'total':{width}s}  {sum(s.seconds for s in self.stages):6.1f}s")
        return "\n".join(lines)


def firmware_has_interpreter(firmware: Path) -> bool:
    r = subprocess.run([str(firmware), "-c", "import _tinyml; print(hasattr(_tinyml, 'Interpreter'))"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and r.stdout.strip() == "True"


def classify_on_firmware(firmware: Path, package: Path, inputs: np.ndarray) -> np.ndarray:
    """Run int8 inputs through the package on the firmware; returns the raw int8 outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "classify.py").write_text(_DEVICE_SCRIPT)
        (t / "inputs.bin").write_bytes(np.ascontiguousarray(inputs, dtype=np.int8).tobytes())
        r = subprocess.run([str(firmware), str(t / "classify.py"), str(package), str(t / "inputs.bin"),
                            str(t / "outputs.bin")], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise MpymlError(f"classification on the firmware failed:\n{(r.stdout + r.stderr).strip()[-2000:]}")
        data = (t / "outputs.bin").read_bytes()
    return np.frombuffer(data, dtype=np.int8).reshape(len(inputs), -1)


def classify_audio_on_firmware(firmware: Path, package: Path, clips: np.ndarray) -> np.ndarray:
    """Raw int16 clips through the device's AudioFrontend and the package's model on the firmware."""
    clips = np.ascontiguousarray(clips, dtype="<i2")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "classify_audio.py").write_text(_DEVICE_AUDIO_SCRIPT)
        (t / "clips.bin").write_bytes(clips.tobytes())
        r = subprocess.run([str(firmware), str(t / "classify_audio.py"), str(package), str(t / "clips.bin"),
                            str(t / "outputs.bin"), str(clips.shape[1])], capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise MpymlError(f"audio classification on the firmware failed:\n{(r.stdout + r.stderr).strip()[-2000:]}")
        data = (t / "outputs.bin").read_bytes()
    return np.frombuffer(data, dtype=np.int8).reshape(len(clips), -1)


def firmware_has_frontend(firmware: Path) -> bool:
    r = subprocess.run([str(firmware), "-c", "import _tinyml; print(hasattr(_tinyml, 'AudioFrontend'))"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and r.stdout.strip() == "True"


def run_demo(*, words: tuple[str, ...] = DEMO_WORDS, clips_per_word: int = 200, epochs: int = 15,
             seed: int = 1, run_name: str = "demo", runs_root: Path | None = None, dataset: Path | None = None,
             model: str = "ds_cnn_s", build_firmware: bool = True,
             echo: Callable[[str], None] = print) -> DemoResult:
    from .data.synth import SynthConfig, synth
    from .evaluate import evaluate_run, scores_of
    from .firmware import build, firmware_path
    from .data import load_split
    from .features import compute_features, to_float
    from .interpreters import TflmRunner
    from .package import package_run, verify_package
    from .paths import project_root
    from .quantize import quantize_array
    from .tflite_model import read_model
    from .train import TrainConfig, train

    res = DemoResult()
    dataset = dataset or project_root() / "build" / "demo" / "dataset"

    def stage(name: str, start: float, result: str) -> None:
        res.stages.append(Stage(name, time.monotonic() - start, result))
        echo(f"== {name}: {result}")

    t = time.monotonic()
    echo(f"== synthesising {len(words)} keywords x {clips_per_word} clips into {dataset}")
    s = synth(dataset, SynthConfig(words=list(words), clips_per_word=clips_per_word, seed=seed, noise_seconds=30.0),
              force=True, log=echo)
    stage("dataset", t, f"{s.clips} clips, {len(words)} keywords + _unknown_ + _silence_, "
                        f"validation/test voices held out of training")

    t = time.monotonic()
    cfg = TrainConfig(model=model, data=str(dataset), words=list(words), name=run_name, epochs=epochs, seed=seed,
                      early_stopping_patience=epochs, augment={"copies": 2})
    tr = train(cfg, runs_root=runs_root, overwrite=True, echo=echo)
    run = tr.run
    res.run_path = run.path
    q = run.read_json("quantization.json")
    stage("train + PTQ", t, f"{model}, best validation {tr.val_accuracy:.1%} (epoch {tr.best_epoch}/{tr.epochs_run}); "
                            f"int8 {q['int8_tflite_bytes']:,d} B (float {q['float_tflite_bytes']:,d} B)")

    t = time.monotonic()
    ev = evaluate_run(run, echo=echo)
    mp = ev["mpyml_int8"]
    stage("evaluate", t, f"test ({ev['test_examples']}): float {ev['float']['accuracy']:.1%}, "
                         f"TFLM int8 {ev['tflm_int8']['accuracy']:.1%}, "
                         + (f"mpyml int8 {mp['accuracy']:.1%} (identical to TFLM)" if mp else
                            "mpyml int8 n/a (runtime host binding not built)")
                         + f"; agreement {ev['float_int8_agreement']:.1%}")

    t = time.monotonic()
    w = package_run(run, frozen=True, header=True)
    verify_package(w.folder)
    m = w.manifest
    stage("package", t, f"{w.folder} ({m['model']['bytes']:,d} B model, arena {m['model']['arena_bytes']:,d} B, "
                        f"threshold {m['postprocess']['threshold']:.2f}); verified")

    t = time.monotonic()
    if build_firmware:
        fw = build("unix", log=echo).firmware
    else:
        fw = firmware_path("unix")
    stage("firmware", t, f"{fw}")

    t = time.monotonic()
    if not firmware_has_interpreter(fw):
        stage("on firmware", t, "NOT RUN: this firmware has no tinyml Interpreter yet (_tinyml.Interpreter missing)")
        echo("\n" + res.table())
        return res
    # The test clips exactly as evaluation loads them (same seed, same order).
    split = load_split(dataset, "testing", list(words), unknown_percentage=cfg.unknown_percentage,
                       silence_percentage=cfg.silence_percentage, seed=cfg.seed)
    fcfg = cfg.feature_config()
    tflite = (w.folder / "model.tflite").read_bytes()
    g = read_model(tflite)
    i, o = g.input(), g.output()
    x = to_float(compute_features(split.clips, fcfg), fcfg).reshape(len(split), *i.shape[1:])
    xq = quantize_array(x, i.scale[0], i.zero_point[0])
    tflm_out = TflmRunner(tflite).run(xq, progress=False).reshape(len(split), -1)
    if firmware_has_frontend(fw):
        how = "raw audio -> tinyml.AudioFrontend -> tinyml.Interpreter"
        device_out = classify_audio_on_firmware(fw, w.folder, split.clips)
    else:
        how = "host features -> tinyml.Interpreter (no AudioFrontend in this firmware)"
        device_out = classify_on_firmware(fw, w.folder, xq)
    same_rows = np.all(device_out == tflm_out, axis=1)
    same = bool(same_rows.all())
    pred = scores_of(device_out, o.scale[0], o.zero_point[0]).argmax(axis=1)
    acc = float(np.mean(pred == split.labels))
    res.firmware_ran, res.firmware_identical = True, same
    stage("on firmware", t, f"{len(split)} test clips, {how}: accuracy {acc:.1%}; outputs "
                            + ("byte-identical to the host pipeline (TFLM)" if same else
                               f"DIFFER from the host pipeline on {int((~same_rows).sum())} clips"))
    echo("\n" + res.table())
    if not same:
        raise MpymlError("the firmware's outputs differ from the host pipeline's (TFLM)")
    return res
