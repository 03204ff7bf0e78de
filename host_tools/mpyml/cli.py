"""The `mpyml` command line: a thin layer over the importable API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MpymlError


class _Group(click.Group):
    """Turns MpymlError into a one-line (or short) message and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MpymlError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="mpyml")
def main() -> None:
    """mpyml: TinyML for MicroPython.

    Datasets, training and int8 quantization on the host; an int8 inference
    runtime and audio frontend in C; a MicroPython device library; firmware
    builds and deployment.
    """


@main.group()
def sdk() -> None:
    """MicroPython sources and toolchains (pinned, cached in $MPYML_HOME)."""


@sdk.command("fetch")
@click.option("--board", default=None, help="Also fetch what this board's build needs (RPI_PICO: pico-sdk, ...).")
def sdk_fetch(board: str | None) -> None:
    """Fetch and verify MicroPython v1.25.0 sources (idempotent)."""
    from .sdk import fetch

    s = fetch(log=lambda m: click.echo(m, err=True))
    click.echo(f"MicroPython {s.version} ({s.origin}): {s.path}")
    if board is not None:
        from .boards import get_board

        if get_board(board).port == "rp2":
            from .rp2 import fetch_rp2

            rp = fetch_rp2(log=lambda m: click.echo(m, err=True))
            click.echo(f"RP2040 SDK (pico-sdk 2.1.1, tinyusb 0.18.0, mbedtls 3.6.6, picotool 2.1.1): {rp.root}")


@sdk.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def sdk_status(as_json: bool) -> None:
    """Show what is present and where."""
    from .sdk import status

    info = status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"MPYML_HOME            {info['mpyml_home']}")
    if info["micropython_dir_env"]:
        click.echo(f"MPYML_MICROPYTHON_DIR {info['micropython_dir_env']}")
    mp = info["micropython"]
    if mp is None:
        click.echo(f"MicroPython           missing (wanted {info['micropython_wanted']}; run `mpyml sdk fetch`)")
    else:
        click.echo(f"MicroPython           {mp['version']} from {mp['origin']}: {mp['path']}")
        click.echo(f"mpy-cross             {info.get('mpy_cross') or 'not built yet (built by mpyml build)'}")
    click.echo(f"Debian tarball        {info['debian_tarball'] or 'not downloaded'}")


@main.command("boards")
def boards_cmd() -> None:
    """List the boards mpyml knows."""
    from .boards import all_boards

    for b in all_boards().values():
        flash = f"{b.flash_bytes // 1024} KB flash" if b.flash_bytes else "host"
        ram = f"{b.ram_bytes // 1024} KB RAM" if b.ram_bytes else ""
        click.echo(f"{b.name:10s} {b.port:6s} {b.arch:10s} {flash:>14s} {ram:>12s}  {b.description}")


@main.command("build")
@click.option("--board", required=True, help="Board name (see `mpyml boards`).")
@click.option("-j", "--jobs", type=int, default=None, help="Parallel make jobs (default: CPU count).")
@click.option("--clean", is_flag=True, help="Remove the board's build folder first.")
@click.option("--model", "models", multiple=True, type=click.Path(path_type=Path),
              help="Model package folder or .tflite (repeatable): build only the kernels these models use.")
@click.option("--ops", default=None, help="Comma-separated operators to build in (with or instead of --model).")
@click.option("--int8-only", is_flag=True, help="Leave the float32 kernels out (smaller flash).")
@click.option("--short-errors", is_flag=True, help="Status texts instead of detailed load/kernel errors (smaller flash).")
@click.option("--portable-kernels", is_flag=True, help="Portable C kernels only, no architecture fast paths "
              "(smallest flash, slower).")
def build_cmd(board: str, jobs: int | None, clean: bool, models: tuple[Path, ...], ops: str | None,
              int8_only: bool, short_errors: bool, portable_kernels: bool) -> None:
    """Build MicroPython firmware with the mpyml native modules and frozen tinyml.

    With --model/--ops the firmware registers only the kernels of those
    operators (a model needing another one is refused at load, naming it);
    it goes to its own build folder and the flash saving is printed, as with
    the size switches."""
    from .firmware import build

    opset = None
    switches = [name for name, on in (("int8_only", int8_only), ("short_errors", short_errors),
                                      ("portable_kernels", portable_kernels)) if on]
    if models or ops or switches:
        from .opset import opset_from

        opset = opset_from(list(models), (ops or "").split(","), switches)
        click.echo(f"operators: {', '.join(opset.ops) if opset.ops is not None else 'all'}"
                   + (f"; switches: {' '.join(opset.defines)}" if opset.defines else ""), err=True)
    r = build(board, jobs=jobs, clean=clean, log=lambda m: click.echo(m, err=True), opset=opset)
    if opset is not None:
        from .opset import flash_saving

        click.echo(flash_saving(board, r.firmware))
    click.echo(f"{r.firmware} ({r.seconds:.1f} s)")


@main.command("test-device")
@click.option("--board", default="unix", show_default=True, help="Board whose firmware runs the tests.")
@click.option("-k", "pattern", default=None, help="Only tests whose id contains this text.")
@click.option("-v", "--verbose", is_flag=True, help="Print every passing test too.")
@click.option("--port", default=None, help="Serial port of a board to run on (files are copied to it first).")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def test_device_cmd(board: str, pattern: str | None, verbose: bool, port: str | None, paths: tuple[str, ...]) -> None:
    """Run tests/device (or PATHS) with the device-side test runner."""
    from .devtest import run_tests

    r = run_tests(board, list(paths) or None, pattern, verbose, port=port)
    sys.exit(r.returncode)


@main.command("run")
@click.option("--board", default="unix", show_default=True)
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("args", nargs=-1)
def run_cmd(board: str, script: str, args: tuple[str, ...]) -> None:
    """Run a MicroPython script on a board's firmware (Unix port: locally)."""
    from pathlib import Path

    from .devtest import run_script

    r = run_script(board, Path(script).resolve(), list(args))
    sys.exit(r.returncode)


def _register_command_modules() -> None:
    import importlib
    import pkgutil

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(main)


_register_command_modules()

if __name__ == "__main__":
    main()
