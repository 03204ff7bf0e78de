"""`mpyml bench device-lib`: instructions per hop of the tinyml device logic."""

from __future__ import annotations

import click

from .bench import bench


@click.command("device-lib")
@click.option("--board", "boards", multiple=True, default=("qemu-m0",), show_default=True,
              help="QEMU board(s) whose firmware runs the steps (qemu-m0, qemu-m3, qemu-m4).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def devicelib_cmd(boards: tuple[str, ...], as_json: bool) -> None:
    """Ring, input gate, post-processing and log ring per 20 ms hop (320
    samples), counted in executed instructions under QEMU."""
    import json

    from ..bench_devicelib import run_bench

    results = [run_bench(b) for b in boards]
    if as_json:
        click.echo(json.dumps({r.board: {"hop": r.hop, "instructions": r.instructions,
                                          "per_hop_total": r.per_hop_total()} for r in results}, indent=2))
        return
    for r in results:
        click.echo(f"{r.board}: instructions per call (hop = {r.hop} samples)")
        for name, n in r.instructions.items():
            click.echo(f"  {name:<22s} {n:>10,d}")
        click.echo(f"  {'one streaming hop':<22s} {r.per_hop_total():>10,d}  (write + gate + recognizer + log)")


def register(main: click.Group) -> None:
    bench.add_command(devicelib_cmd)
