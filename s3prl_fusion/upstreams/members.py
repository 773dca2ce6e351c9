"""One fused member: what the user wrote (a name, id, path or config) -> a built upstream module.

A member is a dict, from a preset, from ``-k`` (a bare name) or from the ``-g`` YAML file:
    upstream:     a Whisper name (``whisper_small``), a Hugging Face id or local directory, or
                  any s3prl hub upstream name (``wavlm_base_plus``)
    name:         a label for logs and plots (default: the upstream)
    kind:         ``whisper`` | ``hf`` | ``s3prl``; inferred when absent
    config:       model config kwargs: build a randomly initialised member instead of loading
                  (``model_type`` selects the family for ``hf`` members)
    length_mode:  Whisper only: ``exact`` (default) or ``pad30``
    ckpt, model_config: an s3prl member's own ``-k`` / ``-g``
Every built member returns s3prl's upstream dict and answers ``get_downsample_rates``.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path

from torch import nn

MEMBER_KEYS = {"upstream", "name", "kind", "config", "length_mode", "ckpt", "model_config"}
KINDS = ("whisper", "hf", "s3prl")


def normalize_member(member: dict | str) -> dict:
    """Validate a member entry and fill ``name`` and ``kind``."""
    entry = {"upstream": member} if isinstance(member, str) else dict(member)
    unknown = set(entry) - MEMBER_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in fused member {entry}; valid keys: {sorted(MEMBER_KEYS)}")
    if entry.get("upstream") is None and entry.get("config") is None:
        raise ValueError(f"fused member {entry} needs `upstream` (a name, id or path) or `config` (random init)")
    entry.setdefault("name", entry.get("upstream") or entry["config"].get("model_type", "whisper"))
    entry.setdefault("kind", _infer_kind(entry))
    if entry["kind"] not in KINDS:
        raise ValueError(f"fused member kind {entry['kind']!r} is not one of {KINDS}")
    return entry


def _infer_kind(entry: dict) -> str:
    upstream = entry.get("upstream")
    if upstream is None:
        model_type = entry["config"].get("model_type", "whisper")
        return "whisper" if model_type == "whisper" else "hf"
    if str(upstream).startswith("whisper_"):
        return "whisper"
    local_config = Path(upstream) / "config.json"
    if local_config.is_file():
        return "whisper" if json.loads(local_config.read_text()).get("model_type") == "whisper" else "hf"
    if "/" in str(upstream):
        return "whisper" if "whisper" in str(upstream).lower() else "hf"
    return "s3prl"


def build_member(entry: dict) -> nn.Module:
    """A normalized member entry -> its upstream module."""
    kind = entry["kind"]
    if kind == "whisper":
        from s3prl_fusion.upstreams.whisper import WHISPER_CHECKPOINTS, WhisperEncoderUpstream

        source = entry.get("upstream")
        if source is not None and source.startswith("whisper_"):
            size = source[len("whisper_"):]
            if size not in WHISPER_CHECKPOINTS:
                raise ValueError(_unknown_name_message(source, [f"whisper_{s}" for s in WHISPER_CHECKPOINTS]))
            source = entry.get("ckpt") or WHISPER_CHECKPOINTS[size]
        if entry.get("config") is not None:
            source = None
        return WhisperEncoderUpstream(source=source, config=entry.get("config"), length_mode=entry.get("length_mode", "exact"))
    if kind == "hf":
        from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream

        if entry.get("config") is not None:
            return HFSpeechUpstream(config=entry["config"])
        return HFSpeechUpstream(source=entry.get("ckpt") or entry["upstream"])
    return _build_s3prl_member(entry)


def _build_s3prl_member(entry: dict) -> nn.Module:
    from s3prl import hub

    name = entry["upstream"]
    factory = getattr(hub, name, None)
    if factory is None or name.startswith("_"):
        raise ValueError(_unknown_name_message(name, hub.options()))
    return factory(ckpt=entry.get("ckpt"), model_config=entry.get("model_config"))


def _unknown_name_message(name: str, valid: list[str]) -> str:
    nearest = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(nearest)}?" if nearest else ""
    return f"unknown upstream name {name!r}.{hint} `s3prl-fusion list` prints every upstream and preset."
