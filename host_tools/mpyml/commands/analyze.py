"""`mpyml analyze`: per-layer table, arena and board fit of an int8 model."""

from __future__ import annotations

import click


@click.command("analyze")
@click.argument("model", type=click.Path(exists=True))
@click.option("--board", default=None, help="Check the fit against this board's flash/RAM budget.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def analyze_cmd(model: str, board: str | None, as_json: bool) -> None:
    """Analyze MODEL (.tflite, package folder or run folder)."""
    import json

    from ..analyze import analyze_file, format_table

    a = analyze_file(model, board=board)
    click.echo(json.dumps(a.to_dict(), indent=2) if as_json else format_table(a))


def register(main: click.Group) -> None:
    main.add_command(analyze_cmd)
