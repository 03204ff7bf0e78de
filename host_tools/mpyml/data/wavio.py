"""Reading and writing PCM WAV files (standard library only)."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MpymlError


class WavError(MpymlError):
    """A file is not a readable PCM WAV file."""


@dataclass(frozen=True)
class WavInfo:
    path: Path
    sample_rate: int
    channels: int
    sample_width: int  # bytes per sample
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def wav_info(path: str | Path) -> WavInfo:
    """Header of a WAV file (no samples read)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            return WavInfo(path, w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
    except (wave.Error, EOFError) as e:
        raise WavError(f"{path}: not a PCM WAV file ({e})") from e
    except OSError as e:
        raise WavError(f"{path}: cannot read ({e.strerror or e})") from e


def read_wav(path: str | Path) -> tuple[np.ndarray, WavInfo]:
    """Samples ``[frames, channels]`` and the header.

    16-bit files give int16; 8-, 24- and 32-bit integer PCM give int32 at the
    file's own scale (convert with :func:`to_int16`)."""
    path = Path(path)
    info = wav_info(path)
    try:
        with wave.open(str(path), "rb") as w:
            raw = w.readframes(info.frames)
    except (wave.Error, EOFError, OSError) as e:
        raise WavError(f"{path}: cannot read samples ({e})") from e
    width = info.sample_width
    n = len(raw) // (width * info.channels)
    raw = raw[: n * width * info.channels]
    if width == 1:
        data = np.frombuffer(raw, np.uint8).astype(np.int32) - 128
    elif width == 2:
        data = np.frombuffer(raw, "<i2")
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        data = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        data = np.where(data >= 1 << 23, data - (1 << 24), data)
    elif width == 4:
        data = np.frombuffer(raw, "<i4")
    else:
        raise WavError(f"{path}: unsupported sample width {width} bytes")
    return data.reshape(n, info.channels), info


def to_int16(data: np.ndarray, sample_width: int) -> np.ndarray:
    """Integer PCM of ``sample_width`` bytes to int16 (rounding, saturating)."""
    if sample_width == 2:
        return np.asarray(data, np.int16)
    shift = 8 * (2 - sample_width)
    x = np.asarray(data, np.int64)
    if shift > 0:
        x = x << shift
    else:
        x = (x + (1 << (-shift - 1))) >> -shift
    return np.clip(x, -32768, 32767).astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = 16000) -> None:
    """Write mono 16-bit PCM (the bytes depend only on the samples and rate)."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise TypeError(f"write_wav needs a 1-D int16 array, got {samples.dtype} {samples.shape}")
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.astype("<i2").tobytes())
