"""MicroPython's raw REPL over any byte stream (QEMU's serial on pipes, a
pseudo-terminal or a real serial port).

Protocol: Ctrl-A enters the raw REPL (prompt ``raw REPL; CTRL-B to exit`` and
``>``); code followed by Ctrl-D is compiled and run; the device answers
``OK``, then the program's output, ``\\x04``, the exception text (empty when it
succeeded), ``\\x04`` and the ``>`` prompt again. Long code goes through the
flow-controlled "raw paste" mode when the device supports it.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from .errors import MpymlError


class DeviceError(MpymlError):
    """The device did not answer as the raw REPL protocol says."""


class Stream(Protocol):
    def read(self, timeout: float) -> bytes: ...  # at least one byte, or b"" on timeout

    def write(self, data: bytes) -> None: ...


class FdStream:
    """Two file descriptors (e.g. a subprocess's stdout and stdin, or a pty)."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd = rfd
        self.wfd = wfd

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.rfd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            data = os.read(self.rfd, 4096)
        except OSError as e:
            raise DeviceError(f"the device's serial line closed ({e.strerror})") from e
        if not data:
            raise DeviceError("the device's serial line closed")
        return data

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]


class SerialStream:
    """A pyserial port."""

    def __init__(self, port: str, baudrate: int = 115200):
        try:
            import serial
        except ImportError as e:
            raise MpymlError("pyserial is needed to talk to a board: pip install pyserial") from e
        try:
            self.serial = serial.Serial(port, baudrate, timeout=0)
        except (serial.SerialException, OSError) as e:
            raise MpymlError(f"cannot open serial port {port}: {e}") from e

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            data = self.serial.read(4096)
            if data or time.monotonic() >= deadline:
                return data
            time.sleep(0.002)

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def close(self) -> None:
        self.serial.close()


@dataclass
class ExecResult:
    output: str
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


class RawRepl:
    def __init__(self, stream: Stream, timeout: float = 10.0, fatal: bytes | None = None):
        self.stream = stream
        self.timeout = timeout
        # Text after which the device never answers again (e.g. a fault
        # handler's report): stop waiting at once.
        self.fatal = fatal
        self._buf = b""

    def _read_until(self, marker: bytes, timeout: float | None, on_data: Callable[[bytes], None] | None = None) -> bytes:
        """Bytes up to (without) ``marker``; ``on_data`` sees them as they come."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while True:
            i = self._buf.find(marker)
            if i >= 0:
                out, self._buf = self._buf[:i], self._buf[i + len(marker):]
                if on_data and i > seen:
                    on_data(out[seen:])
                return out
            # Stream what cannot be the start of the marker.
            safe = max(seen, len(self._buf) - len(marker) + 1)
            if on_data and safe > seen:
                on_data(self._buf[seen:safe])
                seen = safe
            if self.fatal is not None and self.fatal in self._buf:
                time.sleep(0.2)
                self._buf += self.stream.read(0.2)
                raise DeviceError(f"the device crashed:\n{self._buf[self._buf.find(self.fatal):].decode(errors='replace')}")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise DeviceError(f"timed out waiting for {marker!r} from the device; got {self._buf[-200:]!r}")
            self._buf += self.stream.read(1.0 if left is None else min(left, 1.0))

    def enter(self) -> None:
        """Interrupt whatever runs and enter the raw REPL."""
        self.stream.write(b"\r\x03\x03")
        time.sleep(0.05)
        self._buf = b""
        for _ in range(3):
            self.stream.write(b"\r\x01")
            try:
                self._read_until(b"raw REPL; CTRL-B to exit\r\n>", self.timeout)
                return
            except DeviceError:
                self.stream.write(b"\x03\x03")
        raise DeviceError("the device does not enter the raw REPL (is a MicroPython REPL on this port?)")

    def _send(self, code: bytes) -> None:
        # Try raw paste mode: the device grants a window and more credit as
        # it consumes, so no byte is lost on ports with small UART buffers.
        self.stream.write(b"\x05A\x01")
        reply = b""
        deadline = time.monotonic() + self.timeout
        while len(self._buf) < 2 and time.monotonic() < deadline:
            self._buf += self.stream.read(0.2)
        reply, self._buf = self._buf[:2], self._buf[2:]
        if reply == b"R\x01":
            while len(self._buf) < 2:
                self._buf += self.stream.read(self.timeout)
            window = self._buf[0] | self._buf[1] << 8
            self._buf = self._buf[2:]
            credit = window
            pos = 0
            while pos < len(code):
                while credit == 0 or self._buf:
                    if not self._buf:
                        self._buf += self.stream.read(self.timeout)
                        if not self._buf:
                            raise DeviceError("the device stopped accepting code in raw paste mode")
                    c, self._buf = self._buf[:1], self._buf[1:]
                    if c == b"\x01":
                        credit += window
                    elif c == b"\x04":
                        raise DeviceError("the device ended raw paste mode early")
                n = min(credit, len(code) - pos)
                self.stream.write(code[pos:pos + n])
                pos += n
                credit -= n
            self.stream.write(b"\x04")
            self._read_until(b"\x04", self.timeout)  # the device's acknowledgement of the end
            return
        if reply != b"R\x00":  # R\x00: raw paste unsupported, plain raw REPL follows
            raise DeviceError(f"unexpected answer to the raw paste request: {reply!r}")
        self.stream.write(code)
        self.stream.write(b"\x04")
        ok = self._read_until(b"OK", self.timeout)
        if ok.strip():
            raise DeviceError(f"the device did not accept the code: {ok!r}")

    def exec(self, code: str, timeout: float | None = None, on_output: Callable[[str], None] | None = None) -> ExecResult:
        """Run ``code``; output is streamed to ``on_output`` and returned."""
        self._send(code.encode())
        decode = (lambda b: on_output(b.decode(errors="replace"))) if on_output else None
        out = self._read_until(b"\x04", timeout, decode)
        err = self._read_until(b"\x04", self.timeout)
        self._read_until(b">", self.timeout)
        return ExecResult(out.decode(errors="replace"), err.decode(errors="replace"))

    def eval(self, expr: str, timeout: float | None = None):
        """Value of a Python literal expression evaluated on the device."""
        import ast

        r = self.exec(f"print(repr({expr}))", timeout)
        if not r.ok:
            raise DeviceError(f"{expr} failed on the device:\n{r.error.strip()}")
        return ast.literal_eval(r.output.strip())
