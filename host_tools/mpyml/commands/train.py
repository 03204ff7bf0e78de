"""`mpyml train`: train a zoo model into a run folder (then int8 PTQ)."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model", default=None, help="Zoo model (see `mpyml models`); overrides the config file.")
@click.option("--data", default=None, help="Dataset folder (Speech Commands layout) or .npz arrays.")
@click.option("--words", default=None, help="Keywords, comma separated (audio datasets).")
@click.option("--name", default=None, help="Run name (folder under runs/).")
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default=None, help="Runs root (default runs/).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder of the same name.")
@click.option("--no-quantize", is_flag=True, help="Skip int8 PTQ after training.")
def train_cmd(config, model, data, words, name, epochs, batch_size, learning_rate, seed, runs_dir, overwrite,
              no_quantize) -> None:
    """Train from CONFIG (YAML/JSON) or from --model/--data/--words."""
    from pathlib import Path

    from ..errors import MpymlError
    from ..train import TrainConfig, train

    overrides = {"model": model, "data": data, "words": words, "name": name, "epochs": epochs,
                 "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed}
    if no_quantize:
        overrides["quantize"] = False
    if config:
        cfg = TrainConfig.from_file(config, **overrides)
    else:
        if not model or not data:
            raise MpymlError("give a CONFIG file or at least --model and --data")
        cfg = TrainConfig.from_dict({k: v for k, v in overrides.items() if v is not None})
    r = train(cfg, runs_root=Path(runs_dir) if runs_dir else None, overwrite=overwrite, echo=click.echo)
    click.echo(f"{r.run.path}: best epoch {r.best_epoch}, validation accuracy {r.val_accuracy:.4f} "
               f"({r.seconds:.0f} s)")


@click.command("models")
def models_cmd() -> None:
    """List the model zoo."""
    from ..models import MODELS

    for spec in MODELS.values():
        click.echo(f"{spec.name:15s} {spec.kind:7s} {spec.description}")


def register(main: click.Group) -> None:
    main.add_command(train_cmd)
    main.add_command(models_cmd)
