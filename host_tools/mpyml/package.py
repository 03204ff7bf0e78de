"""Model packages (docs/model-package.md): write one from a run, verify one.

A package folder holds ``model.tflite``, ``manifest.json``, the golden
input/output pair (the exact int8 output TFLM — and the mpyml runtime, which
must agree — gives for one test input) and, on request, a C header and a
frozen module (``MANIFEST``/``MODEL``/``GOLDEN_*`` bytes constants) for
firmware builds. ``verify_package`` re-checks everything the device loader
checks, plus the golden output through TFLM on the host.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .errors import MpymlError
from .tflite_model import SUPPORTED_OPS, read_model

FORMAT = "mpyml-model-package"
INTERFACE_VERSION = 1
MIN_RUNTIME_VERSION = "0.1.0"
DEFAULT_POSTPROCESS = {"average_window_ms": 1000, "suppression_ms": 1500, "minimum_count": 3, "class_thresholds": {}}


class PackageError(MpymlError):
    """A package is incomplete, inconsistent or tampered with."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tensor_contract(t) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": t.dtype, "scale": float(t.scale[0]) if t.scale else 0.0,
            "zero_point": int(t.zero_point[0]) if t.zero_point else 0}


def _identifier(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_").lower() or "model"
    return s if not s[0].isdigit() else f"m_{s}"


def c_header(name: str, model: bytes) -> str:
    ident = _identifier(name)
    rows = []
    for i in range(0, len(model), 12):
        rows.append("  " + ", ".join(f"0x{b:02x}" for b in model[i:i + 12]) + ",")
    guard = f"MPYML_MODEL_{ident.upper()}_H"
    return "\n".join([
        f"// Model package {name}: int8 TensorFlow Lite flatbuffer ({len(model)} bytes, sha256 {sha256_hex(model)}).",
        f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
        f"#define {ident.upper()}_MODEL_LEN {len(model)}u",
        "// 16-byte alignment: the runtime reads tensor data in place.",
        f"static const uint8_t {ident}_model[{len(model)}] __attribute__((aligned(16))) = {{",
        *rows, "};", "", f"#endif  // {guard}", "",
    ])


def _bytes_literal(data: bytes, width: int = 64) -> str:
    if not data:
        return "b''"
    parts = [repr(data[i:i + width]) for i in range(0, len(data), width)]
    return "(\n    " + "\n    ".join(parts) + "\n)"


def frozen_module(manifest_text: str, model: bytes, golden_in: bytes | None, golden_out: bytes | None) -> str:
    lines = [
        '"""Model package frozen into firmware: load it with tinyml.package.load(<this module>)."""',
        "",
        f"MANIFEST = {_bytes_literal(manifest_text.encode())}",
        "",
        f"MODEL = {_bytes_literal(model)}",
    ]
    if golden_in is not None and golden_out is not None:
        lines += ["", f"GOLDEN_INPUT = {_bytes_literal(golden_in)}", "", f"GOLDEN_OUTPUT = {_bytes_literal(golden_out)}"]
    return "\n".join(lines) + "\n"


def read_frozen_module(path: Path) -> dict[str, bytes]:
    """The bytes constants of a frozen-module file (parsed, never executed)."""
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, bytes):
                out[node.targets[0].id] = value
    return out


def _header_bytes(text: str) -> bytes:
    body = text[text.index("{") + 1:text.rindex("}")]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]{2})", body))


@dataclass
class Written:
    folder: Path
    manifest: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def build_manifest(*, name: str, version: str, labels: list[str], model: bytes, arena_bytes: int,
                   features: dict[str, Any], threshold: float, golden: bool,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    g = read_model(model)
    ops = g.op_names
    bad = [o for o in ops if o not in SUPPORTED_OPS]
    if bad:
        raise PackageError(f"the model uses ops the mpyml runtime does not support: {', '.join(bad)}")
    out = g.output()
    if out.shape[-1] != len(labels):
        raise PackageError(f"{len(labels)} labels for a model with {out.shape[-1]} outputs")
    if not 0.0 <= threshold <= 1.0:
        raise PackageError(f"threshold {threshold} is outside [0, 1]")
    m: dict[str, Any] = {
        "format": FORMAT,
        "interface_version": INTERFACE_VERSION,
        "name": name,
        "version": version,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "labels": list(labels),
        "model": {
            "file": "model.tflite",
            "bytes": len(model),
            "sha256": sha256_hex(model),
            "arena_bytes": int(arena_bytes),
            "required_ops": ops,
            "min_runtime_version": MIN_RUNTIME_VERSION,
        },
        "input": _tensor_contract(g.input()),
        "output": _tensor_contract(out),
        "features": features,
        "postprocess": {"threshold": round(float(threshold), 4), **DEFAULT_POSTPROCESS},
    }
    if golden:
        m["golden"] = {"input": "golden_input.bin", "output": "golden_output.bin"}
    if extra:
        m["producer"] = extra
    return m


def features_section(feature_cfg) -> dict[str, Any]:
    return {
        "type": "microfrontend",
        "id": feature_cfg.id(),
        "params": feature_cfg.params(),
        "frames": feature_cfg.n_frames,
        "input_mapping": {
            "float_scale": feature_cfg.float_scale,
            "note": "model input = quantize(uint16_feature * float_scale) with the input tensor's scale/zero_point",
        },
    }


def raw_features_section(input_shape: list[int]) -> dict[str, Any]:
    dims = "x".join(str(d) for d in input_shape[1:])
    return {"type": "raw", "id": f"raw-{dims}", "note": "model input = quantize(window) with the input tensor's "
                                                        "scale/zero_point"}


def write_package(out: Path, manifest: dict[str, Any], model: bytes, golden_in: bytes | None,
                  golden_out: bytes | None, *, header: bool = False, frozen: bool = False) -> Written:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2) + "\n"
    files = []

    def put(name: str, data: bytes | str) -> None:
        p = out / name
        p.write_bytes(data) if isinstance(data, bytes) else p.write_text(data)
        files.append(p)

    put("model.tflite", model)
    put("manifest.json", text)
    if golden_in is not None and golden_out is not None:
        put("golden_input.bin", golden_in)
        put("golden_output.bin", golden_out)
    if header:
        put("model.h", c_header(manifest["name"], model))
    if frozen:
        put(f"{module_name(manifest['name'])}.py", frozen_module(text, model, golden_in, golden_out))
    return Written(out, manifest, files)


def module_name(package_name: str) -> str:
    return f"model_{_identifier(package_name)}"


def package_run(run, out: Path | None = None, *, name: str | None = None, version: str = "1.0.0",
                threshold: float | None = None, header: bool = False, frozen: bool = False,
                echo: Callable[[str], None] | None = None) -> Written:
    """Package a trained, quantized (and ideally evaluated) run."""
    from .features import FeatureConfig
    from .inputs import load_inputs
    from .interpreters import MpymlRunner, TflmRunner, compare_exact, mpyml_runtime_available, tflm_arena_bytes
    from .quantize import quantize_array
    from .train import TrainConfig

    cfg = TrainConfig.from_dict({k: v for k, v in run.config().items() if k != "created"})
    tflite_path = run.artifact("model_int8.tflite")
    if not tflite_path.is_file():
        raise PackageError(f"{tflite_path} is missing: run `mpyml quantize {run.path}` first")
    model = tflite_path.read_bytes()
    labels = run.read_json("labels.json")
    evaluation = None
    if run.artifact("evaluation.json").is_file():
        evaluation = run.read_json("evaluation.json")
    if threshold is None:
        threshold = evaluation["threshold"]["chosen"]["threshold"] if evaluation else 0.8
    g = read_model(model)
    if run.artifact("features.json").is_file():
        feats = features_section(FeatureConfig.from_dict(run.read_json("features.json")))
    else:
        feats = raw_features_section(list(g.input().shape))

    # Golden pair: the first test example through TFLM (and the mpyml runtime, which must agree).
    test = load_inputs(cfg, "testing", progress=False)
    i = g.input()
    golden_x = quantize_array(test.x[:1].reshape(i.shape), i.scale[0], i.zero_point[0])
    golden_y = TflmRunner(model).invoke(golden_x)
    arena = tflm_arena_bytes(model)
    if mpyml_runtime_available():
        runner = MpymlRunner(model)
        compare_exact(golden_y[None], runner.invoke(golden_x)[None], "golden output: mpyml runtime vs TFLM")
        arena = runner.arena_used or arena
    producer = {"mpyml": __version__, "run": run.name, "model": cfg.model}
    if evaluation:
        producer["test_accuracy_float"] = round(evaluation["float"]["accuracy"], 4)
        producer["test_accuracy_int8"] = round(evaluation["tflm_int8"]["accuracy"], 4)
    manifest = build_manifest(name=name or f"{run.name}", version=version, labels=labels, model=model,
                              arena_bytes=arena, features=feats, threshold=threshold, golden=True, extra=producer)
    out = Path(out) if out is not None else run.artifacts / "package"
    w = write_package(out, manifest, model, golden_x.tobytes(), golden_y.tobytes(), header=header, frozen=frozen)
    if echo:
        echo(f"package {out}: {len(model)} B model, arena {arena} B, threshold {manifest['postprocess']['threshold']}")
    return w


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def _load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise PackageError(f"{path} is missing") from e
    except ValueError as e:
        raise PackageError(f"{path}: invalid JSON: {e}") from e
    if not isinstance(m, dict):
        raise PackageError(f"{path}: the manifest must be a JSON object")
    return m


def verify_package(folder: Path, *, use_mpyml: str = "auto") -> list[Check]:
    """Every check of the device loader plus golden output in TFLM; raises PackageError listing failures."""
    from .features import FeatureConfig
    from .interpreters import MpymlRunner, TflmRunner, mpyml_runtime_available

    folder = Path(folder)
    if not folder.is_dir():
        raise PackageError(f"{folder}: not a package folder")
    m = _load_manifest(folder)
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str = "") -> bool:
        checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    check("format", m.get("format") == FORMAT and m.get("interface_version") == INTERFACE_VERSION,
          f"format {m.get('format')!r}, interface_version {m.get('interface_version')!r}")
    for key in ("name", "version", "labels", "model", "input", "output", "features", "postprocess"):
        check(f"field {key}", key in m, "present" if key in m else "missing")
    mm = m.get("model") or {}
    model_path = folder / str(mm.get("file", "model.tflite"))
    if not check("model file", model_path.is_file(), str(model_path.name)):
        raise PackageError(_failures(checks))
    model = model_path.read_bytes()
    check("model bytes", mm.get("bytes") == len(model), f"manifest {mm.get('bytes')}, file {len(model)}")
    check("model sha256", mm.get("sha256") == sha256_hex(model), "matches" if mm.get("sha256") == sha256_hex(model)
          else "differs from the file")
    try:
        g = read_model(model)
    except MpymlError as e:
        check("model parses", False, str(e))
        raise PackageError(_failures(checks)) from e
    ops = g.op_names
    bad = [o for o in ops if o not in SUPPORTED_OPS]
    check("ops supported", not bad, ", ".join(bad) if bad else ", ".join(ops))
    check("required_ops", sorted(mm.get("required_ops") or []) == sorted(ops),
          f"manifest {mm.get('required_ops')}, model {ops}")
    check("arena_bytes", isinstance(mm.get("arena_bytes"), int) and mm["arena_bytes"] > 0, str(mm.get("arena_bytes")))
    for key, t in (("input", g.input()), ("output", g.output())):
        want = _tensor_contract(t)
        got = m.get(key) or {}
        same = (got.get("shape") == want["shape"] and got.get("dtype") == want["dtype"]
                and got.get("zero_point") == want["zero_point"]
                and isinstance(got.get("scale"), (int, float)) and abs(got["scale"] - want["scale"]) <= 1e-6 * want["scale"])
        check(f"{key} contract", same, f"manifest {got}, model {want}")
    labels = m.get("labels") or []
    check("labels", len(labels) == g.output().shape[-1], f"{len(labels)} labels, {g.output().shape[-1]} outputs")
    feats = m.get("features") or {}
    if feats.get("type") == "microfrontend":
        try:
            fid = FeatureConfig.from_dict(dict(feats.get("params") or {})).id()
            check("features id", fid == feats.get("id"), f"manifest {feats.get('id')}, params give {fid}")
        except (TypeError, ValueError) as e:
            check("features id", False, f"params: {e}")
    else:
        check("features id", isinstance(feats.get("id"), str) and bool(feats.get("id")), str(feats.get("id")))
    thr = (m.get("postprocess") or {}).get("threshold")
    check("threshold", isinstance(thr, (int, float)) and 0 <= thr <= 1, str(thr))
    golden = m.get("golden")
    gin = gout = None
    if golden:
        pin, pout = folder / str(golden.get("input")), folder / str(golden.get("output"))
        if check("golden files", pin.is_file() and pout.is_file(), f"{pin.name}, {pout.name}"):
            gin, gout = pin.read_bytes(), pout.read_bytes()
            i, o = g.input(), g.output()
            if check("golden sizes", len(gin) == i.nbytes and len(gout) == o.nbytes,
                     f"input {len(gin)}/{i.nbytes} B, output {len(gout)}/{o.nbytes} B"):
                x = np.frombuffer(gin, dtype=np.int8)
                y = TflmRunner(model).invoke(x).tobytes()
                check("golden output (TFLM)", y == gout, "identical" if y == gout else "differs")
                if use_mpyml == "always" or (use_mpyml == "auto" and mpyml_runtime_available()):
                    y2 = MpymlRunner(model).invoke(x).tobytes()
                    check("golden output (mpyml runtime)", y2 == gout, "identical" if y2 == gout else "differs")
    header = folder / "model.h"
    if header.is_file():
        check("model.h", _header_bytes(header.read_text()) == model, "bytes equal model.tflite")
    frozen = folder / f"{module_name(str(m.get('name', '')))}.py"
    if frozen.is_file():
        consts = read_frozen_module(frozen)
        same = (consts.get("MODEL") == model and consts.get("MANIFEST") == (folder / "manifest.json").read_bytes()
                and (gin is None or (consts.get("GOLDEN_INPUT") == gin and consts.get("GOLDEN_OUTPUT") == gout)))
        check("frozen module", same, frozen.name)
    failures = [c for c in checks if not c.ok]
    if failures:
        raise PackageError(_failures(checks))
    return checks


def _failures(checks: list[Check]) -> str:
    bad = [c for c in checks if not c.ok]
    return "package verification failed: " + "; ".join(f"{c.name}: {c.detail}" for c in bad)
