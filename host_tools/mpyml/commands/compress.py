"""`mpyml compress ...`: QAT, low-bit sweep, pruning, distillation, gate, verifier, report."""

from __future__ import annotations

import click

_limits = [
    click.option("--max-train", type=click.IntRange(min=1), default=None,
                 help="Use at most this many training examples (quick runs)."),
    click.option("--max-eval", type=click.IntRange(min=1), default=None,
                 help="Use at most this many validation and test examples."),
]


def _with_limits(f):
    for opt in reversed(_limits):
        f = opt(f)
    return f


def _context(run: str, max_train, max_eval):
    from ..compress.common import load_context

    return load_context(run, max_train=max_train, max_eval=max_eval, echo=click.echo, progress=True)


def _child(spec: dict) -> None:
    from ..compress.worker import run_in_child

    status = run_in_child(spec)
    if status != 0:
        raise SystemExit(status)


@click.group("compress")
def compress() -> None:
    """Compress a trained run: QAT, low-bit sweeps, pruning, distillation; gate and verify the result.

    Results go to RUN/compression/ (JSON, plots, .tflite); `mpyml report --compression RUN`
    collects them into one Markdown + HTML page.
    """


@compress.command("qat")
@click.argument("run")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--learning-rate", type=float, default=None, help="Default: a tenth of the run's.")
@_with_limits
def qat_cmd(run, epochs, learning_rate, max_train, max_eval) -> None:
    """Quantization-aware training, exported to int8 (checked bit-exact in the mpyml runtime vs TFLM)."""
    _child({"stage": "qat", "run": run, "epochs": epochs, "learning_rate": learning_rate, "max_train": max_train,
            "max_eval": max_eval})


@compress.command("bits")
@click.argument("run")
@click.option("--bits", "bits_", default="3,4,5,6,7,8", show_default=True, help="Bit-widths, comma separated.")
@click.option("--epochs", type=click.IntRange(min=0), default=2, show_default=True, help="QAT epochs per bit-width.")
@click.option("--learning-rate", type=float, default=None)
@_with_limits
def bits_cmd(run, bits_, epochs, learning_rate, max_train, max_eval) -> None:
    """Weights and activations at 3..8 bits: PTQ vs QAT table and plot."""
    from ..compress.common import parse_floats

    bits = [int(b) for b in parse_floats(bits_, "--bits", 2, 8)]
    _child({"stage": "bits", "run": run, "bits": bits, "epochs": epochs, "learning_rate": learning_rate,
            "max_train": max_train, "max_eval": max_eval})


@compress.command("prune")
@click.argument("run")
@click.option("--sparsity", default="0.3,0.5,0.7,0.8,0.9,0.95", show_default=True,
              help="Target sparsities, comma separated.")
@click.option("--epochs", type=click.IntRange(min=0), default=2, show_default=True,
              help="Fine-tuning epochs up to 50% sparsity (more above it, see --scale-epochs).")
@click.option("--learning-rate", type=float, default=None)
@click.option("--method", type=click.Choice(["erk", "layer", "global"]), default="erk", show_default=True,
              help="erk: per-layer density by kernel shape (small kernels denser); layer: the same sparsity in "
                   "every layer (first/last protected); global: one threshold.")
@click.option("--protect-first/--no-protect-first", default=True, show_default=True,
              help="erk: the first layer as dense as the densest layer; layer: pruned at most --protected-sparsity.")
@click.option("--protect-last/--no-protect-last", default=True, show_default=True,
              help="erk: the last layer as dense as the densest layer; layer: pruned at most --protected-sparsity.")
@click.option("--protected-sparsity", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Sparsity limit of protected layers (0 exempts them).")
@click.option("--schedule", type=click.Choice(["gradual", "oneshot"]), default="gradual", show_default=True,
              help="gradual: sparsity ramps up during fine-tuning; oneshot: prune, then fine-tune with the mask held.")
@click.option("--ramp", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.6, show_default=True,
              help="Share of the fine-tuning steps spent raising the sparsity (gradual).")
@click.option("--scale-epochs/--fixed-epochs", default=True, show_default=True,
              help="Past 50% sparsity, one more share of --epochs per halving of the density.")
@click.option("--recalibrate-bn/--no-recalibrate-bn", default=True, show_default=True,
              help="Re-estimate BatchNorm statistics on the training data after pruning.")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True,
              help="Fine-tuning learning rate: constant, or decaying along a cosine.")
@_with_limits
def prune_cmd(run, sparsity, epochs, learning_rate, method, protect_first, protect_last, protected_sparsity,
              schedule, ramp, scale_epochs, recalibrate_bn, lr_schedule, max_train, max_eval) -> None:
    """Magnitude pruning sweep, with and without fine-tuning."""
    from ..compress.common import parse_floats
    from ..compress.prune import run_prune

    levels = parse_floats(sparsity, "--sparsity", 0.0, 0.999)
    run_prune(_context(run, max_train, max_eval), sparsities=levels, epochs=epochs, learning_rate=learning_rate,
              method=method, protect_first=protect_first, protect_last=protect_last,
              protected_sparsity=protected_sparsity, schedule=schedule, ramp=ramp, scale_epochs=scale_epochs,
              recalibrate_bn=recalibrate_bn, lr_schedule=lr_schedule)


@compress.command("structured")
@click.argument("run")
@click.option("--ratio", default="0.25,0.5,0.75", show_default=True,
              help="Fractions of channels to remove, comma separated.")
@click.option("--epochs", type=click.IntRange(min=0), default=3, show_default=True, help="Fine-tuning epochs.")
@click.option("--learning-rate", type=float, default=None)
@_with_limits
def structured_cmd(run, ratio, epochs, learning_rate, max_train, max_eval) -> None:
    """Channel pruning (L1 ranking): a physically smaller model, with params, MACs, arena, flash, latency."""
    from ..compress.common import parse_floats
    from ..compress.structured import run_structured

    ratios = parse_floats(ratio, "--ratio", 0.0, 0.95)
    run_structured(_context(run, max_train, max_eval), ratios=ratios, epochs=epochs, learning_rate=learning_rate)


@compress.command("distill")
@click.argument("run")
@click.option("--student", default="tiny_conv", show_default=True, help="Zoo model of the student.")
@click.option("--student-param", "student_params", multiple=True, metavar="KEY=VALUE",
              help="Student model parameter (repeatable), e.g. filters=16.")
@click.option("--temperature", type=float, default=4.0, show_default=True)
@click.option("--alpha", type=float, default=0.3, show_default=True, help="Weight of the hard-label loss.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--learning-rate", type=float, default=None)
@_with_limits
def distill_cmd(run, student, student_params, temperature, alpha, epochs, learning_rate, max_train, max_eval) -> None:
    """Train a student from the run's model (teacher) vs the same student on hard labels."""
    import json

    from ..compress.distill import run_distill
    from ..errors import MpymlError

    params = {}
    for item in student_params:
        if "=" not in item:
            raise MpymlError(f"--student-param {item!r}: use KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            params[k.strip()] = json.loads(v)
        except ValueError:
            params[k.strip()] = v
    run_distill(_context(run, max_train, max_eval), student=student, student_params=params, temperature=temperature,
                alpha=alpha, epochs=epochs, learning_rate=learning_rate)


@compress.command("gate")
@click.argument("base")
@click.argument("candidate")
@click.option("--run", "data_run", default=None, help="Run whose validation/test data to use (default: BASE if a run).")
@click.option("--max-drop", type=float, default=0.025, show_default=True, help="Largest accuracy drop (fraction).")
@click.option("--max-false-accept", type=float, default=None, help="False-accept budget (default 0.01).")
@click.option("--min-agreement", type=float, default=0.9, show_default=True, help="Golden-set top-1 agreement.")
@click.option("--golden", type=click.IntRange(min=1), default=100, show_default=True, help="Golden-set size.")
@click.option("--max-eval", type=click.IntRange(min=1), default=None)
def gate_cmd(base, candidate, data_run, max_drop, max_false_accept, min_agreement, golden, max_eval) -> None:
    """Accept or reject CANDIDATE (.tflite, package or run) against BASE; exit status 1 when rejected."""
    from ..compress.gate import run_gate

    res = run_gate(base, candidate, data_run=data_run, max_drop=max_drop, max_false_accept=max_false_accept,
                   min_agreement=min_agreement, golden=golden, max_eval=max_eval)
    click.echo(res.format())
    if not res.passed:
        raise SystemExit(1)


@compress.command("verify")
@click.argument("run")
@click.option("--tflite", "tflite_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="int8 model to check (default: the run's model_int8.tflite).")
@click.option("--bits", type=click.IntRange(2, 8), default=8, show_default=True,
              help="Bit-width of the one-layer-at-a-time sensitivity scan.")
@click.option("--samples", type=click.IntRange(min=1), default=500, show_default=True)
@_with_limits
def verify_cmd(run, tflite_path, bits, samples, max_train, max_eval) -> None:
    """Float vs int8 on identical inputs: agreement, rank correlation, logit error, saturation, sensitive layers."""
    from pathlib import Path

    from ..compress.verify import run_verify

    data = Path(tflite_path).read_bytes() if tflite_path else None
    run_verify(_context(run, max_train, max_eval), tflite=data, bits=bits, samples=samples)


@compress.command("report")
@click.argument("run")
def report_cmd(run) -> None:
    """Write RUN/compression/compression.md and .html from the stages' results."""
    from ..compress.report import write_report
    from ..runs import open_run

    md, page = write_report(open_run(run))
    click.echo(f"{md}\n{page}")


def register(main: click.Group) -> None:
    main.add_command(compress)
