"""Pinned MicroPython sources: find, fetch, verify and cache them.

Resolution order (first that works wins):

1. ``$MPYML_MICROPYTHON_DIR``: an existing MicroPython checkout, used as is.
2. The cache ``$MPYML_HOME/sdk/micropython-1.25.0`` from an earlier fetch.
3. Debian's source package ``micropython 1.25.0+ds-1``, fetched with a private
   apt configuration under ``$MPYML_HOME/apt`` (the system's apt sources are
   never touched); the tarball's sha256 and size are verified.
4. ``git clone --depth 1 --branch v1.25.0`` of the upstream repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import SdkError
from .paths import mpyml_home

MICROPYTHON_VERSION = "1.25.0"
DEBIAN_PACKAGE = "micropython"
DEBIAN_VERSION = "1.25.0+ds-1"
DEBIAN_SUITE = "trixie"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
ORIG_TARBALL = "micropython_1.25.0+ds.orig.tar.xz"
ORIG_SHA256 = "7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea"
ORIG_SIZE = 5_983_992
UPSTREAM_GIT = "https://github.com/micropython/micropython"
UPSTREAM_TAG = "v1.25.0"

MARKER = ".mpyml-sdk.json"

HOW_TO_PROVIDE = f"""MicroPython {MICROPYTHON_VERSION} sources are needed. Provide them in one of three ways:
  1. set MPYML_MICROPYTHON_DIR to an existing MicroPython {MICROPYTHON_VERSION} checkout;
  2. on Debian/Ubuntu, have apt-get and {DEBIAN_KEYRING} (package debian-archive-keyring) so that
     mpyml can fetch Debian's source package {DEBIAN_PACKAGE} {DEBIAN_VERSION} from {DEBIAN_MIRROR};
  3. have git and network access to {UPSTREAM_GIT} (tag {UPSTREAM_TAG})."""

Log = Callable[[str], None]


@dataclass
class Sdk:
    """A usable MicroPython source tree."""

    path: Path
    origin: str  # "env", "debian" or "git"
    version: str

    @property
    def mpy_cross(self) -> Path:
        return self.path / "mpy-cross" / "build" / "mpy-cross"


def sdk_cache_dir() -> Path:
    return mpyml_home() / "sdk" / f"micropython-{MICROPYTHON_VERSION}"


def read_version(tree: Path) -> str:
    """MicroPython version from ``py/mpconfig.h`` of a source tree."""
    header = tree / "py" / "mpconfig.h"
    try:
        text = header.read_text(errors="replace")
    except OSError as e:
        raise SdkError(f"{tree} is not a MicroPython source tree ({header}: {e.strerror})") from e
    parts = []
    for name in ("MAJOR", "MINOR", "MICRO"):
        m = re.search(rf"#define MICROPY_VERSION_{name} \(?(\d+)\)?", text)
        if not m:
            raise SdkError(f"{header} has no MICROPY_VERSION_{name}: not a MicroPython source tree")
        parts.append(m.group(1))
    return ".".join(parts)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _from_env(log: Log) -> Sdk | None:
    env = os.environ.get("MPYML_MICROPYTHON_DIR")
    if not env:
        return None
    tree = Path(env).expanduser().resolve()
    if not (tree / "ports" / "unix").is_dir():
        raise SdkError(f"MPYML_MICROPYTHON_DIR={env} is not a MicroPython checkout (no ports/unix)")
    version = read_version(tree)
    if version != MICROPYTHON_VERSION:
        log(f"warning: MPYML_MICROPYTHON_DIR holds MicroPython {version}; mpyml is tested with {MICROPYTHON_VERSION}")
    return Sdk(tree, "env", version)


def _from_cache() -> Sdk | None:
    tree = sdk_cache_dir()
    marker = tree / MARKER
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return Sdk(tree, info.get("origin", "unknown"), info.get("version", MICROPYTHON_VERSION))


def _apt_options(apt_dir: Path) -> list[str]:
    return [
        f"-oDir::Etc::SourceList={apt_dir / 'sources.list'}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oAPT::Sandbox::User=" + _user(),
        "-qq",
    ]


def _user() -> str:
    import getpass

    return getpass.getuser()


def _verify_tarball(path: Path) -> None:
    size = path.stat().st_size
    if size != ORIG_SIZE:
        raise SdkError(f"{path}: size {size} B, expected {ORIG_SIZE} B")
    digest = sha256_file(path)
    if digest != ORIG_SHA256:
        raise SdkError(f"{path}: sha256 {digest}, expected {ORIG_SHA256}")


def _download_debian_tarball(log: Log) -> Path:
    """The verified orig tarball, from the download cache or from Debian."""
    downloads = mpyml_home() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    tarball = downloads / ORIG_TARBALL
    if tarball.is_file():
        try:
            _verify_tarball(tarball)
            return tarball
        except SdkError as e:
            log(f"cached tarball rejected ({e}); fetching it again")
            tarball.unlink()
    if shutil.which("apt-get") is None:
        raise SdkError("apt-get not found")
    if not DEBIAN_KEYRING.is_file():
        raise SdkError(f"{DEBIAN_KEYRING} not found (install debian-archive-keyring)")
    apt_dir = mpyml_home() / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text(
        f"deb-src [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
    )
    opts = _apt_options(apt_dir)
    log(f"fetching Debian source package {DEBIAN_PACKAGE} {DEBIAN_VERSION} (private apt config in {apt_dir})")
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        for args in (["update"], ["source", "--download-only", f"{DEBIAN_PACKAGE}={DEBIAN_VERSION}"]):
            r = subprocess.run(["apt-get", *opts, *args], cwd=tmp, capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                detail = (r.stderr or r.stdout).strip().splitlines()[-3:]
                raise SdkError(f"apt-get {args[0]} failed: {' | '.join(detail)}")
        got = Path(tmp) / ORIG_TARBALL
        if not got.is_file():
            raise SdkError(f"apt-get source did not produce {ORIG_TARBALL}")
        _verify_tarball(got)
        got.replace(tarball)
    return tarball


def _install_tree(src_tree: Path, origin: str, extra: dict) -> Sdk:
    """Move a verified source tree into the cache atomically and mark it."""
    version = read_version(src_tree)
    if version != MICROPYTHON_VERSION:
        raise SdkError(f"fetched tree is MicroPython {version}, expected {MICROPYTHON_VERSION}")
    info = {"origin": origin, "version": version, **extra}
    (src_tree / MARKER).write_text(json.dumps(info, indent=2) + "\n")
    dest = sdk_cache_dir()
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    src_tree.replace(dest)
    return Sdk(dest, origin, version)


def _from_debian(log: Log) -> Sdk:
    tarball = _download_debian_tarball(log)
    staging_root = sdk_cache_dir().parent
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_root, prefix=".unpack-") as tmp:
        log(f"unpacking {tarball.name}")
        with tarfile.open(tarball) as tf:
            tf.extractall(tmp, filter="data")
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise SdkError(f"{tarball.name}: expected one top-level folder, found {len(tops)}")
        return _install_tree(tops[0], "debian", {"tarball": ORIG_TARBALL, "sha256": ORIG_SHA256})


def _from_git(log: Log) -> Sdk:
    if shutil.which("git") is None:
        raise SdkError("git not found")
    staging_root = sdk_cache_dir().parent
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_root, prefix=".clone-") as tmp:
        dest = Path(tmp) / "micropython"
        log(f"cloning {UPSTREAM_GIT} at {UPSTREAM_TAG}")
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
        try:
            r = subprocess.run(
                ["git", "clone", "--quiet", "--depth", "1", "--branch", UPSTREAM_TAG, UPSTREAM_GIT, str(dest)],
                capture_output=True, text=True, timeout=900, env=env,
            )
        except subprocess.TimeoutExpired as e:
            raise SdkError("git clone timed out") from e
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise SdkError(f"git clone failed: {last}")
        commit = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        return _install_tree(dest, "git", {"tag": UPSTREAM_TAG, "commit": commit})


def find_sdk() -> Sdk | None:
    """The SDK that builds will use, without fetching anything."""
    return _from_env(lambda _m: None) or _from_cache()


def fetch(log: Log = print) -> Sdk:
    """Return a usable SDK, fetching and caching it when needed (idempotent)."""
    sdk = _from_env(log) or _from_cache()
    if sdk is not None:
        return sdk
    failures = []
    for name, way in (("Debian source package", _from_debian), ("git clone", _from_git)):
        try:
            return way(log)
        except (SdkError, OSError, subprocess.SubprocessError, tarfile.TarError) as e:
            failures.append(f"  - {name}: {e}")
            log(f"{name} did not work: {e}")
    raise SdkError("could not obtain MicroPython sources:\n" + "\n".join(failures) + "\n" + HOW_TO_PROVIDE)


def require_sdk() -> Sdk:
    """The SDK for a build; fails with instructions when none is present."""
    sdk = find_sdk()
    if sdk is None:
        raise SdkError("MicroPython sources are not fetched yet: run `mpyml sdk fetch`.\n" + HOW_TO_PROVIDE)
    return sdk


def status() -> dict:
    """What is present and where, for `mpyml sdk status`."""
    sdk = find_sdk()
    info: dict = {
        "mpyml_home": str(mpyml_home()),
        "micropython_wanted": MICROPYTHON_VERSION,
        "micropython_dir_env": os.environ.get("MPYML_MICROPYTHON_DIR"),
    }
    if sdk is None:
        info["micropython"] = None
    else:
        info["micropython"] = {"path": str(sdk.path), "origin": sdk.origin, "version": sdk.version}
        info["mpy_cross"] = str(sdk.mpy_cross) if sdk.mpy_cross.is_file() else None
    tarball = mpyml_home() / "downloads" / ORIG_TARBALL
    info["debian_tarball"] = str(tarball) if tarball.is_file() else None
    return info
