"""Run the device test suite on a board's firmware and check its summary."""

from __future__ import annotations

import re
import subprocess
import sys

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", re.M)


def run_and_check(board: str, capsys, title: str, paths=(), allowed_skips=frozenset()) -> int:
    """Run `mpyml test-device`, show its output in the pytest log, assert that
    it ran tests and none failed; returns the number passed. A skipped test
    not named in ``allowed_skips`` (test ids) fails the check."""
    r = subprocess.run([sys.executable, "-m", "mpyml.cli", "test-device", "--board", board, *map(str, paths)],
                       capture_output=True, text=True, timeout=3600)
    with capsys.disabled():
        print(f"\n--- {title} ---")
        print(r.stdout.rstrip())
        if r.stderr.strip():
            print(r.stderr.rstrip())
    m = SUMMARY.search(r.stdout)
    assert m, "the device runner printed no summary line"
    passed, failed = int(m.group(1)), int(m.group(2))
    assert failed == 0 and r.returncode == 0, r.stdout[-4000:]
    assert passed > 0
    skipped = re.findall(r"^SKIP (\S+): ", r.stdout, re.M)
    assert len(skipped) == int(m.group(3) or 0), "the skip lines do not match the summary's count"
    assert set(skipped) <= set(allowed_skips), f"unexpected skips: {sorted(set(skipped) - set(allowed_skips))}"
    return passed
