"""`mpyml demo`: the end-to-end keyword-spotting demo (what `make demo` runs)."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--words", default="yes,no,up,down", show_default=True, help="Keywords, comma separated.")
@click.option("--clips-per-word", type=int, default=200, show_default=True)
@click.option("--epochs", type=int, default=15, show_default=True)
@click.option("--model", default="ds_cnn_s", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--name", "run_name", default="demo", show_default=True, help="Run folder name under runs/.")
@click.option("--no-build", is_flag=True, help="Use the already built Unix firmware.")
def demo_cmd(words: str, clips_per_word: int, epochs: int, model: str, seed: int, run_name: str,
             no_build: bool) -> None:
    """Synthesise data, train, quantize, evaluate, package, run on the firmware."""
    from ..demo import run_demo

    run_demo(words=tuple(w for w in words.split(",") if w), clips_per_word=clips_per_word, epochs=epochs,
             model=model, seed=seed, run_name=run_name, build_firmware=not no_build, echo=click.echo)


def register(main: click.Group) -> None:
    main.add_command(demo_cmd)
