"""ROMFS images: MicroPython's read-only, memory-mappable filesystem format.

An image is one record ``RM1`` whose payload holds further records (kind and
length as big-endian varuints, then the payload): directories (4) and files
(5) by name, file data verbatim (2) or as a pointer (3) to an offset in the
filesystem payload. MicroPython mounts it with ``vfs.VfsRom(buffer)``, and a
file opened there exposes its bytes through the buffer protocol, so a model
is used straight from flash without a copy in RAM.

This writer puts every file's bytes first, each aligned to ``ALIGN`` bytes of
the image (tensor data inside a model needs alignment), then the directory
tree, whose file records point at the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

HEADER = b"\xd2\xcd\x31"  # record kind 0x14a6b1 as a varuint: "RM1"
KIND_PADDING = 1
KIND_DATA = 2
KIND_POINTER = 3
KIND_DIR = 4
KIND_FILE = 5
ALIGN = 16
_LEN_WIDTH = 5  # fixed width of the image length: file offsets stay known


def varuint(value: int, width: int = 0) -> bytes:
    """Big-endian base-128, high bit set on all but the last byte, left-padded
    with 0x80 bytes to ``width`` (padding does not change the value)."""
    if value < 0:
        raise ValueError("varuint of a negative number")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.extend([0x80] * (width - len(out)))
    return bytes(reversed(out))


def record(kind: int, payload: bytes) -> bytes:
    return varuint(kind) + varuint(len(payload)) + payload


@dataclass
class _Dir:
    files: dict[str, tuple[int, int]]  # name -> (offset, size) in the payload
    dirs: dict[str, "_Dir"]


def _check_name(name: str) -> bytes:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"invalid file name {name!r} for a ROMFS image")
    return name.encode()


def build_image(files: dict[str, bytes]) -> bytes:
    """A ROMFS image of ``{posix path: content}``; folders are implied."""
    payload_start = len(HEADER) + _LEN_WIDTH
    payload = bytearray()
    root = _Dir({}, {})
    for path in sorted(files):
        parts = PurePosixPath(path.lstrip("/")).parts
        if not parts:
            raise ValueError(f"empty path {path!r}")
        folder = root
        for part in parts[:-1]:
            _check_name(part)
            if part in folder.files:
                raise ValueError(f"{path}: {part} is a file and a folder")
            folder = folder.dirs.setdefault(part, _Dir({}, {}))
        name = parts[-1]
        _check_name(name)
        if name in folder.dirs:
            raise ValueError(f"{path}: {name} is a file and a folder")
        data = files[path]
        # Choose the width of the length varuint so the data starts aligned.
        width = len(varuint(len(data)))
        while (payload_start + len(payload) + 1 + width) % ALIGN:
            width += 1
        payload += varuint(KIND_DATA) + varuint(len(data), width)
        folder.files[name] = (len(payload), len(data))
        payload += data

    def encode_dir(d: _Dir) -> bytes:
        body = bytearray()
        for name, sub in sorted(d.dirs.items()):
            raw = _check_name(name)
            body += record(KIND_DIR, varuint(len(raw)) + raw + encode_dir(sub))
        for name, (offset, size) in sorted(d.files.items()):
            raw = _check_name(name)
            pointer = record(KIND_POINTER, varuint(size) + varuint(offset))
            body += record(KIND_FILE, varuint(len(raw)) + raw + pointer)
        return bytes(body)

    payload += encode_dir(root)
    # The whole filesystem record must have an even size.
    if (payload_start + len(payload)) % 2:
        payload += record(KIND_PADDING, b"\0")
    if len(payload) >= 1 << (7 * _LEN_WIDTH):
        raise ValueError("ROMFS image too large")
    return HEADER + varuint(len(payload), _LEN_WIDTH) + bytes(payload)


def _read_varuint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varuint")
        b = buf[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


def read_image(image: bytes) -> dict[str, bytes]:
    """Inverse of :func:`build_image` (any valid image): ``{path: content}``."""
    if image[:3] != HEADER:
        raise ValueError("not a ROMFS image (no RM1 header)")
    size, start = _read_varuint(image, 3)
    end = start + size
    if end > len(image):
        raise ValueError("ROMFS image truncated")
    out: dict[str, bytes] = {}

    def walk(pos: int, stop: int, prefix: str) -> None:
        while pos < stop:
            kind, pos = _read_varuint(image, pos)
            length, pos = _read_varuint(image, pos)
            nxt = pos + length
            if kind in (KIND_DIR, KIND_FILE):
                name_len, p = _read_varuint(image, pos)
                name = image[p:p + name_len].decode()
                p += name_len
                if kind == KIND_DIR:
                    walk(p, nxt, prefix + name + "/")
                else:
                    out[prefix + name] = _file_data(p, nxt)
            pos = nxt

    def _file_data(pos: int, stop: int) -> bytes:
        while pos < stop:
            kind, pos = _read_varuint(image, pos)
            length, pos = _read_varuint(image, pos)
            if kind == KIND_DATA:
                return image[pos:pos + length]
            if kind == KIND_POINTER:
                n, p = _read_varuint(image, pos)
                offset, _ = _read_varuint(image, p)
                return image[start + offset:start + offset + n]
            pos += length
        raise ValueError("file record without data")

    walk(start, end, "/")
    return out
