"""What each member of an upstream is, so a checkpoint can be matched to the members it was
trained on, not to their labels alone.

A member identity is a dict:
    label:         the member's name in logs and plots
    kind:          ``whisper`` | ``hf`` | ``s3prl``
    source:        the Hugging Face id, Whisper name or s3prl hub name as given, a local
                   path made absolute, or the config dict of a randomly initialised member
    ckpt, model_config:  the member's own checkpoint / config file (local paths absolute)
    length_mode:   Whisper's (``exact`` filled in when not given), else None
and any other member key as the entry gives it.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.upstreams.fused import AUTOCAST_DTYPES
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream
from s3prl_fusion.upstreams.members import member_settings
from s3prl_fusion.upstreams.whisper import WhisperEncoderUpstream

NO_AUTOCAST = "none"
_PATH_KEYS = ("ckpt", "model_config")
_AUTOCAST_NAMES = {dtype: name for name, dtype in AUTOCAST_DTYPES.items()}


def absolute_if_local(value):
    """A string naming an existing file or folder -> its absolute path; anything else as is."""
    if isinstance(value, str) and value and Path(value).exists():
        return str(Path(value).resolve())
    return value


def member_identity(entry: dict) -> dict:
    """A normalised member entry (``upstreams.members.normalize_member``) -> its identity."""
    settings = member_settings(entry)
    config, upstream = settings.pop("config"), settings.pop("upstream")
    identity = {"label": settings.pop("name"), "kind": settings.pop("kind"), "source": config if config is not None else absolute_if_local(upstream)}
    identity.update({key: absolute_if_local(value) if key in _PATH_KEYS else value for key, value in settings.items()})
    return identity


def single_upstream_identity(module, upstream: str, ckpt: str | None, model_config: str | None) -> dict:
    """The identity of a stock or single-member upstream ``module``, built from s3prl's ``-u``,
    ``-k``, ``-g``: its kind and Whisper length mode are read from the built module."""
    kind = "whisper" if isinstance(module, WhisperEncoderUpstream) else "hf" if isinstance(module, HFSpeechUpstream) else "s3prl"
    return {
        "label": "upstream",
        "kind": kind,
        "source": upstream,
        "ckpt": absolute_if_local(ckpt),
        "model_config": absolute_if_local(model_config),
        "length_mode": getattr(module, "length_mode", None) if kind == "whisper" else None,
    }


def upstream_identities(upstream, name: str, ckpt: str | None = None, model_config: str | None = None) -> tuple[list[dict], str]:
    """(member identities, autocast name) of the upstream the runner built from ``-u name -k
    ckpt -g model_config``: a fused upstream's members, a feature cache's members as its
    manifest records them, or the single upstream itself."""
    if hasattr(upstream, "member_entries"):
        autocast = _AUTOCAST_NAMES.get(upstream.autocast_dtype, NO_AUTOCAST)
        return [member_identity(entry) for entry in upstream.member_entries], autocast
    manifest = getattr(upstream, "manifest", None)
    if manifest is not None:
        settings = manifest.settings
        return [member_identity(entry) for entry in settings["members"]], settings.get("autocast") or NO_AUTOCAST
    return [single_upstream_identity(upstream, name, ckpt, model_config)], NO_AUTOCAST
