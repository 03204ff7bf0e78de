"""Datasets in the Speech Commands layout: reading, validating, loading
splits with _unknown_ and _silence_ classes, augmentation, and producing
datasets (speech synthesis, the Speech Commands download, user recordings)."""

from .augment import AugmentConfig, augment_clips, mask_features, time_shift
from .layout import (BACKGROUND_DIR, CLIP_SAMPLES, SAMPLE_RATE, SILENCE_LABEL, TESTING_LIST, UNKNOWN_LABEL,
                     VALIDATION_LIST, DatasetError, Layout, scan, speaker_of, validate)
from .split import Split, load_split, read_clip, read_noises
from .wavio import WavError, WavInfo, read_wav, wav_info, write_wav

__all__ = [
    "AugmentConfig", "augment_clips", "mask_features", "time_shift",
    "BACKGROUND_DIR", "CLIP_SAMPLES", "SAMPLE_RATE", "SILENCE_LABEL", "TESTING_LIST", "UNKNOWN_LABEL",
    "VALIDATION_LIST", "DatasetError", "Layout", "scan", "speaker_of", "validate",
    "Split", "load_split", "read_clip", "read_noises",
    "WavError", "WavInfo", "read_wav", "wav_info", "write_wav",
]
