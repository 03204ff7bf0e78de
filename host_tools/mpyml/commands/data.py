"""`mpyml data`: datasets in the Speech Commands layout."""

from __future__ import annotations

import click

from ..errors import MpymlError


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _log(msg: str) -> None:
    click.echo(msg, err=True)


@click.group()
def data() -> None:
    """Datasets: synthesise, download, import recordings, inspect."""


@data.command("synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--words", default="yes,no,up,down,left,right,on,off,stop,go", show_default=True,
              help="Comma-separated keywords.")
@click.option("--clips-per-word", type=int, default=100, show_default=True, help="Clips per keyword.")
@click.option("--other-words", default=None,
              help="Comma-separated non-keywords for _unknown_ (default: the other Speech Commands words).")
@click.option("--other-clips", type=int, default=None,
              help="Total clips of the other words (default: 20%% of the keyword clips).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--holdout", type=click.Choice(["variant", "voice", "speaker"]), default="variant", show_default=True,
              help="What validation/test voices are disjoint by: timbre variant, accent, or accent+variant pair.")
@click.option("--voices", default=None, help="Comma-separated espeak-ng voices (default: 8 English accents).")
@click.option("--noise-seconds", type=float, default=60.0, show_default=True,
              help="Length of each generated background-noise recording.")
@click.option("-j", "--jobs", type=int, default=2, show_default=True, help="Parallel synthesis jobs.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def synth_cmd(out: str, words: str, clips_per_word: int, other_words: str | None, other_clips: int | None, seed: int,
              holdout: str, voices: str | None, noise_seconds: float, jobs: int, force: bool) -> None:
    """Generate a keyword dataset with espeak-ng and sox into OUT."""
    from ..data.synth import SynthConfig, synth

    cfg = SynthConfig(words=_words(words), clips_per_word=clips_per_word, seed=seed, holdout=holdout,
                      noise_seconds=noise_seconds, jobs=jobs, other_clips=other_clips)
    if other_words is not None:
        cfg.other_words = _words(other_words)
    if voices is not None:
        cfg.voices = _words(voices)
    try:
        r = synth(out, cfg, force=force, log=_log)
    except ValueError as e:
        raise MpymlError(str(e)) from e
    for split, names in r.holdout.items():
        if split != "training":
            click.echo(f"{split} {holdout}s (never in training): {', '.join(names)}")
    click.echo(f"{r.clips} clips in {r.root}")


@data.command("speech-commands")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--url", default=None, help="Mirror of speech_commands_v0.02.tar.gz (needs --sha256 too).")
@click.option("--sha256", default=None, help="Expected sha256 of the archive at --url.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def speech_commands_cmd(out: str, url: str | None, sha256: str | None, force: bool) -> None:
    """Download, verify and extract Speech Commands v0.02 (2.4 GB) into OUT.

    The archive is cached in $MPYML_HOME/downloads and an interrupted download
    resumes.
    """
    from ..data.download import SpeechCommandsSource, speech_commands

    if (url is None) != (sha256 is None):
        raise MpymlError("--url and --sha256 go together (a mirror must be verified)")
    source = SpeechCommandsSource() if url is None else SpeechCommandsSource(url=url, sha256=sha256, size=None)
    path = speech_commands(out, source=source, force=force, log=_log)
    click.echo(f"Speech Commands v0.02 in {path}")


@data.command("import")
@click.argument("src", type=click.Path(exists=True))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--word", required=True, help="The word spoken in the recordings (class folder).")
@click.option("--speaker", default=None, help="Speaker id for the file names (default: SRC's name).")
@click.option("--split", type=click.Choice(["training", "validation", "testing"]), default="training",
              show_default=True, help="Split the recordings belong to.")
@click.option("--resample", is_flag=True,
              help="Convert other sample rates, channel counts and sample widths instead of skipping the files.")
def import_cmd(src: str, out: str, word: str, speaker: str | None, split: str, resample: bool) -> None:
    """Check recordings under SRC and add the good ones to dataset OUT as WORD."""
    from ..data.importer import import_recordings

    report = import_recordings(src, out, word, speaker=speaker, split=split, resample=resample)
    for line in report.lines():
        click.echo(line)
    if not report.imported:
        raise MpymlError(f"no usable recordings in {src}")


@data.command("stats")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Also write a bar chart of clips per word and split (PNG).")
def stats_cmd(dataset: str, plot: str | None) -> None:
    """Clips and durations per word and split, speakers, noise."""
    from ..data.stats import dataset_stats, plot_stats

    st = dataset_stats(dataset)
    for line in st.table():
        click.echo(line)
    if plot:
        click.echo(f"plot: {plot_stats(st, plot)}")


@data.command("validate")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
def validate_cmd(dataset: str) -> None:
    """Check the layout and every clip's WAV header."""
    from ..data.layout import validate

    layout = validate(dataset)
    n = sum(len(v) for v in layout.files.values())
    click.echo(f"{layout.root}: OK, {len(layout.files)} words, {n} clips, {len(layout.noise_files)} noise files")


def register(main: click.Group) -> None:
    main.add_command(data)
