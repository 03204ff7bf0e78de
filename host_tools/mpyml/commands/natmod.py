"""`mpyml natmod`: native dynamic modules (_tinyml.mpy) for stock firmware."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..natmod import ARCHS

ARCH_FOR_BOARD = {"unix": "x64", "qemu-m0": "armv6m", "qemu-m3": "armv7m", "qemu-m4": "armv7emsp"}


@click.group()
def natmod() -> None:
    """Native .mpy modules of _tinyml (install with mpremote mip)."""


@natmod.command("build")
@click.argument("archs", nargs=-1, type=click.Choice(sorted(ARCHS)))
@click.option("--model", "models", multiple=True, type=click.Path(path_type=Path),
              help="Model package folder or .tflite (repeatable): only the kernels these models use.")
@click.option("--ops", default=None, help="Comma-separated operators to build in (with or instead of --model).")
@click.option("--int8-only", is_flag=True, help="Leave the float32 kernels out.")
@click.option("--short-errors", is_flag=True, help="Status texts instead of detailed load/kernel errors.")
def natmod_build(archs: tuple[str, ...], models: tuple[Path, ...], ops: str | None, int8_only: bool,
                 short_errors: bool) -> None:
    """Build _tinyml.mpy for ARCHS (default: all) and the mip package.

    With --model/--ops (and the size switches) the module registers only
    those kernels, as `mpyml build --model` does for firmware: a smaller
    module in its own folder and package."""
    from ..natmod import build_natmod, write_package

    opset = None
    switches = [name for name, on in (("int8_only", int8_only), ("short_errors", short_errors)) if on]
    if models or ops or switches:
        from ..opset import opset_from

        opset = opset_from(list(models), (ops or "").split(","), switches)
        click.echo(f"operators: {', '.join(opset.ops) if opset.ops is not None else 'all'}"
                   + (f"; switches: {' '.join(opset.defines)}" if opset.defines else ""), err=True)
    chosen = list(archs) or list(ARCHS)
    left: list[str] = []
    for arch in chosen:
        r = build_natmod(arch, log=lambda m: click.echo(m, err=True), opset=opset)
        click.echo(f"{r.mpy} ({r.size} B; glue: {', '.join(r.glue)})")
        left = r.left_out
    pkg = write_package(chosen, opset)
    click.echo(f"mip package: {pkg} (mpremote mip install {pkg}/package-<arch>.json)")
    if left:
        click.echo(f"not in the natmod (firmware only): {', '.join(left)}", err=True)


@natmod.command("test")
@click.option("--board", default="unix", show_default=True, type=click.Choice(sorted(ARCH_FOR_BOARD)))
@click.option("-v", "--verbose", is_flag=True)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def natmod_test(board: str, verbose: bool, paths: tuple[str, ...]) -> None:
    """Run device tests (default tests/device/test_native.py) on firmware
    WITHOUT the built-in _tinyml, with the natmod loaded instead."""
    from ..devtest import run_tests
    from ..firmware import build
    from ..natmod import build_natmod

    arch = ARCH_FOR_BOARD[board]
    r = build_natmod(arch, log=lambda m: click.echo(m, err=True))
    build(board, log=lambda m: click.echo(m, err=True), plain=True)  # incremental after the first time
    res = run_tests(board, list(paths) or ["tests/device/test_native.py"], verbose=verbose, plain=True,
                    natmod=Path(r.mpy))
    sys.exit(res.returncode)


def register(main: click.Group) -> None:
    main.add_command(natmod)
