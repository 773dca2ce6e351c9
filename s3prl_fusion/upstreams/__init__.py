"""The plugin's own upstream names (``-u``) and their factories, which take s3prl's upstream
arguments ``(ckpt, model_config, refresh)``.

``upstream_factories`` maps the names to their factories; ``s3prl_fusion.s3prl_adapter.patches.registration`` adds the
feature cache's (``fused_cache``) to make the table registered in s3prl's hub. ``-g``
(model_config) is a YAML file of options (see ``members``), e.g. to build a randomly initialised
member from a config, or to pick Whisper's length mode.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import yaml
from torch import nn

from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.members import build_member, normalize_member
from s3prl_fusion.upstreams.presets import PRESETS
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

WHISPER_SIZE_NAMES = tuple(WHISPER_SIZES)


def read_upstream_options(model_config: str | None) -> dict:
    """The ``-g`` YAML file as a dict ({} when not given)."""
    if model_config is None:
        return {}
    path = Path(model_config)
    if not path.is_file():
        raise MissingPathError(f"upstream config (-g) {model_config} does not exist")
    options = yaml.safe_load(path.read_text()) or {}
    if not isinstance(options, dict):
        raise SettingError(f"upstream config (-g) {model_config} must hold a mapping of options")
    return options


def _single_member_factory(kind: str, upstream: str | None, doc: str) -> Callable[..., nn.Module]:
    def factory(ckpt: str | None = None, model_config: str | None = None, refresh: bool = False, **kwargs) -> nn.Module:
        entry = {"kind": kind, "upstream": upstream or ckpt, **read_upstream_options(model_config)}
        if upstream is not None and ckpt is not None:
            entry["ckpt"] = ckpt
        if entry["upstream"] is None and entry.get("config") is None:
            raise SettingError("this upstream needs -k (a Hugging Face id or local directory) or -g with a `config`")
        return build_member(normalize_member(entry))

    factory.__doc__ = doc
    return factory


def fused_member_entries(upstream: str, ckpt: str | None, model_config: str | None) -> tuple[list[dict | str], str | None]:
    """(members, autocast) of the fused upstream ``-u upstream -k ckpt -g model_config``, where
    ``upstream`` is ``fused`` (members from -k, comma-separated, or -g's ``members:``) or a preset
    (its members, with -g's per-member overrides); nothing is built."""
    options = read_upstream_options(model_config)
    if upstream == "fused":
        members = options.get("members")
        if members is None and ckpt:
            members = [name.strip() for name in ckpt.split(",") if name.strip()]
        if not members:
            raise SettingError("-u fused needs its members: -k wavlm_base_plus,whisper_small or -g members.yaml with a `members:` list")
        return members, options.get("autocast")
    if ckpt:
        raise SettingError(f"{upstream} takes no -k; give per-member options (ckpt, config, length_mode) with -g")
    return merge_member_overrides(PRESETS[upstream], options.get("members")), options.get("autocast")


def _fused_factory(ckpt: str | None = None, model_config: str | None = None, refresh: bool = False, **kwargs) -> FusedUpstream:
    """Fused upstream with members from -k (comma-separated names) or -g (YAML with `members:`)."""
    members, autocast = fused_member_entries("fused", ckpt, model_config)
    return FusedUpstream(members, autocast=autocast)


def _preset_factory(preset: str) -> Callable[..., FusedUpstream]:
    def factory(ckpt: str | None = None, model_config: str | None = None, refresh: bool = False, **kwargs) -> FusedUpstream:
        members, autocast = fused_member_entries(preset, ckpt, model_config)
        return FusedUpstream(members, autocast=autocast)

    factory.__doc__ = f"Fused upstream: {' + '.join(member['upstream'] for member in PRESETS[preset])}"
    return factory


def merge_member_overrides(members: list[dict], overrides: list[dict] | None) -> list[dict]:
    """Apply ``-g``'s per-member options, given in member order, onto a preset's members."""
    if overrides is None:
        return [dict(member) for member in members]
    if len(overrides) != len(members):
        raise SettingError(f"-g lists {len(overrides)} member override(s) but the preset has {len(members)} members")
    return [{**member, **(override or {})} for member, override in zip(members, overrides)]


def upstream_factories() -> dict[str, Callable[..., nn.Module]]:
    """The plugin's own upstream names with their factories: whisper_<size> (``whisper_sizes``),
    whisper and hf_ssl (from -k), fused and the presets."""
    factories = {
        f"whisper_{size}": _single_member_factory("whisper", f"whisper_{size}", f"Whisper {size} encoder")
        for size in WHISPER_SIZE_NAMES
    }
    factories["whisper"] = _single_member_factory("whisper", None, "Whisper encoder from -k (id or path)")
    factories["hf_ssl"] = _single_member_factory("hf", None, "Hugging Face speech SSL encoder from -k (id or path)")
    factories["fused"] = _fused_factory
    factories.update({name: _preset_factory(name) for name in PRESETS})
    return factories
