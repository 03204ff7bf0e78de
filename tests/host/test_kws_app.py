"""End to end on the Unix firmware: a package made by the host tools (golden
output from TFLM) loads on the device; examples/kws_app.py runs over a
generated stream of real yes/no recordings and `mpyml stream score` scores
it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mpyml.cli import main

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["_silence_", "_unknown_", "yes", "no"]


@pytest.fixture(scope="module")
def micro_speech_package(tmp_path_factory, testdata, firmware):
    from mpyml.features import FeatureConfig
    from mpyml.interpreters import TflmRunner
    from mpyml.package import build_manifest, features_section, write_package

    model = (testdata / "tflite-micro" / "micro_speech_quantized.tflite").read_bytes()
    # The arena the device runtime needs for this model.
    path = str(testdata / "tflite-micro" / "micro_speech_quantized.tflite")
    code = f"import tinyml; print(tinyml.Interpreter(open({path!r}, 'rb').read()).arena_used)"
    r = subprocess.run([str(firmware), "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    arena = int(r.stdout)
    gx = np.random.default_rng(0).integers(-128, 128, size=(1, 1960)).astype(np.int8)
    gy = TflmRunner(model).invoke(gx)
    manifest = build_manifest(name="micro-speech", version="1.0.0", labels=LABELS, model=model, arena_bytes=arena,
                              features=features_section(FeatureConfig()), threshold=0.7, golden=True)
    out = tmp_path_factory.mktemp("pkg") / "micro_speech"
    write_package(out, manifest, model, gx.tobytes(), gy.tobytes(), frozen=True)
    return out


def _device(firmware, code, timeout=120):
    r = subprocess.run([str(firmware), "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return r


def test_host_package_loads_and_self_tests_on_device(firmware, micro_speech_package):
    code = f"""
import tinyml
from tinyml import package
fe = tinyml.AudioFrontend(sample_rate=16000, window_size=30, window_step=20, num_channels=40)
pkg = package.load({str(micro_speech_package)!r}, features=fe)
print(pkg.name, pkg.feature_id, package.feature_id(fe), pkg.storage)
"""
    r = _device(firmware, code)
    assert r.returncode == 0, r.stdout + r.stderr
    name, fid, fe_id, storage = r.stdout.split()
    from mpyml.features import FeatureConfig

    assert name == "micro-speech" and storage == "file"
    assert fid == fe_id == FeatureConfig().id()


def test_host_frozen_module_loads_on_device(firmware, micro_speech_package):
    mod = next(micro_speech_package.glob("model_*.py"))
    code = f"""
import sys
sys.path.insert(0, {str(mod.parent)!r})
from tinyml import package
pkg = package.load("module:{mod.stem}")
print(pkg.name, pkg.storage, len(pkg.model))
"""
    r = _device(firmware, code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["micro-speech", "frozen", str((micro_speech_package / "model.tflite").stat().st_size)]


def test_tampered_host_package_is_refused_with_its_code(firmware, micro_speech_package, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(micro_speech_package, bad)
    data = bytearray((bad / "model.tflite").read_bytes())
    data[5000] ^= 0x01
    (bad / "model.tflite").write_bytes(bytes(data))
    r = _device(firmware, f"""
from tinyml import package
try:
    package.load({str(bad)!r})
except package.PackageError as e:
    print(e.code, e.name)
""")
    assert r.stdout.split() == ["4", "E_INTEGRITY"], r.stdout + r.stderr
    r = subprocess.run([str(firmware), "examples/kws_app.py", "--model", str(bad), "x.wav"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "error: model refused (code 4)" in r.stdout


def test_kws_app_on_generated_stream(firmware, micro_speech_package, testdata, tmp_path):
    td = testdata / "tflite-micro"
    runner = CliRunner()
    stream = tmp_path / "stream.wav"
    r = runner.invoke(main, ["stream", "build", str(stream), "--keywords", str(td / "yes_1000ms.wav"),
                             "--keywords", str(td / "no_1000ms.wav"), "--background", str(td / "noise_1000ms.wav"),
                             "--background-level", "0.1", "--minutes", "1.5", "--seed", "11", "--gap", "2", "5"])
    assert r.exit_code == 0, r.output
    truth = json.loads(stream.with_suffix(".json").read_text())
    assert len(truth["events"]) >= 15 and {e["label"] for e in truth["events"]} == {"yes", "no"}

    app = subprocess.run([str(firmware), "examples/kws_app.py", "--model", str(micro_speech_package), str(stream)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert app.returncode == 0, app.stdout + app.stderr
    det = tmp_path / "detections.txt"
    det.write_text(app.stdout)
    summary = [ln for ln in app.stdout.splitlines() if ln.startswith("# audio_ms=")]
    assert summary and "audio_ms=90000" in summary[0] and "dropped=0" in summary[0]

    r = runner.invoke(main, ["stream", "score", str(det), str(stream.with_suffix(".json")), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    print(f"\nkws_app on a {truth['duration_s']:.0f} s stream: {s['hits']}/{s['events']} hits, "
          f"{s['false_accepts']} false accepts ({s['false_accepts_per_hour']:.0f}/h)")
    assert s["events"] == len(truth["events"])
    assert s["hits"] + s["misses"] == s["events"]
    # TFLM's micro_speech model over real recordings under noise: most
    # keywords found, (almost) no false accepts.
    assert s["recall"] >= 0.85, s
    assert s["false_accepts"] <= 1, s
    assert s["per_label"]["yes"]["hits"] > 0 and s["per_label"]["no"]["hits"] > 0, s
