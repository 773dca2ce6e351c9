"""``-u fused_cache -k CACHE_DIR [-g members.yaml]``: the fused upstream's output, read from a cache.

Returns the same ``FusedFeatures`` as the fused upstream that built the cache (``fusion_stacks``
N x (L_i, B, T, D_i) float32, ``fusion_lengths``, ``fusion_members``), read from memory-mapped
shards (int8 dequantized to float32 by its scales) into memory kept between batches (``buffers``): no member runs. A cache of merged storage (see
``storage``) holds HConv's merged stack instead and returns it as ``fusion_merged`` (L, B, T, D)
float32 with ``fusion_lengths`` and ``fusion_members``; only HConv's convs read it (see
``featurizer``). ``-g`` declares the members expected (the ``members:`` / ``autocast:``
file given to ``-u fused``); a cache built for others is refused with what differs. A
waveform that is not in the cache raises ``CacheMissError``: the cache holds the exact
waveforms of the files it was built from.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from s3prl_fusion.cache.buffers import ReusedBuffers
from s3prl_fusion.cache.calibration import recorded_scales
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.manifest import Manifest, member_differences, setting_differences
from s3prl_fusion.cache.shards import open_shard
from s3prl_fusion.cache.storage import MERGED, MERGED_FEATURE, decode_into, stored_layouts, stored_rows
from s3prl_fusion.errors import SettingError, UserError
from s3prl_fusion.upstreams import read_upstream_options
from s3prl_fusion.upstreams.fused import FusedFeatures
from s3prl_fusion.upstreams.members import member_settings, normalize_member


class CacheMissError(UserError, KeyError):
    """A waveform the cache does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


class CacheSettingsMismatch(UserError, ValueError):
    """The cache was built for other members or settings than the run declares."""


def check_declared(manifest: Manifest, folder: Path, declared: dict) -> None:
    """Refuse a cache whose members or autocast differ from the declared ``-g`` options."""
    members = declared.get("members")
    if not members:
        raise SettingError("the -g file given to -u fused_cache must list the expected `members:` (the file given to -u fused)")
    wanted = [member_settings(normalize_member(member)) for member in members]
    differences = member_differences(manifest.settings["members"], wanted)
    differences += setting_differences(manifest.settings, {"autocast": declared.get("autocast") or "none"}, ["autocast"])
    if differences:
        raise CacheSettingsMismatch(
            f"the cache {folder} was built for other members or settings than -g declares: {'; '.join(differences)}. "
            "Build a cache for these members (`s3prl-fusion cache build`) or run them on the fly (-u fused)"
        )


class CachedFusedUpstream(nn.Module):
    """Reads a feature cache in the fused upstream's output format.

    Args:
        folder: the cache folder (with manifest.json).
        declared: the ``-g`` options (``members``, ``autocast``) the cache must match, or None.
    """

    def __init__(self, folder: str | Path, declared: dict | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.manifest = Manifest.load(self.folder)
        if declared is not None:
            check_declared(self.manifest, self.folder, declared)
        settings = self.manifest.settings
        self.member_names = [member["name"] for member in settings["members"]]
        self.layer_counts = list(settings["layer_counts"])
        self.dims = list(settings["dims"])
        self.storage, self.dtype = settings["storage"], settings["dtype"]
        self.stored_layouts = stored_layouts(self.storage, self.layer_counts, self.dims)
        scales = recorded_scales(settings)
        self._scales = [torch.from_numpy(values) for values in scales] if scales else [None] * len(self.stored_layouts)
        self.downsample_rate = int(settings["downsample_rate"])
        self._shards = self.manifest.shard_index()
        self._open_shards: dict[str, list[np.ndarray]] = {}
        self._decode_memory = ReusedBuffers()

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return self.downsample_rate

    def fusion_layout(self) -> tuple[list[str], list[int], list[int]]:
        """(member names, layer counts, dims), known without a forward: a probe waveform is never cached."""
        return list(self.member_names), list(self.layer_counts), list(self.dims)

    def _stored_arrays(self, shard_name: str) -> list[np.ndarray]:
        """The shard's memory maps, one per stored stack, checked on first use in this process (``shards.open_shard``:
        by its stamps where they hold, else by hashing its files)."""
        if shard_name not in self._open_shards:
            self._open_shards[shard_name] = open_shard(self.folder, self._shards[shard_name])
        return self._open_shards[shard_name]

    def _lookup(self, wavs: list[Tensor]) -> list[dict]:
        keys = [waveform_key(wav) for wav in wavs]
        missing = [index for index, key in enumerate(keys) if key not in self.manifest.utterances]
        if missing:
            raise CacheMissError(
                f"{len(missing)} of {len(wavs)} waveforms are not in the feature cache {self.folder} (first: utterance "
                f"{missing[0]}, {wavs[missing[0]].numel()} samples). The cache holds the exact waveforms of the files "
                f"it was built from ({len(self.manifest.utterances)} utterances): build it over the files this run reads "
                "(`s3prl-fusion cache build ... --data <split>`), or run the members on the fly (-u fused). Tasks that "
                "crop, perturb or resample audio on the fly (e.g. sv_voxceleb1's random crops) cannot use a feature cache"
            )
        return [self.manifest.utterances[key] for key in keys]

    def forward(self, wavs: list[Tensor]) -> FusedFeatures | dict:
        """wavs: B (samples,) 16 kHz waveforms -> FusedFeatures with N stacks (L_i, B, T, D_i), or for
        merged storage a dict with ``fusion_merged`` (L, B, T, D); float32 on the waveforms' device,
        zero beyond each utterance's ``fusion_lengths``."""
        entries = self._lookup(wavs)
        lengths = torch.tensor([entry["frames"] for entry in entries], dtype=torch.long)
        frames = int(lengths.max())
        # every value is written once: the utterance's frames decoded in place, the padding zeroed
        stacks = self._decode_memory.take([(layers, len(wavs), frames, dim) for layers, dim in self.stored_layouts])
        for position, entry in enumerate(entries):
            arrays = self._stored_arrays(entry["shard"])
            span = slice(entry["offset"], entry["offset"] + stored_rows(self.dtype, entry["frames"]))
            for stack, array, scales in zip(stacks, arrays, self._scales):
                decode_into(array[span], self.dtype, stack[:, position, : entry["frames"]].permute(1, 0, 2), scales)
                stack[:, position, entry["frames"] :].zero_()
        device = wavs[0].device
        stacks = [stack.to(device) for stack in stacks]  # on a GPU a copy: the host buffer is free again
        common = {"fusion_lengths": lengths.to(device), "fusion_members": list(self.member_names)}
        if self.storage == MERGED:
            return {MERGED_FEATURE: stacks[0], **common}
        return FusedFeatures(fusion_stacks=stacks, **common)


def cached_fused_factory(ckpt: str | None = None, model_config: str | None = None, refresh: bool = False, **kwargs) -> CachedFusedUpstream:
    """Fused upstream read from a feature cache: -k CACHE_DIR, optionally -g the expected members."""
    if not ckpt:
        raise SettingError("-u fused_cache needs -k CACHE_DIR, a folder written by `s3prl-fusion cache build`")
    return CachedFusedUpstream(ckpt, read_upstream_options(model_config) if model_config else None)
