"""Model-aware firmware: the set of operators a product's models need.

``mpyml build --board B --model PKG`` reads the op list from each model
package's ``.tflite`` (or a bare ``.tflite`` file), writes a header of
``TML_ENABLE_OP_<NAME>`` defines into the build folder and compiles the
kernel registry (native_modules/runtime/kernels/tml_registry.c) with only
those entries. The linker's --gc-sections then drops every other kernel, so
flash shrinks; a model needing another operator is refused at load with an
error that names it. A build without an op set keeps every kernel.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import MpymlError
from .paths import project_root

REGISTRY = Path("native_modules") / "runtime" / "kernels" / "tml_registry.c"
HEADER_NAME = "tml_ops_config.h"


class OpSetError(MpymlError):
    """An op list that cannot be built (unknown op, unreadable model)."""


def registry_ops() -> list[str]:
    """Operator names of the full kernel registry, in table order."""
    text = (project_root() / REGISTRY).read_text()
    names = re.findall(r"TML_KERNEL\(\s*\w+\s*,\s*\d+\s*,\s*\"(\w+)\"", text)
    if not names:
        raise OpSetError(f"no TML_KERNEL entries found in {REGISTRY}")
    return names


def model_file(path: Path) -> Path:
    """The .tflite of a model package folder (its manifest's ``model.file``),
    or `path` itself when it is a .tflite file."""
    path = Path(path)
    if path.is_dir():
        manifest = path / "manifest.json"
        name = "model.tflite"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
            except ValueError as e:
                raise OpSetError(f"{manifest}: not valid JSON: {e}") from e
            model = data.get("model") if isinstance(data, dict) else None
            if isinstance(model, dict) and isinstance(model.get("file"), str):
                name = model["file"]
        found = path / name
        if not found.is_file():
            raise OpSetError(f"{path} is not a model package: {found.name} is missing")
        return found
    if not path.is_file():
        raise OpSetError(f"{path}: no such model package or .tflite file")
    return path


def model_ops(path: Path) -> list[str]:
    """Distinct operators of a model (package folder or .tflite), first use first."""
    from .tflite_model import read_model

    return read_model(model_file(path).read_bytes()).op_names


# Size switches of the runtime (compile-time defines, see tml_op.h,
# kernels/tml_kernels.h and kernels/tml_fast.h).
SIZE_SWITCHES = {
    "int8_only": "-DTML_KERNELS_FLOAT32=0",     # no float32 kernels
    "short_errors": "-DTML_ERROR_TEXT=0",       # status texts only, no op-name table
    "portable_kernels": "-DTML_FAST_NONE",      # no architecture fast paths
}


@dataclass(frozen=True)
class OpSet:
    """What a model-aware or size-constrained firmware compiles in: the
    operators (None: all) and the runtime's size switches."""

    ops: tuple[str, ...] | None  # sorted registry names, None for every kernel
    sources: tuple[str, ...] = ()  # where the list came from, for messages
    defines: tuple[str, ...] = ()  # compiler flags from SIZE_SWITCHES

    @property
    def tag(self) -> str:
        """Build-folder suffix: one folder per distinct op set and switches."""
        key = ",".join(self.ops or ("*",)) + "|" + " ".join(self.defines)
        return "ops-" + hashlib.sha256(key.encode()).hexdigest()[:8]

    def cmake_args(self, folder: Path) -> list[str]:
        """The same as cache variables for CMake ports (native_modules/tinyml/micropython.cmake)."""
        return [f"-D{a}" for a in self.make_args(folder)]

    def make_args(self, folder: Path) -> list[str]:
        """Variables for the firmware's make (native_modules/tinyml/micropython.mk)."""
        args = [f"TINYML_OPS_HEADER={self.write_header(folder)}"] if self.ops is not None else []
        if self.defines:
            args.append(f"TINYML_CFLAGS={' '.join(self.defines)}")
        return args

    def header_text(self) -> str:
        assert self.ops is not None
        lines = [
            "// Operators compiled into this firmware (mpyml build --model/--ops);",
            "// read by native_modules/runtime/kernels/tml_registry.c.",
            f"// From: {', '.join(self.sources) or 'an explicit list'}",
            "#define TML_OPS_SELECTED 1",
            *(f"#define TML_ENABLE_OP_{op} 1" for op in self.ops),
        ]
        return "\n".join(lines) + "\n"

    def write_header(self, folder: Path) -> Path:
        path = folder / HEADER_NAME
        text = self.header_text()
        if not path.is_file() or path.read_text() != text:  # keep the mtime: incremental builds
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return path


def opset_from(models: list[Path] | tuple[Path, ...] = (), ops: list[str] | tuple[str, ...] = (),
               switches: list[str] | tuple[str, ...] = ()) -> OpSet:
    """The union of the models' operators and the named ones, checked against
    the kernel registry (an op without a kernel is an error naming it), with
    the size switches (keys of SIZE_SWITCHES). Without models and ops: every
    kernel, with the switches only."""
    unknown = [sw for sw in switches if sw not in SIZE_SWITCHES]
    if unknown:
        raise OpSetError(f"unknown size switch {unknown[0]!r}; switches: {', '.join(SIZE_SWITCHES)}")
    defines = tuple(SIZE_SWITCHES[sw] for sw in SIZE_SWITCHES if sw in switches)
    if not models and not [op for op in ops if op.strip()]:
        if not defines:
            raise OpSetError("the op set is empty: give --model with a model package or --ops with operator names")
        return OpSet(None, (), defines)
    known = registry_ops()
    wanted: list[str] = []
    sources: list[str] = []
    for m in models:
        names = model_ops(Path(m))
        missing = [n for n in names if n not in known]
        if missing:
            raise OpSetError(f"{m} needs operators the runtime has no kernel for: {', '.join(missing)}")
        wanted += names
        sources.append(Path(m).name)
    for op in ops:
        name = op.strip().upper()
        if not name:
            continue
        if name not in known:
            raise OpSetError(f"unknown operator {op!r}; the runtime has kernels for: {', '.join(sorted(known))}")
        wanted.append(name)
    if not wanted:
        raise OpSetError("the op set is empty: give --model with a model package or --ops with operator names")
    if [op for op in ops if op.strip()]:
        sources.append("--ops")
    return OpSet(tuple(sorted(set(wanted))), tuple(sources), defines)


def flash_saving(board_name: str, firmware: Path) -> str:
    """One line comparing a model-aware firmware's text with the default
    build of the same board (when that one is built)."""
    from .boards import get_board
    from .firmware import BuildError, elf_size, firmware_path
    from .paths import build_dir

    ours = elf_size(firmware.with_suffix(".elf") if firmware.suffix == ".uf2" else firmware).text
    try:
        if get_board(board_name).port == "rp2":
            default = build_dir(board_name) / "firmware.elf"
            if not default.is_file():
                raise BuildError(f"{default} does not exist")
        else:
            default = firmware_path(board_name)
    except BuildError:
        return (f"text {ours:,d} B (build the default firmware, `mpyml build --board {board_name}`, "
                f"to see the saving)")
    full = elf_size(default).text
    return f"text {ours:,d} B vs {full:,d} B with all kernels: {full - ours:,d} B saved"
