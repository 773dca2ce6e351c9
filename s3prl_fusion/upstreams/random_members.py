"""Small randomly initialised stand-ins of a member's model family, for runs without downloads.

``s3prl-fusion`` presets name pretrained checkpoints; for a CPU smoke run, tests, or a
pipeline check on a machine without the weights, each member can be replaced by a small
random model of the same family (same classes, same code path, fewer and narrower layers).
Sizes differ between families so layer, frame and dim alignment are all exercised.
"""
from __future__ import annotations

from s3prl_fusion.errors import UnknownNameError

# family -> (model config kwargs); hidden states = layers + 1
_SSL_SHAPES = {"small": (4, 64), "large": (6, 80)}
_WHISPER_SHAPES = {"small": (3, 48), "large": (5, 64)}


def _ssl_config(model_type: str, layers: int, dim: int) -> dict:
    config = {
        "model_type": model_type,
        "hidden_size": dim,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "intermediate_size": 2 * dim,
        "conv_dim": [64] * 7,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
    }
    if model_type == "wavlm":
        config["num_buckets"] = 32
    if model_type == "data2vec-audio":
        config.pop("num_conv_pos_embedding_groups")
        config["conv_pos_kernel_size"] = 5
        config["num_conv_pos_embeddings"] = 5
    return config


def _whisper_config(layers: int, dim: int) -> dict:
    return {
        "d_model": dim,
        "encoder_layers": layers,
        "encoder_attention_heads": 4,
        "encoder_ffn_dim": 2 * dim,
        "decoder_layers": 1,
        "decoder_attention_heads": 4,
        "decoder_ffn_dim": 2 * dim,
        "num_mel_bins": 80,
    }


def model_family(member: dict) -> str:
    """'wavlm' | 'hubert' | 'data2vec-audio' | 'whisper' for a preset member entry."""
    upstream = str(member.get("upstream", "")).lower()
    if "whisper" in upstream:
        return "whisper"
    for family in ("wavlm", "hubert", "data2vec"):
        if family in upstream:
            return "data2vec-audio" if family == "data2vec" else family
    raise UnknownNameError(f"no random stand-in for member {member.get('upstream')!r}: its model family is not recognised")


def random_member_override(member: dict) -> dict:
    """Override entry that turns ``member`` into a small random model of its family."""
    family = model_family(member)
    size = "large" if any(tag in str(member.get("upstream")) for tag in ("large", "medium")) else "small"
    if family == "whisper":
        return {"kind": "whisper", "config": _whisper_config(*_WHISPER_SHAPES[size])}
    return {"kind": "hf", "config": _ssl_config(family, *_SSL_SHAPES[size])}


def random_preset_options(members: list[dict]) -> dict:
    """A ``-g`` mapping that replaces every member of a preset by its random stand-in."""
    return {"members": [random_member_override(member) for member in members]}
