"""Runs the MicroPython device suite (tests/device) on the Unix-port firmware
and the device test runner itself on known passing/failing/skipping tests."""

import subprocess
import sys
import textwrap

from devsuite import run_and_check

MPYML = [sys.executable, "-m", "mpyml.cli"]


def test_device_suite_passes(firmware, capsys):
    # The one skip: the Unix port has no I2S microphone.
    run_and_check("unix", capsys, "device suite on unix firmware", allowed_skips={"test_i2s.py::test_real_microphone"})


def _write(folder, name, body):
    (folder / name).write_text(textwrap.dedent(body))


def test_runner_counts_failures_skips_and_exit_code(firmware, tmp_path):
    _write(tmp_path, "test_a.py", """
        from tinyml.testing import SkipTest, raises
        calls = []
        def setup():
            calls.append("setup")
        def test_pass():
            assert 1 + 1 == 2
        def test_fail():
            assert [1, 2] == [1, 3], "lists differ"
        def test_skip():
            raise SkipTest("no I2S on this port")
        def test_raises_ok():
            with raises(ValueError, "invalid"):
                int("x")
        def test_raises_missing():
            with raises(ValueError):
                pass
        def helper_not_a_test():
            raise RuntimeError
    """)
    _write(tmp_path, "test_broken_import.py", "import no_such_module_xyz\n")
    _write(tmp_path, "not_a_test.py", "raise RuntimeError('must not be collected')\n")
    r = subprocess.run([*MPYML, "test-device", "--board", "unix", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    out = r.stdout
    assert r.returncode == 1
    assert out.strip().splitlines()[-1] == "2 passed, 3 failed, 1 skipped"
    assert "FAIL test_a.py::test_fail" in out and "lists differ" in out
    assert "FAIL test_a.py::test_raises_missing" in out and "ValueError was not raised" in out
    assert "test_broken_import.py" in out and "ImportError" in out
    assert "Traceback" in out  # failures come with their traceback
    assert "SKIP test_a.py::test_skip: no I2S on this port" in out
    assert "must not be collected" not in out

    r = subprocess.run([*MPYML, "test-device", "--board", "unix", "-k", "test_pass", "-v", str(tmp_path / "test_a.py")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    assert "PASS test_a.py::test_pass" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_runner_with_no_tests_fails(firmware, tmp_path):
    r = subprocess.run([*MPYML, "test-device", "--board", "unix", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert "0 passed, 0 failed" in r.stdout and "no tests were run" in r.stdout
