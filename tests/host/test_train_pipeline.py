"""Training -> PTQ -> evaluation -> package -> report on tiny data, plus bad-input errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlfixtures import blobs_npz, tone_dataset
from mpyml.errors import MpymlError
from mpyml.runs import open_run
from mpyml.train import TrainConfig, lr_at, train

ROOT_CLI = [sys.executable, "-m", "mpyml.cli"]

# Keras' numpy conversion warns about numpy 2's copy keyword on every batch.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _cli(*args, env_runs=None, cwd=None):
    import os

    env = dict(os.environ)
    if env_runs is not None:
        env["MPYML_RUNS"] = str(env_runs)
    return subprocess.run([*ROOT_CLI, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def sensor_run(tmp_path_factory):
    """One small sensor-window run shared by the tests below (trains in a few seconds)."""
    tmp = tmp_path_factory.mktemp("sensor")
    data = blobs_npz(tmp / "blobs.npz")
    cfg = TrainConfig(model="sensor_mlp", data=str(data), name="blobs", epochs=6, batch_size=16,
                      learning_rate=0.01, seed=3, representative_samples=50, early_stopping_patience=20)
    result = train(cfg, runs_root=tmp / "runs", echo=None, progress=False)
    return result


def test_training_writes_a_complete_run_folder(sensor_run):
    run = sensor_run.run
    for rel in ("config.json", "log.txt", "metrics.csv", "checkpoints/best.keras", "checkpoints/last.keras",
                "artifacts/model_float.keras", "artifacts/model_int8.tflite", "artifacts/model_float.tflite",
                "artifacts/quantization.json", "artifacts/labels.json", "plots/training.png"):
        assert (run.path / rel).is_file(), rel
    cfg = json.loads((run.path / "config.json").read_text())
    assert cfg["model"] == "sensor_mlp" and cfg["seed"] == 3
    with open(run.path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, sensor_run.epochs_run + 1))
    assert {"lr", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert "best epoch" in (run.path / "log.txt").read_text()
    # Separable blobs: the model must actually learn.
    assert sensor_run.val_accuracy >= 0.9


def test_fixed_seed_reproduces_the_run(sensor_run, tmp_path):
    cfg = TrainConfig.from_dict({k: v for k, v in sensor_run.run.config().items() if k != "created"})
    again = train(cfg, runs_root=tmp_path, echo=None, progress=False)
    cols = ("loss", "accuracy", "val_loss", "val_accuracy")
    first = [[r[c] for c in cols] for r in sensor_run.run.metrics()]
    assert first and [[r[c] for c in cols] for r in again.run.metrics()] == first
    assert again.run.artifact("model_int8.tflite").read_bytes() == sensor_run.run.artifact("model_int8.tflite").read_bytes()


def test_ptq_gives_int8_input_and_output(sensor_run):
    from mpyml.tflite_model import read_model

    q = json.loads(sensor_run.run.artifact("quantization.json").read_text())
    g = read_model(sensor_run.run.artifact("model_int8.tflite").read_bytes())
    assert g.input().dtype == "int8" and g.output().dtype == "int8"
    assert q["int8_tflite_bytes"] < q["float_tflite_bytes"]
    assert q["input"]["scale"] == pytest.approx(g.input().scale[0])


def test_evaluation_package_and_report(sensor_run, tmp_path):
    from mpyml.evaluate import evaluate_run
    from mpyml.package import PackageError, package_run, verify_package
    from mpyml.report import collect

    run = sensor_run.run
    ev = evaluate_run(run, progress=False)
    assert ev["float"]["accuracy"] >= 0.9
    assert abs(ev["tflm_int8"]["accuracy"] - ev["float"]["accuracy"]) <= 0.05
    assert 0.9 <= ev["float_int8_agreement"] <= 1.0
    assert sum(map(sum, ev["tflm_int8"]["confusion"])) == ev["test_examples"]
    assert (run.plots / "confusion_tflm_int8.png").stat().st_size > 1000
    assert (run.plots / "threshold_sweep.png").is_file()

    pkg = tmp_path / "pkg"
    w = package_run(run, pkg, name="blobs-mlp", header=True, frozen=True)
    m = json.loads((pkg / "manifest.json").read_text())
    model = (pkg / "model.tflite").read_bytes()
    import hashlib

    assert m["format"] == "mpyml-model-package" and m["interface_version"] == 1
    assert m["model"]["sha256"] == hashlib.sha256(model).hexdigest()
    assert m["model"]["bytes"] == len(model)
    assert m["labels"] == ["idle", "walk", "run"]
    assert m["postprocess"]["threshold"] == pytest.approx(ev["threshold"]["chosen"]["threshold"])
    assert m["model"]["arena_bytes"] > 0 and m["input"]["dtype"] == "int8"
    assert set(m["model"]["required_ops"]) == {"RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}
    assert len((pkg / "golden_input.bin").read_bytes()) == 16 * 3
    assert {p.name for p in w.files} >= {"model.h", "model_blobs_mlp.py"}
    assert len(verify_package(pkg)) > 10

    # Tampering: every kind is caught.
    def tampered(edit):
        import shutil

        d = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        shutil.copytree(pkg, d)
        edit(d)
        with pytest.raises(PackageError) as e:
            verify_package(d)
        return str(e.value)

    def flip_model(d):
        b = bytearray((d / "model.tflite").read_bytes())
        b[len(b) // 2] ^= 0x01
        (d / "model.tflite").write_bytes(bytes(b))

    def edit_manifest(d, f):
        mm = json.loads((d / "manifest.json").read_text())
        f(mm)
        (d / "manifest.json").write_text(json.dumps(mm))

    assert "sha256" in tampered(flip_model)
    assert "input contract" in tampered(lambda d: edit_manifest(d, lambda mm: mm["input"].update(scale=0.5)))
    assert "labels" in tampered(lambda d: edit_manifest(d, lambda mm: mm["labels"].append("extra")))
    assert "required_ops" in tampered(lambda d: edit_manifest(d, lambda mm: mm["model"]["required_ops"].pop()))
    assert "golden output" in tampered(
        lambda d: (d / "golden_output.bin").write_bytes(bytes(b ^ 0x40 for b in (d / "golden_output.bin").read_bytes())))
    assert "frozen module" in tampered(
        lambda d: (d / "model_blobs_mlp.py").write_text((d / "model_blobs_mlp.py").read_text().replace("MODEL = ", "MODEL = b'x' + ")))
    assert "format" in tampered(lambda d: edit_manifest(d, lambda mm: mm.update(interface_version=2)))

    rows = collect(run.path.parent)
    assert len(rows) == 1 and rows[0].model == "sensor_mlp"
    assert rows[0].tflm_acc == pytest.approx(ev["tflm_int8"]["accuracy"])
    assert rows[0].int8_bytes == len(model) and rows[0].macs == 16 * 3 * 64 + 64 * 32 + 32 * 3


def test_package_verify_cli_reports_tampering(sensor_run, tmp_path):
    from mpyml.package import package_run

    pkg = tmp_path / "p"
    package_run(sensor_run.run, pkg)
    ok = _cli("package", "verify", pkg)
    assert ok.returncode == 0, ok.stderr
    assert "package verified" in ok.stdout
    b = bytearray((pkg / "model.tflite").read_bytes())
    b[-10] ^= 0xFF
    (pkg / "model.tflite").write_bytes(bytes(b))
    bad = _cli("package", "verify", pkg)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: package verification failed") and "Traceback" not in bad.stderr


def test_audio_dataset_trains_end_to_end(tmp_path, firmware):
    """Clips -> microfrontend features -> TinyConv -> int8 -> package -> the same clips on the firmware."""
    data = tone_dataset(tmp_path / "tones")
    cfg = TrainConfig(model="tiny_conv", data=str(data), words=["yes", "no"], name="tones", epochs=2,
                      batch_size=8, seed=1, representative_samples=10, augment={"copies": 1})
    r = train(cfg, runs_root=tmp_path / "runs", echo=None, progress=False)
    feats = json.loads(r.run.artifact("features.json").read_text())
    assert feats["id"].startswith("mf1-16000-30-20-40-")
    assert json.loads(r.run.artifact("labels.json").read_text()) == ["_silence_", "_unknown_", "yes", "no"]
    from mpyml.tflite_model import read_model

    g = read_model(r.run.artifact("model_int8.tflite").read_bytes())
    assert g.input().shape == (1, 49, 40, 1) and g.output().shape == (1, 4)

    # Raw audio through the device's frontend and runtime == host features through TFLM.
    from mpyml.data import load_split
    from mpyml.demo import classify_audio_on_firmware
    from mpyml.features import FeatureConfig, compute_features, to_float
    from mpyml.interpreters import TflmRunner
    from mpyml.package import package_run
    from mpyml.quantize import quantize_array

    pkg = tmp_path / "pkg"
    package_run(r.run, pkg)
    clips = load_split(data, "testing", ["yes", "no"], seed=1).clips[:6]
    model = (pkg / "model.tflite").read_bytes()
    i = g.input()
    xq = quantize_array(to_float(compute_features(clips, FeatureConfig()))[..., None], i.scale[0], i.zero_point[0])
    host = TflmRunner(model).run(xq, progress=False).reshape(len(clips), -1)
    assert np.array_equal(classify_audio_on_firmware(firmware, pkg, clips), host)


def test_lr_schedules():
    base = dict(model="dnn", data="x.npz", epochs=20, learning_rate=0.01, warmup_epochs=0)
    cos = TrainConfig(**base, lr_schedule="cosine")
    vals = [lr_at(cos, e) for e in range(20)]
    assert vals[0] == pytest.approx(0.01) and all(a >= b for a, b in zip(vals, vals[1:])) and vals[-1] < 0.001
    step = TrainConfig(**base, lr_schedule="step", lr_step_epochs=5, lr_step_gamma=0.5)
    assert [lr_at(step, e) for e in (0, 4, 5, 10)] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    warm = TrainConfig(**{**base, "warmup_epochs": 2})
    assert lr_at(warm, 0) < lr_at(warm, 1) < lr_at(warm, 2)


def test_config_files_and_errors(tmp_path):
    (tmp_path / "c.yaml").write_text("model: ds_cnn_s\ndata: d\nwords: [yes, no]\nepochs: 3\n")
    cfg = TrainConfig.from_file(tmp_path / "c.yaml")
    assert cfg.model == "ds_cnn_s" and cfg.words == ["yes", "no"] and cfg.epochs == 3
    (tmp_path / "c.json").write_text(json.dumps({"model": "dnn", "data": "d", "epochs": 2}))
    assert TrainConfig.from_file(tmp_path / "c.json", epochs=5).epochs == 5
    (tmp_path / "u.yaml").write_text("model: wavenet\ndata: d\n")
    with pytest.raises(MpymlError, match="unknown model 'wavenet'; models: tiny_conv"):
        TrainConfig.from_file(tmp_path / "u.yaml")
    (tmp_path / "k.yaml").write_text("model: dnn\ndata: d\nepoch: 3\n")
    with pytest.raises(MpymlError, match="unknown configuration keys: epoch"):
        TrainConfig.from_file(tmp_path / "k.yaml")
    with pytest.raises(MpymlError, match="lr_schedule"):
        TrainConfig(model="dnn", data="d", lr_schedule="linear")


def test_cli_bad_inputs_give_clear_errors(tmp_path):
    # Unknown model name (config file).
    (tmp_path / "u.yaml").write_text("model: nope\ndata: d\n")
    r = _cli("train", tmp_path / "u.yaml", env_runs=tmp_path / "runs")
    assert r.returncode == 1 and r.stderr.startswith("error: unknown model 'nope'; models:") and "ds_cnn_s" in r.stderr
    assert "Traceback" not in r.stderr

    # Empty class folder.
    data = tone_dataset(tmp_path / "empty", clips=6)
    (data / "left").mkdir()
    r = _cli("train", "--model", "tiny_conv", "--data", data, "--words", "yes,no", "--epochs", "1",
             env_runs=tmp_path / "runs")
    assert r.returncode == 1 and "error:" in r.stderr and "left" in r.stderr and "Traceback" not in r.stderr

    # Wrong sample rate.
    from mpyml.data import write_wav

    data = tone_dataset(tmp_path / "rate", clips=6)
    write_wav(data / "yes" / "spk9_nohash_0.wav", np.zeros(8000, np.int16), 8000)
    r = _cli("train", "--model", "tiny_conv", "--data", data, "--words", "yes,no", "--epochs", "1",
             env_runs=tmp_path / "runs")
    assert r.returncode == 1 and "error:" in r.stderr and "8000" in r.stderr and "Traceback" not in r.stderr

    # A run folder that does not exist.
    r = _cli("evaluate", tmp_path / "nothing", env_runs=tmp_path / "runs")
    assert r.returncode == 1 and "not a run folder" in r.stderr


def test_package_runs_on_the_firmware(sensor_run, firmware, tmp_path):
    """The package loads through tinyml.package on the Unix firmware; outputs equal TFLM's."""
    from mpyml.demo import classify_on_firmware, firmware_has_interpreter
    from mpyml.inputs import load_npz
    from mpyml.interpreters import TflmRunner
    from mpyml.package import package_run
    from mpyml.quantize import quantize_array
    from mpyml.tflite_model import read_model

    assert firmware_has_interpreter(firmware), "the firmware lacks _tinyml.Interpreter"
    pkg = tmp_path / "pkg"
    package_run(sensor_run.run, pkg)
    model = (pkg / "model.tflite").read_bytes()
    i = read_model(model).input()
    test = load_npz(Path(sensor_run.run.config()["data"]), "testing")
    xq = quantize_array(test.x.reshape(len(test), *i.shape[1:]), i.scale[0], i.zero_point[0])
    device = classify_on_firmware(firmware, pkg, xq)
    assert np.array_equal(device, TflmRunner(model).run(xq, progress=False).reshape(len(test), -1))
