"""Hidden states (embedding output + one per layer) and width of the published checkpoints the plugin names.

Read by ``s3prl-fusion list`` and ``s3prl-fusion cache plan``.
"""
from __future__ import annotations

from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

# name -> (hidden states, width)
KNOWN_SHAPES = {
    "microsoft/wavlm-base-plus": (13, 768),
    "facebook/hubert-base-ls960": (13, 768),
    "facebook/data2vec-audio-base": (13, 768),
    "microsoft/wavlm-large": (25, 1024),
    "facebook/data2vec-audio-large": (25, 1024),
    **{f"whisper_{size}": (shape.hidden_states, shape.dim) for size, shape in WHISPER_SIZES.items()},
}
