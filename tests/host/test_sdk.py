import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpyml import sdk
from mpyml.errors import SdkError

MPYML = [sys.executable, "-m", "mpyml.cli"]


def test_fetch_is_idempotent_and_fast():
    first = sdk.fetch(log=lambda m: None)
    downloads = sdk.mpyml_home() / "downloads"
    before = {p.name: p.stat().st_mtime_ns for p in downloads.iterdir()} if downloads.is_dir() else {}
    start = time.monotonic()
    r = subprocess.run([*MPYML, "sdk", "fetch"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert elapsed < 2.0, f"second fetch took {elapsed:.2f} s"
    assert "fetching" not in r.stderr and "unpacking" not in r.stderr
    after = {p.name: p.stat().st_mtime_ns for p in downloads.iterdir()} if downloads.is_dir() else {}
    assert before == after, "a second fetch must not download anything"
    assert str(first.path) in r.stdout
    assert sdk.read_version(first.path) == "1.25.0"


def test_status_reports_the_tree():
    r = subprocess.run([*MPYML, "sdk", "status", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["micropython"]["version"] == "1.25.0"
    assert Path(info["micropython"]["path"], "ports", "unix").is_dir()


def test_cached_tarball_is_verified(tmp_path, monkeypatch):
    # A corrupt tarball in the download cache must be rejected, never unpacked.
    monkeypatch.setenv("MPYML_HOME", str(tmp_path))
    bad = tmp_path / "downloads" / sdk.ORIG_TARBALL
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"x" * 100)
    with pytest.raises(SdkError, match="size 100 B"):
        sdk._verify_tarball(bad)


def test_no_way_to_get_sources_names_all_three(tmp_path):
    # No cache, no checkout variable, and neither apt-get nor git on PATH.
    env = {k: v for k, v in os.environ.items() if k != "MPYML_MICROPYTHON_DIR"}
    env.update(MPYML_HOME=str(tmp_path / "home"), PATH=str(tmp_path / "empty-bin"))
    (tmp_path / "empty-bin").mkdir()
    r = subprocess.run([*MPYML, "sdk", "fetch"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1
    assert "MPYML_MICROPYTHON_DIR" in r.stderr
    assert "micropython 1.25.0+ds-1" in r.stderr
    assert "git" in r.stderr and "v1.25.0" in r.stderr
    assert "Traceback" not in r.stderr


def test_env_checkout_is_used_and_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("MPYML_MICROPYTHON_DIR", str(tmp_path))
    with pytest.raises(SdkError, match="not a MicroPython checkout"):
        sdk.fetch(log=lambda m: None)
    real = sdk.sdk_cache_dir()
    monkeypatch.setenv("MPYML_MICROPYTHON_DIR", str(real))
    got = sdk.fetch(log=lambda m: None)
    assert got.origin == "env" and got.path == real
