"""`mpyml quantize`: full-int8 post-training quantization of a run."""

from __future__ import annotations

import click


@click.command("quantize")
@click.argument("run")
@click.option("--samples", type=int, default=None, help="Representative samples (default: the run's setting).")
def quantize_cmd(run: str, samples: int | None) -> None:
    """Quantize RUN's float model to int8 (int8 input and output)."""
    from ..quantize import quantize_run
    from ..runs import open_run
    from ..train import setup_tensorflow

    r = open_run(run, echo=click.echo)
    setup_tensorflow(2)
    q = quantize_run(r, max_samples=samples, progress=True)
    click.echo(f"{r.artifact('model_int8.tflite')}: {q.size} B, input scale {q.input_scale:.6g} "
               f"zero point {q.input_zero_point}")


def register(main: click.Group) -> None:
    main.add_command(quantize_cmd)
