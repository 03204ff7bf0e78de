"""`mpyml bench board`: instructions per inference on QEMU Cortex-M boards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .bench import bench


@click.command("board")
@click.option("--board", default="qemu-m0", show_default=True, help="qemu-m0, qemu-m3 or qemu-m4.")
@click.option("--model", "models", multiple=True, help="Model name (repeatable; default: all real models).")
@click.option("--runs", default=2, show_default=True, help="invoke() calls averaged per model.")
@click.option("--testdata", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the real models (default: $MPYML_TESTDATA or ../shared/testdata).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results as JSON.")
def bench_board_cmd(board: str, models: tuple[str, ...], runs: int, testdata: Path | None, json_out: Path | None) -> None:
    """Instructions per invoke() of the real models (-icount shift=0: deterministic)."""
    from ..bench_board import bench_board
    from ..paths import project_root

    if testdata is None:
        testdata = Path(os.environ.get("MPYML_TESTDATA", project_root().parent / "shared" / "testdata"))
    results = bench_board(board, testdata, list(models) or None, runs)
    click.echo(f"{'model':26s} {'instructions/invoke':>20s} {'arena bytes':>12s}   ({board})")
    for r in results:
        click.echo(f"{r.model:26s} {r.instructions:>20,d} {r.arena_used:>12,d}")
    if json_out is not None:
        json_out.write_text(json.dumps([r.__dict__ for r in results], indent=2) + "\n")


def register(main: click.Group) -> None:
    bench.add_command(bench_board_cmd)
