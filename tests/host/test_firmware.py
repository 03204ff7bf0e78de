import subprocess
import sys

MPYML = [sys.executable, "-m", "mpyml.cli"]


def test_banner_is_pinned_version(firmware):
    r = subprocess.run([str(firmware), "-c", "import sys; print(sys.implementation.version[:3]); print(sys.version)"],
                       capture_output=True, text=True, timeout=30)
    version, banner = r.stdout.strip().splitlines()
    assert version == "(1, 25, 0)"
    # The REPL banner's version text: the release, not an enclosing repo's commit.
    assert "MicroPython v1.25.0 on" in banner


def test_tinyml_is_frozen_and_native(run_mp, tmp_path):
    # From an empty folder with no MICROPYPATH only frozen code is importable.
    r = run_mp("import sys; sys.path[:] = ['.frozen']; import tinyml, _tinyml; print(tinyml.version())", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0.1.0"


def test_native_rejects_bad_arguments(run_mp):
    code = """
import array, tinyml
cases = [(1, b"a"), (b"a", b"ab"), (array.array("h", [1]), b"ab"), (b"a", b"a", 256), (b"a",)]
for args in cases:
    try:
        tinyml.dot_s8(*args)
        print("accepted", args)
    except (TypeError, ValueError) as e:
        print(type(e).__name__)
"""
    r = run_mp(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["TypeError", "ValueError", "TypeError", "ValueError", "TypeError"]


def test_unknown_board_lists_boards():
    r = subprocess.run([*MPYML, "build", "--board", "nosuch"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "unknown board 'nosuch'" in r.stderr
    for name in ("unix", "RPI_PICO", "ESP32_S3", "NRF52840"):
        assert name in r.stderr
    assert "Traceback" not in r.stderr


def test_rebuild_without_changes_compiles_nothing(firmware, root):
    r = subprocess.run([*MPYML, "build", "--board", "unix"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    log = (root / "build" / "unix" / "build.log").read_text()
    compiled = [line for line in log.splitlines() if line.startswith("CC ")]
    assert compiled == [], f"an unchanged tree recompiled {len(compiled)} files"
