"""`mpyml stream build|score`: long keyword test streams and their scoring."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("stream")
def stream_group() -> None:
    """Long test streams with known keyword positions; score a detector on them."""


@stream_group.command("build")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--keywords", "keywords", multiple=True, required=True, metavar="[LABEL=]PATH",
              help="A keyword WAV or a folder of them (label: folder name / file name up to '_'). Repeatable.")
@click.option("--background", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Background recording(s) mixed in under the noise. Repeatable.")
@click.option("--minutes", type=float, required=True, help="Length of the stream.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gap", nargs=2, type=float, default=(2.0, 6.0), show_default=True,
              help="Min and max seconds between keywords.")
@click.option("--gain-db", nargs=2, type=float, default=(-6.0, 0.0), show_default=True,
              help="Min and max gain applied to each keyword clip.")
@click.option("--noise-level", type=float, default=0.003, show_default=True,
              help="RMS of white background noise as a fraction of full scale.")
@click.option("--background-level", type=float, default=0.5, show_default=True,
              help="Gain applied to the --background recordings.")
@click.option("--sample-rate", type=int, default=16000, show_default=True)
@click.option("--truth", "truth_out", type=click.Path(dir_okay=False), default=None,
              help="Ground-truth JSON (default: OUT with .json).")
def build_cmd(out, keywords, background, minutes, seed, gap, gain_db, noise_level, background_level, sample_rate,
              truth_out) -> None:
    """Write OUT.wav with keyword clips over background noise, plus the ground truth JSON."""
    from ..streams import StreamSpec, build_stream, load_keywords, read_wav, write_stream

    kw = load_keywords(keywords, sample_rate)
    bg = [read_wav(Path(p), sample_rate)[0] for p in background]
    spec = StreamSpec(minutes=minutes, seed=seed, sample_rate=sample_rate, gap_s=tuple(gap), gain_db=tuple(gain_db),
                      noise_level=noise_level, background_level=background_level)
    audio, truth = build_stream(kw, spec, bg)
    tp = write_stream(Path(out), audio, truth, Path(truth_out) if truth_out else None)
    counts = {}
    for e in truth.events:
        counts[e["label"]] = counts.get(e["label"], 0) + 1
    summary = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    click.echo(f"{out}: {truth.duration_s:.1f} s, {len(truth.events)} keywords ({summary})")
    click.echo(f"{tp}: ground truth")


@stream_group.command("score")
@click.argument("detections", type=click.Path(dir_okay=False))
@click.argument("truth", type=click.Path(dir_okay=False))
@click.option("--tolerance", type=float, default=1.0, show_default=True,
              help="Seconds after a keyword's end in which a detection still counts.")
@click.option("--before", type=float, default=0.0, show_default=True,
              help="Seconds before a keyword's start in which a detection counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def score_cmd(detections, truth, tolerance, before, as_json) -> None:
    """Score DETECTIONS (app output / JSON) against TRUTH: hits, misses, false accepts per hour."""
    from ..streams import Truth, read_detections, score

    s = score(read_detections(Path(detections)), Truth.load(Path(truth)), tolerance_s=tolerance, before_s=before)
    if as_json:
        click.echo(json.dumps(s.to_json(), indent=1))
        return
    click.echo(f"events {s.events}  detections {s.detections}  duration {s.hours * 3600:.1f} s")
    click.echo(f"hits {s.hits}  misses {s.misses}  recall {s.recall:.3f}")
    click.echo(f"false accepts {s.false_accepts} ({s.false_accepts_per_hour:.1f} per hour; "
               f"{s.duplicates} duplicates, {s.wrong_label} wrong label)")
    for label, c in s.per_label.items():
        click.echo(f"  {label:12s} events {c['events']:4d}  hits {c['hits']:4d}  misses {c['misses']:4d}  "
                   f"false accepts {c['false_accepts']:4d}")


def register(main: click.Group) -> None:
    main.add_command(stream_group)
