"""The Whisper sizes named ``whisper_<size>``: each one's checkpoint and encoder shape."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WhisperSize:
    checkpoint: str  # Hugging Face id
    hidden_states: int  # the embedding output and one per encoder layer
    dim: int


WHISPER_SIZES: dict[str, WhisperSize] = {
    "tiny": WhisperSize("openai/whisper-tiny", 5, 384),
    "tiny_en": WhisperSize("openai/whisper-tiny.en", 5, 384),
    "base": WhisperSize("openai/whisper-base", 7, 512),
    "base_en": WhisperSize("openai/whisper-base.en", 7, 512),
    "small": WhisperSize("openai/whisper-small", 13, 768),
    "small_en": WhisperSize("openai/whisper-small.en", 13, 768),
    "medium": WhisperSize("openai/whisper-medium", 25, 1024),
    "medium_en": WhisperSize("openai/whisper-medium.en", 25, 1024),
    "large": WhisperSize("openai/whisper-large", 33, 1280),
    "large_v2": WhisperSize("openai/whisper-large-v2", 33, 1280),
    "large_v3": WhisperSize("openai/whisper-large-v3", 33, 1280),
}
