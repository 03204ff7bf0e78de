"""What a dataset holds: clips and durations per word and split, speakers,
background noise, and speakers that appear in more than one split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .layout import SPLITS, scan, speaker_of
from .wavio import WavError, wav_info


@dataclass
class WordStats:
    word: str
    clips: dict[str, int]  # split -> clips
    seconds: dict[str, float]  # split -> total seconds
    min_seconds: float
    max_seconds: float


@dataclass
class DatasetStats:
    root: Path
    words: list[WordStats]
    speakers: dict[str, int]  # split -> distinct speakers
    shared_speakers: dict[str, int]  # "training&testing" -> speakers in both
    noise: list[tuple[str, float]]  # file name, seconds
    unreadable: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {s: sum(w.clips[s] for w in self.words) for s in SPLITS}

    def table(self) -> list[str]:
        head = f"{'word':16s} {'training':>9s} {'validation':>11s} {'testing':>8s} {'hours':>7s} {'min s':>6s} {'max s':>6s}"
        lines = [head, "-" * len(head)]
        for w in self.words:
            hours = sum(w.seconds.values()) / 3600
            lines.append(f"{w.word:16s} {w.clips['training']:9d} {w.clips['validation']:11d} "
                         f"{w.clips['testing']:8d} {hours:7.3f} {w.min_seconds:6.2f} {w.max_seconds:6.2f}")
        t = self.totals()
        total_h = sum(sum(w.seconds.values()) for w in self.words) / 3600
        lines.append("-" * len(head))
        lines.append(f"{'total':16s} {t['training']:9d} {t['validation']:11d} {t['testing']:8d} {total_h:7.3f}")
        lines.append("speakers: " + ", ".join(f"{s} {self.speakers[s]}" for s in SPLITS))
        shared = {k: v for k, v in self.shared_speakers.items() if v}
        lines.append("speakers in more than one split: " +
                     (", ".join(f"{k} {v}" for k, v in shared.items()) if shared else "none (speaker-disjoint)"))
        if self.noise:
            lines.append(f"background noise: {len(self.noise)} files, "
                         f"{sum(s for _, s in self.noise):.0f} s ({', '.join(n for n, _ in self.noise)})")
        else:
            lines.append("background noise: none (no _silence_ class and no noise augmentation possible)")
        if self.unreadable:
            lines.append(f"unreadable files: {len(self.unreadable)}, e.g. {self.unreadable[0]}")
        return lines


def dataset_stats(root: str | Path) -> DatasetStats:
    layout = scan(root)
    words = []
    speakers: dict[str, set[str]] = {s: set() for s in SPLITS}
    unreadable = []
    for word in layout.words:
        clips = {s: 0 for s in SPLITS}
        seconds = {s: 0.0 for s in SPLITS}
        lo, hi = float("inf"), 0.0
        for rel in layout.files[word]:
            split = layout.split_of(rel)
            try:
                sec = wav_info(layout.root / rel).seconds
            except WavError:
                unreadable.append(rel)
                continue
            clips[split] += 1
            seconds[split] += sec
            lo, hi = min(lo, sec), max(hi, sec)
            speakers[split].add(speaker_of(rel))
        words.append(WordStats(word, clips, seconds, lo if lo != float("inf") else 0.0, hi))
    shared = {}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            shared[f"{a}&{b}"] = len(speakers[a] & speakers[b])
    noise = []
    for p in layout.noise_files:
        try:
            noise.append((p.name, wav_info(p).seconds))
        except WavError:
            unreadable.append(str(p.relative_to(layout.root)))
    return DatasetStats(layout.root, words, {s: len(v) for s, v in speakers.items()}, shared, noise, unreadable)


def plot_stats(stats: DatasetStats, path: str | Path) -> Path:
    """Bar chart of clips per word and split (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    words = [w.word for w in stats.words]
    x = np.arange(len(words))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(words) + 2), 4))
    bottom = np.zeros(len(words))
    for split in SPLITS:
        counts = np.array([w.clips[split] for w in stats.words], dtype=float)
        ax.bar(x, counts, bottom=bottom, label=split)
        bottom += counts
    ax.set_xticks(x, words, rotation=60, ha="right")
    ax.set_ylabel("clips")
    ax.set_title(f"{stats.root.name}: clips per word and split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
