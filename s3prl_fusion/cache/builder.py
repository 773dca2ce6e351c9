"""``build_cache``: run a fused upstream's frozen members once over audio files and store their
time-aligned stacks in shards (see ``shards``) indexed by waveform key (see ``keys``).

Re-running a build on the same folder with the same settings adds the files not yet stored,
and rebuilds shards whose files are missing or fail their checksum from the sources the
manifest recorded; different settings are refused.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import torch

from s3prl_fusion.cache.checksums import weights_fingerprint
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.manifest import Manifest, member_settings, setting_differences
from s3prl_fusion.cache.shards import ShardWriter, shard_problems
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.upstreams.fused import AUTOCAST_DTYPES, FusedUpstream

SHARD_NAME = re.compile(r"^shard-(\d+)\.m\d+\.npy$")
BUILD_SETTING_KEYS = ["upstream", "upstream_ckpt", "members", "autocast", "seed", "dtype", "weights_fingerprint", "downsample_rate", "device_type"]


def build_fused_upstream(upstream: str, ckpt: str | None, model_config: str | None, seed: int) -> FusedUpstream:
    """The fused upstream ``-u upstream -k ckpt -g model_config`` as s3prl's runner builds it:
    torch seeded with ``seed`` first (the runner's ``--seed``), so random members match."""
    from s3prl_fusion.upstreams import hub_entries

    factory = hub_entries().get(upstream)
    torch.manual_seed(seed)
    model = factory(ckpt=ckpt, model_config=model_config) if factory else None
    if not isinstance(model, FusedUpstream):
        raise ValueError(
            f"-u {upstream} is not a fused upstream: the cache stores fused upstreams' member stacks. "
            "Use -u fused (members from -k/-g; one model: -u fused -k wavlm_base_plus) or a fused_* preset"
        )
    return model


def cache_settings(fused: FusedUpstream, upstream: str, ckpt: str | None, seed: int, dtype: str, device: torch.device) -> dict:
    autocast = {value: key for key, value in AUTOCAST_DTYPES.items()}.get(fused.autocast_dtype, "none")
    return {
        "upstream": upstream,
        "upstream_ckpt": ckpt,
        "members": [member_settings(entry) for entry in fused.member_entries],
        "autocast": autocast,
        "seed": seed,
        "dtype": dtype,
        "weights_fingerprint": weights_fingerprint(fused),
        "downsample_rate": fused.get_downsample_rates("hidden_states"),
        "device_type": device.type,
    }


def _open_or_start(out: Path, settings: dict, log: Callable[[str], None]) -> tuple[Manifest, list[str]]:
    """The folder's manifest (checked against ``settings``, damaged shards dropped) or a new one;
    also the sources of the utterances that were in dropped shards."""
    if not (out / "manifest.json").is_file():
        return Manifest(dict(settings)), []
    manifest = Manifest.load(out)
    differences = setting_differences(manifest.settings, settings, BUILD_SETTING_KEYS)
    if differences:
        raise ValueError(
            f"the cache {out} was built with other settings ({'; '.join(differences)}); "
            "build into another --out folder, or delete this one first"
        )
    rerun = []
    for shard in list(manifest.shards):
        problems = shard_problems(out, shard)
        if problems:
            log(f"shard {shard['name']}: {'; '.join(problems)}: rebuilding its utterances")
            rerun += [entry["source"] for entry in manifest.utterances.values() if entry["shard"] == shard["name"]]
            manifest.drop_shard(shard["name"])
    kept = {file_name for shard in manifest.shards for file_name in shard["files"]}
    for path in out.glob("shard-*.npy"):
        if path.name not in kept:
            path.unlink()
    return manifest, rerun


def _next_shard_index(manifest: Manifest) -> int:
    numbers = [int(SHARD_NAME.match(name).group(1)) for shard in manifest.shards for name in shard["files"]]
    return max(numbers, default=-1) + 1


def _record_layout(manifest: Manifest, stacks: list[torch.Tensor]) -> None:
    layout = {"layer_counts": [stack.size(0) for stack in stacks], "dims": [stack.size(-1) for stack in stacks]}
    differences = setting_differences(manifest.settings, layout, list(layout)) if "dims" in manifest.settings else []
    if differences:
        raise ValueError(f"the members now return stacks of another shape than the cache holds ({'; '.join(differences)})")
    manifest.settings.update(layout)


def build_cache(
    fused: FusedUpstream,
    settings: dict,
    files: list[Path],
    out: Path,
    device: torch.device,
    batch_size: int = 1,
    shard_mb: float = 256,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Store ``fused``'s aligned stacks of every file in ``files`` under ``out``.

    Args:
        fused: the fused upstream, on ``device``; run in eval mode without autograd.
        settings: ``cache_settings(...)`` of that upstream.
        files: audio files (mono, 16 kHz).
        batch_size: utterances per member forward; every member gives each utterance the
            features it gets alone, so this trades only speed against memory.
        shard_mb: approximate size of one shard.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest, rerun = _open_or_start(out, settings, log)
    sources = list(dict.fromkeys([*map(str, files), *rerun]))
    writer = ShardWriter(out, settings["dtype"], int(shard_mb * 2**20))
    shard_index = _next_shard_index(manifest)
    fused.eval()

    def flush() -> None:
        nonlocal shard_index
        shard, index = writer.flush(f"shard-{shard_index:05d}")
        manifest.shards.append(shard)
        manifest.utterances.update(index)
        manifest.save(out)
        log(f"wrote {shard['name']}: {len(index)} utterances, {sum(shard['bytes']) / 2**20:.1f} MiB ({len(manifest.utterances)} stored)")
        shard_index += 1

    def encode(batch: list[tuple[str, torch.Tensor, str]]) -> None:
        with torch.no_grad():
            features = fused([wav.to(device) for _, wav, _ in batch])
        stacks, lengths = features["fusion_stacks"], features["fusion_lengths"].tolist()
        _record_layout(manifest, stacks)
        for position, (key, wav, source) in enumerate(batch):
            arrays = [stack[:, position, : lengths[position]].permute(1, 0, 2).cpu().numpy() for stack in stacks]
            writer.add(key, arrays, wav.numel(), source)
            if writer.full:
                flush()

    batch, queued = [], set()
    for source in sources:
        wav = read_waveform(Path(source))
        key = waveform_key(wav)
        if key in manifest.utterances or key in queued:
            continue
        queued.add(key)
        batch.append((key, wav, source))
        if len(batch) == batch_size:
            encode(batch)
            batch = []
    if batch:
        encode(batch)
    if not writer.empty:
        flush()
    manifest.save(out)
    return manifest
