"""A second build of the host binding with the architecture fast paths compiled
out (``-DTML_FAST_NONE``, see native_modules/runtime/kernels/tml_fast.h), so the
portable kernels, the path of every core without its own fast path, are
checked on this machine too.

The sources and include folders are those of setup.py. The library is cached
in build/native-portable/<hash of sources and flags>, so only the first run
after a change compiles (5-60 s on two cores, depending on their load).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

PARTS = ("core", "runtime", "frontend")
FLAGS = ["-std=gnu99", "-O1", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter", "-DTML_FAST_NONE"]


def _sources(root: Path) -> list[Path]:
    nm = root / "native_modules"
    files: list[Path] = []
    for part in PARTS:
        files += sorted([*nm.glob(f"{part}/*.c"), *nm.glob(f"{part}/*/*.c")])
    return files + sorted(nm.glob("cpython/*.c"))


def _key(root: Path, sources: list[Path]) -> str:
    h = hashlib.sha256(" ".join(FLAGS).encode())
    for f in sorted([*sources, *(root / "native_modules").rglob("*.h")]):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build(root: Path) -> Path:
    """Compiles (or finds in the cache) the portable-only extension; returns its path."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("a C compiler (gcc) is needed for the portable-kernel build")
    sources = _sources(root)
    cache = root / "build" / "native-portable"
    out_dir = cache / _key(root, sources)
    name = "_native" + sysconfig.get_config_var("EXT_SUFFIX")
    if (out_dir / name).exists():
        return out_dir / name
    # Built aside and renamed into place, so that concurrent runs never see
    # half a build.
    work = cache / f"{out_dir.name}.tmp{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    nm = root / "native_modules"
    includes = [f"-I{nm / p}" for p in (*PARTS, "cpython")] + [f"-I{sysconfig.get_paths()['include']}"]

    def compile_one(src: Path) -> Path:
        obj = work / (str(src.relative_to(nm)).replace("/", "_") + ".o")
        subprocess.run([cc, *FLAGS, *includes, "-c", str(src), "-o", str(obj)], check=True,
                       capture_output=True, text=True)
        return obj

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        objs = list(pool.map(compile_one, sources))
    subprocess.run([cc, "-shared", *map(str, objs), "-o", str(work / name), "-lm"], check=True,
                   capture_output=True, text=True)
    for obj in objs:
        obj.unlink()
    try:
        work.rename(out_dir)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)     # another run finished first
    # Builds of older sources are not needed any more.
    for old in cache.iterdir():
        if old.name != out_dir.name and ".tmp" not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    return out_dir / name


def load(path: Path) -> ModuleType:
    """Imports the built extension under a private name (its init function is
    PyInit__native, so the last name component must stay ``_native``)."""
    name = "mpyml_portable._native"
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
