"""Link a native module with MicroPython's ``tools/mpy_ld.py``, after
dropping unused code, and accepting word-sized absolute addresses in code.

    python natmod_ld.py MPY_DIR LD [mpy_ld arguments...]

Unused code: ``mpy_ld`` keeps every section of every object it is given.
The objects are compiled with -ffunction-sections -fdata-sections and first
combined by LD (``ld -r --gc-sections``, kept from ``mpy_init``), so what no
path from the entry reaches (MicroPython libm functions the runtime does not
call, kernels a model-specific build leaves out of the registry) is dropped.

Absolute addresses: libgcc's soft-float routines for armv6m keep addresses
in literal pools (``R_ARM_ABS32`` relocations inside ``.text``), which
``mpy_ld`` refuses. Such a word needs nothing new from the loader:
``mpy_ld`` already emits a load-time relocation (add the load address of the
target section) for every pointer in constant data, and the literal pool
word is relocated the same way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def _gc_objects(ld: str, args: list[str]) -> list[str]:
    objects = [a for a in args if a.endswith(".o")]
    if not objects or "--preprocess" in args:
        return args
    out = Path(args[args.index("-o") + 1]).with_suffix(".gc.o")
    r = subprocess.run([ld, "-r", "--gc-sections", "-u", "mpy_init", "-o", str(out), *objects],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{ld} -r --gc-sections failed:\n{r.stderr}")
    rest = [a for a in args if not a.endswith(".o")]
    return [*rest, str(out)]


def main() -> None:
    mpy_dir = Path(sys.argv[1])
    ld = sys.argv[2]
    sys.argv[1:] = _gc_objects(ld, sys.argv[3:])
    sys.path.insert(0, str(mpy_dir / "tools"))
    import mpy_ld  # type: ignore[import-not-found]

    plain = mpy_ld.do_relocation_text

    def relocate_text(env: Any, text_addr: int, r: Any) -> None:
        if env.arch.name == "EM_ARM" and r["r_info_type"] == mpy_ld.R_ARM_ABS32:
            mpy_ld.do_relocation_data(env, text_addr, r)
        else:
            plain(env, text_addr, r)

    mpy_ld.do_relocation_text = relocate_text
    mpy_ld.main()


if __name__ == "__main__":
    main()
