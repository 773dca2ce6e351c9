"""``build_cache``: run a fused upstream's frozen members once over audio files and store their
time-aligned stacks, in the cache's storage form (see ``storage``), in shards (see ``shards``)
indexed by waveform key (see ``keys``).

Files are encoded longest first in length-bucketed batches (``batches``). Under a launcher
(``ranks``) each rank encodes every WORLD_SIZE-th file of that order into its own shards
(rank r of W numbers its shards first + r, first + r + W, ...: names no other rank uses) and its
own rank part of the manifest (one line appended per shard, see ``manifest``); rank 0 merges the
parts into manifest.json after all ranks are done.

Re-running a build on the same folder with the same settings (on any number of ranks) merges
the rank parts an interrupted build left, keeps every intact shard (each hashed once, by rank 0),
adds the files not yet stored, and rebuilds shards whose files are missing or fail their checksum
from the sources the manifest recorded; different settings are refused. A stored file whose
stamp ([size, mtime_ns], ``checksums``) still matches the one recorded when it was read is not
decoded again; any other file is decoded and looked up by its waveform key, so a changed file is
encoded again. A build that fills its disk stops with the space free and roughly what it still
needs (``DiskFullError``); once space is freed, the same command resumes.
"""
from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Callable

import torch

from s3prl_fusion.experiments.atomic_files import DiskFullError, readable_size, remove_partial_writes
from s3prl_fusion.audio.loading import info
from s3prl_fusion.cache.batches import BatchLimits, length_batches
from s3prl_fusion.cache.calibration import CALIBRATION_UTTERANCES, SCALES_KEY, calibrate, recorded_scales
from s3prl_fusion.cache.checksums import file_stamp, settled, weights_fingerprint
from s3prl_fusion.cache.encoding import stored_arrays
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.manifest import MANIFEST_NAME, Manifest, append_to_part, merge_rank_parts, rank_part_name, setting_differences
from s3prl_fusion.cache.ranks import ONE_RANK, Ranks
from s3prl_fusion.cache.shards import ShardWriter, verify_and_stamp
from s3prl_fusion.cache.sources import longest_first, read_waveform
from s3prl_fusion.cache.storage import INT8_CALIBRATED, PER_MEMBER, block_bytes, layout_settings, stored_layouts
from s3prl_fusion.errors import SettingError, UnknownNameError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams import upstream_factories
from s3prl_fusion.upstreams.fused import AUTOCAST_DTYPES, FusedUpstream
from s3prl_fusion.upstreams.members import member_settings

SHARD_NAME = re.compile(r"^shard-(\d+)\.m\d+\.npy$")
BUILD_SETTING_KEYS = [
    "upstream", "upstream_ckpt", "members", "autocast", "seed", "storage", "dtype", "weights_fingerprint", "downsample_rate", "device_type",
]
LAYOUT_KEYS = ["layer_counts", "dims", "merged_shape"]
RECORDED_KEYS = [*LAYOUT_KEYS, SCALES_KEY]  # what a build records from the members, the same on every rank
# How tests interrupt a build at a known point: "RANK:SHARDS" makes that rank SIGKILL itself once
# it has written SHARDS shards, as a crash would.
CRASH_AFTER_SHARDS_ENV = "S3PRL_FUSION_CACHE_CRASH_AFTER_SHARDS"


def build_fused_upstream(upstream: str, ckpt: str | None, model_config: str | None, seed: int) -> FusedUpstream:
    """The fused upstream ``-u upstream -k ckpt -g model_config`` as s3prl's runner builds it:
    torch seeded with ``seed`` first (the runner's ``--seed``), so random members match."""
    factory = upstream_factories().get(upstream)
    torch.manual_seed(seed)
    model = factory(ckpt=ckpt, model_config=model_config) if factory else None
    if not isinstance(model, FusedUpstream):
        raise UnknownNameError(
            f"-u {upstream} is not a fused upstream: the cache stores fused upstreams' member stacks. "
            "Use -u fused (members from -k/-g; one model: -u fused -k wavlm_base_plus) or a fused_* preset"
        )
    return model


def cache_settings(
    fused: FusedUpstream, upstream: str, ckpt: str | None, seed: int, dtype: str, device: torch.device, storage: str = PER_MEMBER
) -> dict:
    """What a build records and checks: the members, their weights, the run's settings and the
    storage form (``storage.STORAGE_FORMS``, ``storage.DTYPES``)."""
    autocast = {value: key for key, value in AUTOCAST_DTYPES.items()}.get(fused.autocast_dtype, "none")
    return {
        "upstream": upstream,
        "upstream_ckpt": ckpt,
        "members": [member_settings(entry) for entry in fused.member_entries],
        "autocast": autocast,
        "seed": seed,
        "storage": storage,
        "dtype": dtype,
        "weights_fingerprint": weights_fingerprint(fused),
        "downsample_rate": fused.get_downsample_rates("hidden_states"),
        "device_type": device.type,
    }


def _open_or_start(out: Path, settings: dict, log: Callable[[str], None]) -> tuple[Manifest, list[str]]:
    """The folder's manifest (checked against ``settings``, rank parts merged in, every shard hashed
    and stamped or, when damaged, dropped; files no shard lists deleted) or a new one; also the
    sources of the utterances that were in dropped shards."""
    manifest = Manifest.load(out) if (out / MANIFEST_NAME).is_file() else Manifest(dict(settings))
    differences = setting_differences(manifest.settings, settings, BUILD_SETTING_KEYS)
    if differences:
        raise SettingError(
            f"the cache {out} was built with other settings ({'; '.join(differences)}); "
            "build into another --out folder, or delete this one first"
        )
    merge_rank_parts(out, manifest, [*BUILD_SETTING_KEYS, *RECORDED_KEYS])
    rerun = []
    for shard in list(manifest.shards):
        problems = verify_and_stamp(out, shard)
        if problems:
            log(f"shard {shard['name']}: {'; '.join(problems)}: rebuilding its utterances")
            rerun += [entry["source"] for entry in manifest.utterances.values() if entry["shard"] == shard["name"]]
            manifest.drop_shard(shard["name"])
    kept = {file_name for shard in manifest.shards for file_name in shard["files"]}
    for path in out.glob("shard-*.npy"):
        if path.name not in kept:
            path.unlink()
    remove_partial_writes(out)
    return manifest, rerun


def _next_shard_index(manifest: Manifest) -> int:
    numbers = [int(SHARD_NAME.match(name).group(1)) for shard in manifest.shards for name in shard["files"]]
    return max(numbers, default=-1) + 1


def _record_layout(manifest: Manifest, stacks: list[torch.Tensor]) -> None:
    layout = layout_settings(manifest.settings["storage"], stacks)
    differences = setting_differences(manifest.settings, layout, list(layout)) if "dims" in manifest.settings else []
    if differences:
        raise SettingError(f"the members now return stacks of another shape than the cache holds ({'; '.join(differences)})")
    manifest.settings.update(layout)


def _out_of_space(error: DiskFullError, out: Path, part: Manifest, sources: list[str]) -> DiskFullError:
    """``error`` with what the build of ``sources`` into ``out`` still needs, roughly: the stored
    stacks' bytes per frame (``storage.block_bytes``) x the frames of the files not stored yet."""
    stored = {entry["source"] for entry in part.utterances.values()}
    samples = [info(source).num_frames for source in sources if source not in stored]
    settings = part.settings
    frames = sum(samples) // int(settings["downsample_rate"])
    layouts = stored_layouts(settings["storage"], settings["layer_counts"], settings["dims"])
    needed = sum(block_bytes(settings["dtype"], frames, len(samples), layers, dim) for layers, dim in layouts)
    return DiskFullError(
        f"{error}. The cache {out} still needs roughly {readable_size(needed)} for the {len(samples)} files "
        f"({sum(samples) / SAMPLE_RATE / 3600:.2f} h of audio) not stored yet: free space there and run the same "
        f"command again: it resumes, keeping the {len(part.utterances)} utterances already stored"
    )


def _crash_after_shards(ranks: Ranks) -> int | None:
    """The shard count after which this rank kills itself (``CRASH_AFTER_SHARDS_ENV``), if any."""
    rank, _, shards = os.environ.get(CRASH_AFTER_SHARDS_ENV, "").partition(":")
    return int(shards) if rank and int(rank) == ranks.rank else None


def build_cache(
    fused: FusedUpstream,
    settings: dict,
    files: list[Path],
    out: Path,
    device: torch.device,
    limits: BatchLimits | None = None,
    shard_mb: float = 256,
    log: Callable[[str], None] = print,
    ranks: Ranks = ONE_RANK,
    calibration_utterances: int = CALIBRATION_UTTERANCES,
) -> Manifest:
    """Store ``fused``'s aligned stacks of every file in ``files`` under ``out``.

    Args:
        fused: the fused upstream, on ``device``; run in eval mode without autograd.
        settings: ``cache_settings(...)`` of that upstream.
        files: audio files (mono, 16 kHz); every rank passes the same list.
        limits: at most how many utterances and seconds of padded audio go through the members in
            one forward (None: ``BatchLimits.default_for(device.type)``); every member gives each
            utterance the features it gets alone, so this trades only speed against memory.
        shard_mb: approximate size of one shard.
        ranks: this process's rank of a launched build (process group started); one rank by default.
        calibration_utterances: for int8-calibrated, how many files set the cache's scales (``calibration``);
            a build into a folder that has scales keeps them.
    Returns:
        the folder's manifest once every rank is done.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    limits = limits or BatchLimits.default_for(device.type)
    log(f"encoding longest first in {limits.describe()}")
    manifest, rerun = ranks.from_rank_zero(lambda: _open_or_start(out, settings, log))
    differences = setting_differences(manifest.settings, settings, BUILD_SETTING_KEYS)
    if differences:
        raise SettingError(f"rank {ranks.rank} runs other members than rank 0 ({'; '.join(differences)}): every rank must load the same ones")
    fused.eval()
    sources = list(dict.fromkeys([*map(str, files), *rerun]))
    if settings["dtype"] == INT8_CALIBRATED and SCALES_KEY not in manifest.settings:
        manifest.settings[SCALES_KEY] = ranks.from_rank_zero(
            lambda: calibrate(fused, sources, settings["storage"], device, limits, calibration_utterances, log)
        )
    part, part_name = Manifest(dict(manifest.settings)), rank_part_name(ranks.rank)
    recorded = {entry["source"]: entry.get("source_stamp") for entry in manifest.utterances.values()}
    ordered = ranks.share([source for source in sources if source in recorded])
    ordered += ranks.share(longest_first([source for source in sources if source not in recorded]))
    writer = ShardWriter(out, settings["dtype"], int(shard_mb * 2**20), recorded_scales(manifest.settings))
    first_index, written = _next_shard_index(manifest), 0
    crash_after = _crash_after_shards(ranks)

    def flush() -> None:
        nonlocal written
        shard, index = writer.flush(f"shard-{first_index + ranks.rank + written * ranks.world_size:05d}")
        part.shards.append(shard)
        part.utterances.update(index)
        append_to_part(out, part_name, part.settings, shard, index)
        log(f"wrote {shard['name']}: {len(index)} utterances, {sum(shard['bytes']) / 2**20:.1f} MiB ({len(part.utterances)} stored)")
        written += 1
        if written == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def encode(batch: list[tuple[str, torch.Tensor, str, list[int] | None]]) -> None:
        stacks, utterances = stored_arrays(fused, [wav for _, wav, _, _ in batch], device, settings["storage"])
        _record_layout(part, stacks)
        for (key, wav, source, stamp), arrays in zip(batch, utterances):
            writer.add(key, arrays, wav.numel(), source, stamp)
            if writer.full:
                flush()

    def unstored():
        """(key, waveform, source, its settled stamp or None) of each file not stored yet."""
        queued = set()
        for source in ordered:
            stamp = file_stamp(Path(source))  # before the read: a change while it is read moves the stamp
            if recorded.get(source) == stamp:
                continue
            wav = read_waveform(Path(source))
            key = waveform_key(wav)
            if key not in manifest.utterances and key not in queued:
                queued.add(key)
                yield key, wav, source, stamp if settled(stamp) else None

    try:
        for batch in length_batches(unstored(), lambda item: item[1].numel(), limits):
            encode(batch)
        if not writer.empty:
            flush()
    except DiskFullError as error:
        raise _out_of_space(error, out, part, ordered) from error
    ranks.barrier()
    if ranks.rank == 0 and not merge_rank_parts(out, manifest, [*BUILD_SETTING_KEYS, *RECORDED_KEYS]):
        manifest.save(out)
    ranks.barrier()
    return Manifest.load(out) if ranks.distributed else manifest

