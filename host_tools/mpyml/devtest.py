"""Run MicroPython code and the device test suite on built firmware."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .boards import get_board
from .firmware import firmware_path
from .paths import project_root


def run_code(board: str, code: str, cwd: Path | None = None, timeout: float | None = None,
             capture: bool = False, plain: bool = False) -> subprocess.CompletedProcess:
    """Execute a snippet with ``micropython -c`` on a board's firmware."""
    fw = firmware_path(board, plain)
    return subprocess.run([str(fw), "-c", code], cwd=cwd or project_root(), timeout=timeout,
                          capture_output=capture, text=capture)


def run_script(board: str, script: Path, args: list[str] | None = None, capture: bool = False,
               timeout: float | None = None) -> subprocess.CompletedProcess:
    if get_board(board).port == "qemu":
        return _qemu_script(board, script, args or [], capture, timeout)
    fw = firmware_path(board)
    return subprocess.run([str(fw), str(script), *(args or [])], cwd=project_root(), timeout=timeout,
                          capture_output=capture, text=capture)


def test_command(paths: list[str], pattern: str | None, verbose: bool) -> str:
    """The snippet that runs ``tinyml.testing`` over ``paths`` on the device."""
    return (
        "import tinyml.testing as t; "
        f"t.main({paths!r}, pattern={pattern!r}, verbose={bool(verbose)!r})"
    )


def _relative_paths(paths: list[str] | None) -> list[str]:
    root = project_root()
    rel = []
    for p in paths or ["tests/device"]:
        path = Path(os.path.abspath(p))
        try:
            rel.append(str(path.relative_to(root)))
        except ValueError:
            rel.append(str(path))
    return rel


def run_tests(board: str, paths: list[str] | None = None, pattern: str | None = None, verbose: bool = False,
              capture: bool = False, timeout: float | None = None, port: str | None = None,
              plain: bool = False, natmod: Path | None = None) -> subprocess.CompletedProcess:
    """Run the device suite (default ``tests/device``) on a board's firmware,
    or, with ``port``, on a board connected to that serial port.

    ``plain`` runs the firmware built without the native modules and
    ``natmod`` puts a native module (``_tinyml.mpy``) on the device's path.
    """
    rel = _relative_paths(paths)
    if port is not None:
        return _remote_tests(port, rel, pattern, verbose, capture, timeout)
    if get_board(board).port == "qemu":
        return _qemu_tests(board, rel, pattern, verbose, capture, timeout, plain, natmod)
    code = test_command(rel, pattern, verbose)
    if natmod is not None:
        code = f"import sys; sys.path.insert(0, {str(natmod.parent)!r}); " + code
    return run_code(board, code, cwd=project_root(), capture=capture, timeout=timeout, plain=plain)


SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", re.M)


def _device_test_code(paths: list[str], pattern: str | None, verbose: bool) -> str:
    # main(exit=False): a SystemExit would not reach the host through the
    # raw REPL, so the outcome is read back from the result instead.
    return (
        "import tinyml.testing as _t\n"
        f"_r = _t.main({paths!r}, pattern={pattern!r}, verbose={bool(verbose)!r}, exit=False)\n"
        "if _r.failed == 0 and _r.passed == 0:\n"
        "    print('no tests were run')\n"
    )


def _finish(out: list[str], err: str, repl_rc: int | None, capture: bool, args: list[str]) -> subprocess.CompletedProcess:
    text = "".join(out)
    m = list(SUMMARY.finditer(text))
    if err:
        rc = 1
    elif not m:
        rc = 1
        err = "the device printed no test summary\n"
    else:
        passed, failed = int(m[-1].group(1)), int(m[-1].group(2))
        rc = 1 if failed or not passed else 0
    if err and not capture:
        sys.stdout.write(err)
    return subprocess.CompletedProcess(args, rc, text + (err if capture else ""), "")


def _printer(capture: bool, out: list[str]):
    def emit(chunk: str) -> None:
        chunk = chunk.replace("\r\n", "\n")
        out.append(chunk)
        if not capture:
            sys.stdout.write(chunk)
            sys.stdout.flush()

    return emit


def _qemu_tests(board: str, paths: list[str], pattern: str | None, verbose: bool, capture: bool,
                timeout: float | None, plain: bool = False, natmod: Path | None = None) -> subprocess.CompletedProcess:
    from .qemu import QemuSession, collect_files

    root = project_root()
    files = collect_files([Path(p) for p in paths], root)
    code = _device_test_code(paths, pattern, verbose)
    if natmod is not None:
        files[natmod.resolve().as_posix()] = natmod.read_bytes()
        code = f"import sys\nsys.path.insert(0, {natmod.resolve().parent.as_posix()!r})\n" + code
    out: list[str] = []
    with QemuSession(board, files, root, plain=plain) as session:
        # A hung device must not hang the caller: one hour at most by default.
        r = session.repl.exec(code, timeout=timeout or 3600, on_output=_printer(capture, out))
    return _finish(out, r.error.replace("\r\n", "\n"), session.proc.returncode, capture, ["qemu", board])


def _remote_tests(port: str, paths: list[str], pattern: str | None, verbose: bool, capture: bool,
                  timeout: float | None) -> subprocess.CompletedProcess:
    """Copy the suite (and the data it names) to a board's filesystem and run it."""
    from .deploy import connect, push_files
    from .qemu import collect_files

    root = project_root()
    files = collect_files([Path(p) for p in paths], root)
    out: list[str] = []
    with connect(port) as repl:
        base = push_files(repl, files, root)
        code = f"import os\nos.chdir({base!r})\n" + _device_test_code(paths, pattern, verbose)
        r = repl.exec(code, timeout=timeout, on_output=_printer(capture, out))
    return _finish(out, r.error.replace("\r\n", "\n"), None, capture, ["serial", port])


def _qemu_script(board: str, script: Path, args: list[str], capture: bool,
                 timeout: float | None) -> subprocess.CompletedProcess:
    """Run a script on a qemu board with the files it names packed beside it."""
    from .qemu import QemuSession, collect_files

    root = project_root()
    files = collect_files([script], root)
    code = f"import sys\nsys.argv[:] = {[str(script), *args]!r}\n" + script.read_text()
    out: list[str] = []
    with QemuSession(board, files, root) as session:
        r = session.repl.exec(code, timeout=timeout or 3600, on_output=_printer(capture, out))
    err = r.error.replace("\r\n", "\n")
    if err and not capture:
        sys.stderr.write(err)
    return subprocess.CompletedProcess(["qemu", board, str(script)], 1 if err else 0, "".join(out), err)
