"""Run firmware of the qemu boards (qemu-m0, qemu-m3, qemu-m4) in QEMU.

QEMU's serial line is the MicroPython REPL (on pipes, or on a pseudo-terminal
for other clients such as mpremote); mpyml drives it through the raw REPL.
The qemu port has no filesystem, so the files a run needs (tests, the data
they read, a script) go into a ROMFS image that QEMU loads into memory next
to the firmware (flash after the image on qemu-m0, the second SRAM bank on
the mps2 boards); the device mounts it at ``/`` with the host's paths, so
``open("../shared/testdata/...")`` works the same as on the Unix port.
``-icount shift=0`` makes virtual time count executed instructions (1 ns
each), so runs and instruction counts are deterministic.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .boards import Board, get_board
from .devscripts import script
from .errors import BuildError, MpymlError
from .firmware import QemuConfig, elf_load_end, firmware_path, qemu_config
from .rawrepl import DeviceError, FdStream, RawRepl
from .romfs import build_image

QEMU = "qemu-system-arm"
FAULT_REPORT = b"Fault exception caught:"  # printed by the port's fault handler, which then hangs
PAGE = 4096
DATA_DIR_LIMIT = 4 << 20  # folders named by a test are packed when at most this big

# Device code for a 32-bit timer that counts QEMU's virtual time, which runs
# at one nanosecond per executed instruction under `-icount shift=0`: it
# defines now() (ticks, increasing) and comes with instructions per tick.
VIRTUAL_TIME_TIMERS = {
    # nRF51 TIMER0 in 32-bit timer mode at 16 MHz: 62.5 instructions per tick.
    "nrf51": ("""
T = 0x40008000
machine.mem32[T + 0x504] = 0
machine.mem32[T + 0x508] = 3
machine.mem32[T + 0x510] = 0
machine.mem32[T + 0x000] = 1
def now():
    machine.mem32[T + 0x040] = 1
    return machine.mem32[T + 0x540]
""", 62.5),
    # CMSDK APB timer 0 at 25 MHz, counting down: 40 instructions per tick.
    "cmsdk": ("""
T = 0x40000000
machine.mem32[T + 0x8] = 0xFFFFFFFF
machine.mem32[T + 0x4] = 0xFFFFFFFF
machine.mem32[T + 0x0] = 1
def now():
    return 0xFFFFFFFF - machine.mem32[T + 0x4]
""", 40.0),
}


def instruction_timer(board_name: str) -> tuple[str, float]:
    """The virtual-time timer code and instructions per tick of a QEMU board
    whose firmware is built; a clear error otherwise."""
    b = get_board(board_name)
    if b.port != "qemu":
        raise MpymlError(f"board {board_name} is not a QEMU board (qemu-m0, qemu-m3, qemu-m4)")
    config = qemu_config(b)
    if config.timer not in VIRTUAL_TIME_TIMERS:
        raise MpymlError(f"no instruction timer known for {board_name} ({config.timer})")
    if not firmware_path(board_name).is_file():
        raise MpymlError(f"{board_name} firmware is not built: run `mpyml build --board {board_name}`")
    return VIRTUAL_TIME_TIMERS[config.timer]

def qemu_args(board: Board, config: QemuConfig, firmware: Path, serial: str, romfs: Path | None = None,
              romfs_addr: int | None = None, icount: bool = True) -> list[str]:
    args = [QEMU, "-machine", config.machine, *config.qemu_args, "-nographic", "-monitor", "null",
            "-semihosting", "-serial", serial, "-kernel", str(firmware.with_suffix(".bin"))]
    if icount:
        args += ["-icount", "shift=0"]
    if romfs is not None:
        args += ["-device", f"loader,file={romfs},addr={romfs_addr:#x},force-raw=on"]
    return args


def romfs_address(config: QemuConfig, firmware: Path) -> int:
    if config.romfs == "after-firmware":
        return (elf_load_end(firmware) + PAGE - 1) // PAGE * PAGE
    return int(config.romfs)


# --- which host files a run needs -------------------------------------------------------------

def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def _tree(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not _skip(p))


def _lexical(path: str, cwd: Path) -> Path:
    # Lexical like the device's path resolution (no symlinks followed).
    return Path(os.path.normpath(os.path.join(cwd, path)))


def _referenced_paths(source: Path, cwd: Path) -> list[Path]:
    """Existing files and small folders named by string literals of a script."""
    try:
        tree = ast.parse(source.read_text(), str(source))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = node.value
        if not text or "\n" in text or len(text) > 300 or "\0" in text:
            continue
        for base in (cwd, source.parent):
            path = _lexical(text, base)
            try:
                if path.is_file():
                    found.append(path)
                elif path.is_dir() and path not in (Path("/"), cwd) and cwd not in path.parents:
                    files = _tree(path)
                    if sum(f.stat().st_size for f in files) <= DATA_DIR_LIMIT:
                        found.append(path)
            except OSError:
                continue
    return found


def collect_files(paths: list[Path], cwd: Path) -> dict[str, bytes]:
    """Host files for a run, keyed by their absolute path on the device
    (the same as on the host): the given files and folders, helper modules
    beside given files, and what their Python sources name by path."""
    wanted: set[Path] = set()
    for p in paths:
        p = _lexical(str(p), cwd)
        if p.is_dir():
            wanted.update(_tree(p))
        elif p.is_file():
            wanted.add(p)
            wanted.update(s for s in p.parent.glob("*.py") if not s.name.startswith("test_"))
        else:
            raise MpymlError(f"{p} does not exist")
    for src in sorted(w for w in wanted if w.suffix == ".py"):
        for ref in _referenced_paths(src, cwd):
            wanted.update(_tree(ref) if ref.is_dir() else [ref])
    return {p.as_posix(): p.read_bytes() for p in sorted(wanted)}


# --- a running machine ------------------------------------------------------------------------

def _die_with_parent() -> None:
    # QEMU busy-polls its UART forever: if the process that drives it is
    # killed (e.g. by a timeout), the kernel must end QEMU too (Linux).
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class QemuSession:
    """A QEMU process running a board's firmware, with its files mounted.

    ``serial="stdio"`` talks over pipes (``self.repl``); ``serial="pty"``
    exposes the REPL on a pseudo-terminal (``self.pty``) for other clients.
    """

    def __init__(self, board_name: str, files: dict[str, bytes] | None = None, cwd: Path | None = None,
                 serial: str = "stdio", icount: bool = True, plain: bool = False):
        self.board = get_board(board_name)
        if self.board.port != "qemu":
            raise MpymlError(f"board {self.board.name} is not a qemu board")
        if shutil.which(QEMU) is None:
            raise MpymlError(f"{QEMU} not found: install qemu-system-arm (Debian, --no-install-recommends)")
        self.config = qemu_config(self.board)
        self.firmware = firmware_path(self.board.name, plain)
        self.files = files or {}
        self.cwd = cwd
        self.serial = serial
        self.icount = icount
        self.proc: subprocess.Popen | None = None
        self.repl: RawRepl | None = None
        self.pty: str | None = None
        self.romfs_addr: int | None = None
        self._romfs_path: Path | None = None

    def _write_romfs(self) -> Path | None:
        if not self.files:
            return None
        image = build_image(self.files)
        addr = romfs_address(self.config, self.firmware)
        room = self.config.romfs_end - addr
        if len(image) > room:
            raise BuildError(
                f"the files for this run take {len(image)} B as a ROMFS image, but {self.board.name} has only "
                f"{room} B of memory for it after the firmware; run fewer test files or data"
            )
        # One file per session: several runs (and test processes) may use
        # the same board at once. QEMU reads it at start; close() removes it.
        fd, name = tempfile.mkstemp(prefix="romfs-", suffix=".img", dir=self.firmware.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(image)
        self.romfs_addr = addr
        self._romfs_path = Path(name)
        return self._romfs_path

    def start(self) -> "QemuSession":
        romfs = self._write_romfs()
        args = qemu_args(self.board, self.config, self.firmware, self.serial, romfs, self.romfs_addr, self.icount)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        try:
            if self.serial == "pty":
                self.pty = self._wait_pty()
                if romfs is not None:
                    self._mount_over_pty()
            else:
                self.repl = RawRepl(FdStream(self.proc.stdout.fileno(), self.proc.stdin.fileno()),
                                    fatal=FAULT_REPORT)
                self.repl.enter()
                if romfs is not None:
                    self.mount()
        except BaseException:
            self.close(timeout=1)
            raise
        return self

    def _wait_pty(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        # QEMU names the pseudo-terminal on its stdout.
        stream = FdStream(self.proc.stdout.fileno(), -1)
        text = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text += stream.read(0.5)
            m = re.search(rb"char device redirected to (\S+)", text)
            if m:
                return m.group(1).decode()
        raise DeviceError(f"QEMU did not report its pseudo-terminal: {text.decode(errors='replace')[-300:]}")

    def _mount_over_pty(self) -> None:
        # Mount the files, then leave the REPL in its normal (friendly) state
        # for whichever client connects next (mpremote, mpyml --port).
        import termios
        import tty

        fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            self.repl = RawRepl(FdStream(fd, fd))
            self.repl.enter()
            self.mount()
            self.repl.stream.write(b"\x02")
            time.sleep(0.2)
        finally:
            os.close(fd)
            self.repl = None

    def mount_code(self) -> str:
        """MicroPython code that mounts this session's files (empty when none)."""
        if self.romfs_addr is None:
            return ""
        env = "".join(f"os.putenv({k!r}, {v!r})\n" for k, v in sorted(os.environ.items()) if k.startswith("MPYML_"))
        return (f"{script('romvfs')}\n"
                f"mount_rom({self.romfs_addr:#x}, {str(self.cwd or '/')!r}, {self.config.ramdisk_bytes}, "
                f"{self.config.ramdisk_addr:#x})\n{env}")

    def mount(self) -> None:
        assert self.repl is not None
        r = self.repl.exec(self.mount_code(), timeout=30)
        if not r.ok:
            raise DeviceError(f"mounting the run's files on {self.board.name} failed:\n{r.error.strip()}")

    def close(self, timeout: float = 10) -> int | None:
        """End QEMU (machine.reset() exits it with status 0); the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and self.repl is not None:
            try:
                # Ctrl-C stops a running program, the second clears the raw
                # REPL's line; Ctrl-D runs the reset.
                self.repl.stream.write(b"\x03")
                time.sleep(0.05)
                self.repl.stream.write(b"\x03import machine\nmachine.reset()\x04")
            except OSError:
                pass
        try:
            self.proc.wait(timeout if self.repl is not None else 0.5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        if self._romfs_path is not None:
            self._romfs_path.unlink(missing_ok=True)
        return self.proc.returncode

    def __enter__(self) -> "QemuSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
