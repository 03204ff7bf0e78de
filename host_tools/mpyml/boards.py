"""Board definitions: ``boards/<NAME>/board.json`` in the project.

A board names the MicroPython port and variant it builds with, its
instruction set (for native code) and its flash/RAM budget (``null`` where
the host is the limit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BoardError
from .paths import project_root

REQUIRED = ("name", "description", "port", "variant", "arch", "cpu")


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    port: str
    variant: str
    arch: str
    cpu: str
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    firmware_flash_bytes: int | None = None
    folder: Path = field(default=Path("."), compare=False)


def _load(folder: Path) -> Board:
    path = folder / "board.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BoardError(f"{path}: cannot read board definition: {e}") from e
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise BoardError(f"{path}: missing keys {', '.join(missing)}")
    if data["name"] != folder.name:
        raise BoardError(f"{path}: name {data['name']!r} differs from its folder {folder.name!r}")
    known = set(Board.__dataclass_fields__) - {"folder"}
    unknown = set(data) - known
    if unknown:
        raise BoardError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    return Board(folder=folder, **data)


def all_boards() -> dict[str, Board]:
    root = project_root() / "boards"
    boards = {}
    for folder in sorted(root.iterdir()):
        if (folder / "board.json").is_file():
            board = _load(folder)
            boards[board.name] = board
    return boards


def get_board(name: str) -> Board:
    boards = all_boards()
    if name in boards:
        return boards[name]
    # Accept a different case (rpi_pico), but say which boards exist otherwise.
    for key, board in boards.items():
        if key.lower() == name.lower():
            return board
    raise BoardError(f"unknown board {name!r}; boards: {', '.join(boards)}")
