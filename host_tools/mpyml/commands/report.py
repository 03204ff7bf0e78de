"""`mpyml report`: one table over every run."""

from __future__ import annotations

import click


@click.command("report")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default=None, help="Runs root (default runs/).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV.")
@click.option("--compression", "compression_run", default=None, metavar="RUN",
              help="Instead: RUN's compression report (Markdown + HTML, see `mpyml compress`).")
def report_cmd(runs_dir: str | None, csv_path: str | None, compression_run: str | None = None) -> None:
    """Float and int8 accuracy, size, MACs and arena of every run's model."""
    if compression_run:
        from ..compress.report import write_report
        from ..runs import open_run

        md, page = write_report(open_run(compression_run))
        click.echo(f"{md}\n{page}")
        return
    import csv
    from dataclasses import asdict
    from pathlib import Path

    from ..errors import MpymlError
    from ..report import collect, format_rows
    from ..runs import runs_root

    root = Path(runs_dir) if runs_dir else runs_root()
    rows = collect(root)
    if not rows:
        raise MpymlError(f"no runs in {root} (train one with `mpyml train`)")
    click.echo(format_rows(rows))
    if csv_path:
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
            w.writeheader()
            for r in rows:
                w.writerow(asdict(r))


def register(main: click.Group) -> None:
    main.add_command(report_cmd)
