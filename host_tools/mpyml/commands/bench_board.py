"""`mpyml bench --board qemu-m0|qemu-m3|qemu-m4` (also `mpyml bench board`):
instructions per inference on QEMU Cortex-M boards next to TFLM's; without
--board (or with --board host) the host binding against tflite-micro."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .bench import bench

BOARD_HELP = "qemu-m0, qemu-m3 or qemu-m4 (instructions on QEMU); host: the host binding vs tflite-micro."


def _testdata(testdata: Path | None) -> Path:
    from ..paths import project_root

    if testdata is not None:
        return testdata
    return Path(os.environ.get("MPYML_TESTDATA", project_root().parent / "shared" / "testdata"))


def run_board_bench(boards: tuple[str, ...], models: tuple[str, ...], runs: int, testdata: Path | None,
                    as_json: bool, per_op: bool, json_file: Path | None = None,
                    baseline: Path | None = None, map_file: Path | None = None) -> None:
    """The board benchmark behind both command forms (one report per board)."""
    from ..bench_board import board_report, check_args, format_report, report_json, write_baseline

    for b in boards:
        check_args(b, list(models) or None, runs)
    td = _testdata(testdata)
    reports = []
    for b in boards:
        click.echo(f"running {b} ...", err=True)
        reports.append(board_report(b, td, list(models) or None, runs, map_file))
    if as_json:
        click.echo(report_json(reports))
    else:
        click.echo("\n\n".join(format_report(r, per_op) for r in reports))
    if json_file is not None:
        json_file.write_text(report_json(reports) + "\n")
    if baseline is not None:
        for r in reports:
            write_baseline(baseline, r["_results"])
        click.echo(f"baseline written: {baseline}", err=True)


def run_host_bench(as_json: bool, repeats: int = 5) -> None:
    """Host binding vs the tflite-micro package, timed side by side in this run."""
    from .bench_runtime import runtime_cmd

    click.get_current_context().invoke(runtime_cmd, repeats=repeats, no_size=True, qemu=False, as_json=as_json)


@click.command("board")
@click.option("--board", "boards", multiple=True, default=("qemu-m0",), show_default=True, help=BOARD_HELP +
              " Repeatable.")
@click.option("--model", "models", multiple=True,
              help="Model name (repeatable; default: micro_speech_quantized, kws_ref_model, person_detect).")
@click.option("--runs", default=2, show_default=True, help="invoke() calls averaged per model.")
@click.option("--testdata", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the real models (default: $MPYML_TESTDATA or ../shared/testdata).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results as JSON to this file.")
@click.option("--json-stdout", "as_json", is_flag=True, help="Print JSON instead of the tables.")
@click.option("--summary", is_flag=True, help="Per op type only (no line per op).")
@click.option("--write-baseline", "baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Record instructions/arena per model in this baseline file (kept: other boards' entries), "
                   "e.g. tests/host/data/icount_baseline.json.")
@click.option("--map", "map_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Linker map for the flash figure (default: the board's firmware), e.g. of a model-aware "
                   "build: build/qemu-m0-ops-<tag>/obj/firmware.map.")
def bench_board_cmd(boards: tuple[str, ...], models: tuple[str, ...], runs: int, testdata: Path | None,
                    json_file: Path | None, as_json: bool, summary: bool, baseline: Path | None,
                    map_file: Path | None) -> None:
    """Instructions per invoke() and per MAC, per-op breakdown, arena and
    runtime flash on QEMU boards, as ratios to TFLM (-icount: deterministic)."""
    from ..errors import MpymlError

    if "host" in boards:
        if len(boards) > 1 or baseline is not None or json_file is not None:
            raise MpymlError("--board host runs alone, without --json FILE or --write-baseline")
        run_host_bench(as_json)
        return
    if map_file is not None and len(boards) > 1:
        raise MpymlError("--map goes with one --board")
    run_board_bench(boards, models, runs, testdata, as_json, not summary, json_file, baseline, map_file)


def register(main: click.Group) -> None:
    bench.add_command(bench_board_cmd)
