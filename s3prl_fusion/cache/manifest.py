"""manifest.json of a feature cache: what built it, its shards, and where each utterance lies.

    format:      FORMAT_VERSION
    settings:    upstream, members (``upstreams.members.member_settings`` of each entry: Whisper's
                 ``length_mode`` filled in), autocast, seed, weights_fingerprint, downsample_rate,
                 device_type; the storage form (``storage``): storage (``per-member`` | ``merged``),
                 dtype (``fp16`` | ``fp32`` | ``int8`` | ``int8-calibrated``), the members' layer_counts
                 and dims, for merged storage the stored merged_shape [L, D], and for int8-calibrated
                 int8_scales (per stored stack its shape and float16 scales, ``calibration``)
    shards:      [{name, files (one per stored stack: per member, or the merged one), checksums,
                 bytes, errors (per stored stack: squared_error, squared_value, max_abs_error of
                 the stored values against the computed float32 ones, values, and how many
                 int8-calibrated clipped)}]
    utterances:  {key: {shard, offset (in stored rows), frames, samples, source}}
The manifest is rewritten atomically after every shard, so an interrupted build leaves a
consistent cache that the next build completes. A build on several ranks (``ranks``) keeps one
rank part per rank instead (``manifest.rank-RRRRR.json``, the same format, holding that rank's
shards and utterances), rewritten after each of its shards; rank 0 merges the parts into
manifest.json at the end (``merge_rank_parts``), and the next build merges what an interrupted
one left.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.cache.storage import PER_MEMBER, ReconstructionError, stored_layouts
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.members import MEMBER_KEYS

MANIFEST_NAME = "manifest.json"
RANK_PART_GLOB = "manifest.rank-*.json"
FORMAT_VERSION = 2


def rank_part_name(rank: int) -> str:
    """The file name of rank ``rank``'s part of the manifest."""
    return f"manifest.rank-{rank:05d}.json"


def setting_differences(stored: dict, wanted: dict, keys: list[str]) -> list[str]:
    """``"key: cache X vs wanted Y"`` for every key in ``keys`` whose values differ."""
    return [f"{key}: cache {stored.get(key)!r} vs {wanted.get(key)!r}" for key in keys if stored.get(key) != wanted.get(key)]


def member_differences(stored: list[dict], wanted: list[dict]) -> list[str]:
    """What differs between two lists of member settings, member by member."""
    if len(stored) != len(wanted):
        return [f"the cache holds {len(stored)} member(s) {[m['name'] for m in stored]}, not {len(wanted)} {[m['name'] for m in wanted]}"]
    differences = []
    for index, (cached, declared) in enumerate(zip(stored, wanted)):
        differences += [f"member {index} ({cached['name']}) {text}" for text in setting_differences(cached, declared, sorted(MEMBER_KEYS))]
    return differences


@dataclass
class Manifest:
    settings: dict
    shards: list[dict] = field(default_factory=list)
    utterances: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, name: str = MANIFEST_NAME) -> "Manifest":
        path = Path(folder) / name
        if not path.is_file():
            raise MissingPathError(f"{folder} is not a feature cache (no {MANIFEST_NAME}); build one with `s3prl-fusion cache build`")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_VERSION:
            raise SettingError(f"{path} has cache format {data.get('format')}, this version reads {FORMAT_VERSION}: rebuild the cache")
        return cls(data["settings"], data["shards"], data["utterances"])

    def save(self, folder: Path, name: str = MANIFEST_NAME) -> None:
        """Write manifest.json (or the rank part ``name``) atomically (temporary file, fsync, rename)."""
        content = {"format": FORMAT_VERSION, "settings": self.settings, "shards": self.shards, "utterances": self.utterances}
        write_atomically(Path(folder) / name, lambda handle: handle.write(json.dumps(content).encode()))

    def absorb(self, part: "Manifest") -> None:
        """Add a rank part's shards and utterances (those already held stay as they are); its
        settings fill in the ones this manifest lacks (the layout a rank recorded)."""
        self.settings = {**part.settings, **self.settings}
        held = {shard["name"] for shard in self.shards}
        self.shards = sorted([*self.shards, *(shard for shard in part.shards if shard["name"] not in held)], key=lambda shard: shard["name"])
        self.utterances = {**part.utterances, **self.utterances}

    def shard(self, name: str) -> dict:
        return next(shard for shard in self.shards if shard["name"] == name)

    def drop_shard(self, name: str) -> None:
        """Forget a shard and every utterance stored in it."""
        self.shards = [shard for shard in self.shards if shard["name"] != name]
        self.utterances = {key: entry for key, entry in self.utterances.items() if entry["shard"] != name}

    def hours_of_audio(self) -> float:
        return sum(entry["samples"] for entry in self.utterances.values()) / SAMPLE_RATE / 3600

    def stored_stacks(self) -> list[tuple[str, int, int]]:
        """(label, layers, dim) of each stack the shards hold: every member's, or the merged one."""
        settings = self.settings
        names = [member["name"] for member in settings["members"]]
        labels = names if settings["storage"] == PER_MEMBER else [f"merged ({' + '.join(names)})"]
        layouts = stored_layouts(settings["storage"], settings["layer_counts"], settings["dims"])
        return [(label, layers, dim) for label, (layers, dim) in zip(labels, layouts)]

    def bytes_per_member(self) -> list[int]:
        """Bytes of the shard files per stored stack (per member, or the merged stack's alone)."""
        return [sum(shard["bytes"][index] for shard in self.shards) for index in range(len(self.stored_stacks()))]

    def reconstruction_errors(self) -> list[ReconstructionError]:
        """Per stored stack, its stored values against the computed float32 ones over every shard."""
        totals = [ReconstructionError() for _ in self.stored_stacks()]
        for shard in self.shards:
            for total, recorded in zip(totals, shard["errors"]):
                total += ReconstructionError(**recorded)
        return totals

    def disk_usage_lines(self) -> list[str]:
        """The storage form, then per stored stack: bytes and MiB per hour of audio (from the shard
        files' sizes) and the reconstruction error measured when it was built."""
        hours = self.hours_of_audio()
        settings = self.settings
        lines = [f"{len(self.utterances)} utterances, {hours * 3600:.1f} s of audio, storage {settings['storage']}, dtype {settings['dtype']}"]
        for (label, layers, dim), stored, error in zip(self.stored_stacks(), self.bytes_per_member(), self.reconstruction_errors()):
            per_hour = stored / 2**20 / hours if hours else float("nan")
            lines.append(f"  {label:<28} {f'{layers} x {dim}':>11}  {stored / 2**20:10.1f} MiB  {per_hour:10.1f} MiB per hour of audio")
            lines.append(f"    {error.describe(settings['dtype'])}")
        return lines


def merge_rank_parts(folder: Path, manifest: Manifest, keys: list[str]) -> int:
    """Absorb every rank part in ``folder`` into ``manifest`` (see ``Manifest.absorb``), write
    manifest.json atomically, then delete the parts; returns how many parts there were. A part
    whose settings under ``keys`` differ from the manifest's is refused."""
    parts = sorted(Path(folder).glob(RANK_PART_GLOB))
    for path in parts:
        part = Manifest.load(folder, path.name)
        differences = setting_differences(manifest.settings, part.settings, [key for key in keys if key in manifest.settings])
        if differences:
            raise SettingError(f"{path} was written with other settings ({'; '.join(differences)}); build into another --out folder, or delete this one first")
        manifest.absorb(part)
    if parts:
        manifest.save(folder)
    for path in parts:
        path.unlink()
    return len(parts)
