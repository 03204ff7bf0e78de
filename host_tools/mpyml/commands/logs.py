"""`mpyml logs decode FILE`: print a device log ring as a table or CSV."""

from __future__ import annotations

import click


@click.group("logs")
def logs_group() -> None:
    """Device logs written by tinyml.logring."""


@logs_group.command("decode")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--labels", default=None,
              help="Class names: 'a,b,c' or a model package folder / manifest.json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
def decode_cmd(file: str, as_csv: bool, labels: str | None, output: str | None) -> None:
    """Decode FILE (oldest record first)."""
    from pathlib import Path

    from ..logs import format_csv, format_table, load_labels, read_log, summary

    log = read_log(Path(file))
    names = load_labels(labels)
    text = format_csv(log, names) if as_csv else format_table(log, names) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)
    click.echo(summary(log), err=True)


def register(main: click.Group) -> None:
    main.add_command(logs_group)
