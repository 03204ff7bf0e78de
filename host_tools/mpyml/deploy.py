"""Putting applications and models on a board over its serial REPL.

``deploy`` drives ``mpremote`` (MicroPython's own client) without soft
resets between steps (``resume``): it copies the tinyml library when the
firmware does not have it frozen, copies a model package, checks the
model's sha256 on the device against the package manifest, then runs the
application and streams its output. ``connect``/``push_files`` are the raw
REPL path used by ``mpyml test-device --port``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import MpymlError
from .paths import project_root
from .rawrepl import DeviceError, RawRepl, SerialStream

Log = Callable[[str], None]


@contextlib.contextmanager
def connect(port: str) -> Iterator[RawRepl]:
    stream = SerialStream(port)
    try:
        repl = RawRepl(stream)
        repl.enter()
        yield repl
        stream.write(b"\x02")  # back to the friendly REPL
    finally:
        stream.close()


def push_files(repl: RawRepl, files: dict[str, bytes], root: Path, chunk: int = 1024) -> str:
    """Write ``files`` (device path = host path) unless the device already
    has identical content; return the folder to run from (``root``)."""
    import binascii

    repl.exec("import os, hashlib, binascii\n"
              "def _h(p):\n"
              "    try:\n"
              "        f = open(p, 'rb')\n"
              "    except OSError:\n"
              "        return ''\n"
              "    h = hashlib.sha256()\n"
              "    while True:\n"
              "        b = f.read(512)\n"
              "        if not b:\n"
              "            break\n"
              "        h.update(b)\n"
              "    f.close()\n"
              "    return binascii.hexlify(h.digest()).decode()\n"
              "def _mk(d):\n"
              "    p = ''\n"
              "    for part in d.split('/')[1:]:\n"
              "        p += '/' + part\n"
              "        try:\n"
              "            os.mkdir(p)\n"
              "        except OSError:\n"
              "            pass\n", timeout=30)
    for path, data in files.items():
        if repl.eval(f"_h({path!r})", timeout=120) == hashlib.sha256(data).hexdigest():
            continue
        folder = path.rsplit("/", 1)[0]
        r = repl.exec(f"_mk({folder!r})\n_f = open({path!r}, 'wb')\n", timeout=30)
        if not r.ok:
            raise DeviceError(f"cannot write {path} on the device:\n{r.error.strip()}")
        for i in range(0, len(data), chunk):
            b64 = binascii.b2a_base64(data[i:i + chunk], newline=False).decode()
            r = repl.exec(f"_f.write(binascii.a2b_base64({b64!r}))\n", timeout=30)
            if not r.ok:
                raise DeviceError(f"writing {path} failed:\n{r.error.strip()}")
        repl.exec("_f.close()\n", timeout=30)
    return str(root)


@dataclass
class DeployPlan:
    port: str
    dest: str
    copy_library: bool
    model_files: list[tuple[Path, str]]  # (host file, device path)
    model_sha256: str | None
    model_device_path: str | None
    app: Path | None


def _mpremote() -> list[str]:
    exe = shutil.which("mpremote")
    if exe:
        return [exe]
    try:
        import mpremote  # noqa: F401
    except ImportError as e:
        raise MpymlError("mpremote is needed for deploy: pip install mpremote") from e
    return [sys.executable, "-m", "mpremote"]


def _run_mpremote(port: str, args: list[str], capture: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [*_mpremote(), "connect", port, "resume", *args]
    r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout)
    if r.returncode != 0:
        detail = ((r.stderr or "") + (r.stdout or "")).strip()[-800:] if capture else ""
        raise MpymlError(f"mpremote {' '.join(args[:2])} failed on {port} (exit {r.returncode}): {detail}")
    return r


def read_model_package(folder: Path) -> tuple[dict, Path]:
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        model = folder / manifest["model"]["file"]
        want = manifest["model"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise MpymlError(f"{folder} is not a model package (manifest.json with model.file and model.sha256): {e}") from e
    if not model.is_file():
        raise MpymlError(f"{model} (named by {manifest_path}) is missing")
    got = hashlib.sha256(model.read_bytes()).hexdigest()
    if got != want:
        raise MpymlError(f"{model}: sha256 {got} differs from the manifest's {want}")
    return manifest, model


def plan(port: str, app: Path | None, model: Path | None, dest: str = "/", frozen_tinyml: bool = True) -> DeployPlan:
    dest = "/" + dest.strip("/") if dest.strip("/") else ""
    files: list[tuple[Path, str]] = []
    sha = device_model = None
    if model is not None:
        manifest, model_file = read_model_package(model)
        base = f"{dest}/models/{model.name}"
        for f in sorted(p for p in model.iterdir() if p.is_file()):
            files.append((f, f"{base}/{f.name}"))
        sha = manifest["model"]["sha256"]
        device_model = f"{base}/{model_file.name}"
    if app is not None and not app.is_file():
        raise MpymlError(f"{app} does not exist")
    return DeployPlan(port, dest or "/", not frozen_tinyml, files, sha, device_model, app)


def deploy(port: str, app: Path | None = None, model: Path | None = None, dest: str = "/",
           log: Log = print) -> int:
    """Copy, verify and run; returns the app's exit status (0 without an app)."""
    plan(port, app, model, dest)  # bad input fails here, before the device is touched
    probe = _run_mpremote(port, ["exec", "import sys\ntry:\n import tinyml\n print('frozen' if "
                                 "getattr(tinyml, '__file__', '').startswith('.frozen') or not hasattr(tinyml, "
                                 "'__file__') else 'file')\nexcept ImportError:\n print('missing')"])
    state = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "missing"
    p = plan(port, app, model, dest, frozen_tinyml=state in ("frozen", "file"))
    base = p.dest.rstrip("/")
    if p.copy_library:
        lib = project_root() / "device_lib" / "tinyml"
        log(f"tinyml is not on the device: copying it to {base}/lib/tinyml")
        for d in (f"{base}/lib", f"{base}/lib/tinyml"):
            subprocess.run([*_mpremote(), "connect", port, "resume", "fs", "mkdir", f":{d}"], capture_output=True)
        for py in sorted(lib.glob("*.py")):
            _run_mpremote(port, ["fs", "cp", str(py), f":{base}/lib/tinyml/{py.name}"])
    if p.model_files:
        folder = p.model_device_path.rsplit("/", 1)[0]
        parts = folder.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            subprocess.run([*_mpremote(), "connect", port, "resume", "fs", "mkdir", ":/" + "/".join(parts[:i])],
                           capture_output=True)
        for host, device in p.model_files:
            log(f"copying {host.name} -> {device}")
            _run_mpremote(port, ["fs", "cp", str(host), f":{device}"])
        check = _run_mpremote(port, ["exec", (
            "import hashlib, binascii\n"
            f"f = open({p.model_device_path!r}, 'rb')\n"
            "h = hashlib.sha256()\n"
            "while True:\n"
            "    b = f.read(1024)\n"
            "    if not b:\n"
            "        break\n"
            "    h.update(b)\n"
            "f.close()\n"
            "print(binascii.hexlify(h.digest()).decode())\n")])
        got = check.stdout.strip().splitlines()[-1] if check.stdout.strip() else ""
        if got != p.model_sha256:
            raise MpymlError(f"model on the device has sha256 {got or '(none)'}, expected {p.model_sha256}")
        log(f"model verified on the device: sha256 {got}")
    if p.app is None:
        return 0
    log(f"running {p.app.name}")
    r = subprocess.run([*_mpremote(), "connect", port, "resume", "run", str(p.app)])
    return r.returncode
