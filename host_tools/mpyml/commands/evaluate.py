"""`mpyml evaluate`: float vs int8 (TFLM) vs int8 (mpyml runtime) on one test set."""

from __future__ import annotations

import click


@click.command("evaluate")
@click.argument("run")
@click.option("--mpyml", "use_mpyml", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Also run the mpyml runtime's host binding (must equal TFLM).")
@click.option("--max-false-accepts", type=float, default=None,
              help="Target false-accept rate for the threshold choice (default 0.01).")
def evaluate_cmd(run: str, use_mpyml: str, max_false_accepts: float | None) -> None:
    """Evaluate RUN on its test set; pick the deployment threshold on validation."""
    from ..evaluate import DEFAULT_MAX_FALSE_ACCEPT, evaluate_run, per_class_table
    from ..runs import open_run

    r = open_run(run)
    res = evaluate_run(r, use_mpyml=use_mpyml, echo=click.echo,
                       max_false_accept_rate=DEFAULT_MAX_FALSE_ACCEPT if max_false_accepts is None else max_false_accepts)
    for key, title in (("float", "float (Keras)"), ("tflm_int8", "int8 in TFLM"), ("mpyml_int8", "int8 in mpyml")):
        if res.get(key):
            click.echo(f"\n{title}\n{per_class_table(res[key])}")
    click.echo(f"\nmpyml runtime: {res['mpyml_runtime']}")
    click.echo(f"plots: {r.plots}")


def register(main: click.Group) -> None:
    main.add_command(evaluate_cmd)
