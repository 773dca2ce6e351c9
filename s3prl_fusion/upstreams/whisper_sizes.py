"""The Whisper sizes named ``whisper_<size>``: each one's checkpoint and encoder shape."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WhisperSize:
    checkpoint: str  # Hugging Face id
    hidden_states: int  # the embedding output and one per encoder layer
    dim: int
    mel_bins: int = 80

    def encoder_config(self) -> dict:
        """``WhisperConfig`` keyword arguments of this size's encoder (64-dim attention heads, a 4x
        feed-forward, as in every Whisper size), with the smallest decoder: a random model of this
        encoder's shape without a download."""
        heads, ffn = self.dim // 64, 4 * self.dim
        return {
            "d_model": self.dim, "encoder_layers": self.hidden_states - 1, "encoder_attention_heads": heads, "encoder_ffn_dim": ffn,
            "decoder_layers": 1, "decoder_attention_heads": heads, "decoder_ffn_dim": ffn, "num_mel_bins": self.mel_bins,
        }


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
    "large_v3": WhisperSize("openai/whisper-large-v3", 33, 1280, mel_bins=128),
}
