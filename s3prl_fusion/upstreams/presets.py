"""Named fused upstreams: every upstream combination of the paper, base and large.

Each preset name lists its members in order; a member is a Hugging Face id of a speech SSL
model or a Whisper size. Presets with a Whisper member also come as ``<name>_en``, with the
English-only Whisper the paper uses for LibriSpeech.
"""
from __future__ import annotations

SSL_CHECKPOINTS = {
    "hubert": "facebook/hubert-base-ls960",
    "wavlm": "microsoft/wavlm-base-plus",
    "data2vec": "facebook/data2vec-audio-base",
    "wavlmlarge": "microsoft/wavlm-large",
    "data2veclarge": "facebook/data2vec-audio-large",
}
# short name in a preset name -> Whisper size (``whisper_sizes``)
WHISPER_SHORT_NAMES = {"whisper": "small", "whispermedium": "medium"}

_COMBINATIONS = (
    # Table I (base)
    ("hubert", "wavlm"),
    ("wavlm", "whisper"),
    ("hubert", "wavlm", "whisper"),
    ("wavlm", "data2vec", "whisper"),
    # other base combinations of the paper
    ("data2vec", "wavlm"),
    ("data2vec", "hubert"),
    ("data2vec", "hubert", "wavlm"),
    # Table II (large)
    ("wavlmlarge", "whispermedium"),
    ("data2veclarge", "wavlmlarge"),
    ("wavlmlarge", "data2veclarge", "whispermedium"),
)


def _member(short_name: str, english_only: bool) -> dict:
    if short_name in WHISPER_SHORT_NAMES:
        size = WHISPER_SHORT_NAMES[short_name] + ("_en" if english_only else "")
        return {"name": f"whisper_{size}", "upstream": f"whisper_{size}"}
    return {"name": short_name, "upstream": SSL_CHECKPOINTS[short_name]}


def _presets() -> dict[str, list[dict]]:
    presets = {}
    for combination in _COMBINATIONS:
        name = "fused_" + "_".join(combination)
        presets[name] = [_member(member, english_only=False) for member in combination]
        if any(member in WHISPER_SHORT_NAMES for member in combination):
            presets[name + "_en"] = [_member(member, english_only=True) for member in combination]
    return presets


PRESETS: dict[str, list[dict]] = _presets()
