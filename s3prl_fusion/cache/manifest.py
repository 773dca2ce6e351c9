"""manifest.json of a feature cache: what built it, its shards, and where each utterance lies.

    format:      FORMAT_VERSION (``READABLE_FORMATS`` are read: format 2, the same without stamps)
    settings:    upstream, members (``upstreams.members.member_settings`` of each entry: Whisper's
                 ``length_mode`` filled in), autocast, seed, weights_fingerprint, downsample_rate,
                 device_type; the storage form (``storage``): storage (``per-member`` | ``merged``),
                 dtype (``fp16`` | ``fp32`` | ``int8`` | ``int8-calibrated``), the members' layer_counts
                 and dims, for merged storage the stored merged_shape [L, D], and for int8-calibrated
                 int8_scales (per stored stack its shape and float16 scales, ``calibration``)
    shards:      [{name, files (one per stored stack: per member, or the merged one), checksums,
                 stamps (per file its settled [size, mtime_ns] (``checksums``), or null: readers
                 hash a shard whose stamps are null or no longer hold), bytes, errors (per stored
                 stack: squared_error, squared_value, max_abs_error of the stored values against
                 the computed float32 ones, values, and how many int8-calibrated clipped)}]
    utterances:  {key: {shard, offset (in stored rows), frames, samples, source, source_stamp
                 (the source file's settled [size, mtime_ns] when it was read, or null)}}

A build writes each rank's shards into a rank part (``manifest.rank-RRRRR.json``, one rank part
for a build on one rank): a header line (format, settings) written with the part's first shard,
then one line appended per shard ({shard, utterances}: that shard's entry and its utterances),
so a build writes the index once, whatever its length. A killed append leaves a last line cut
short, which a reader skips (its shard files are then deleted as unlisted). At the end of a
build rank 0 merges the parts into manifest.json (``merge_rank_parts``: one JSON document,
written atomically) and deletes them; the next build merges what an interrupted one left.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from s3prl_fusion.experiments.atomic_files import disk_full, write_atomically
from s3prl_fusion.cache.checksums import settled
from s3prl_fusion.cache.shards import stamps_hold
from s3prl_fusion.cache.storage import PER_MEMBER, ReconstructionError, stored_layouts
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.members import MEMBER_KEYS

MANIFEST_NAME = "manifest.json"
RANK_PART_GLOB = "manifest.rank-*.json"
FORMAT_VERSION = 3
READABLE_FORMATS = (2, 3)


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
        """manifest.json (or the rank part ``name``) of ``folder``, its appended shard lines absorbed."""
        path = Path(folder) / name
        if not path.is_file():
            raise MissingPathError(f"{folder} is not a feature cache (no {MANIFEST_NAME}); build one with `s3prl-fusion cache build`")
        manifest = cls.read(path)
        if manifest is None:
            raise SettingError(f"{path} is cut short (not JSON): delete it, and run the same `s3prl-fusion cache build` again")
        return manifest

    @classmethod
    def read(cls, path: Path) -> "Manifest | None":
        """The manifest or rank part at ``path``; None when not even its first line was written whole."""
        with open(path, "rb") as handle:
            first, *appended = handle.read().decode().split("\n")
        try:
            content = json.loads(first)
        except ValueError:
            return None
        if content.get("format") not in READABLE_FORMATS:
            raise SettingError(f"{path} has cache format {content.get('format')}, this version reads {READABLE_FORMATS}: rebuild the cache")
        manifest = cls(content["settings"], content.get("shards", []), content.get("utterances", {}))
        for line in appended[:-1]:  # the last is empty, or a line whose append was cut short
            record = json.loads(line)
            manifest.shards.append(record["shard"])
            manifest.utterances.update(record["utterances"])
        return manifest

    def save(self, folder: Path) -> None:
        """Write manifest.json atomically (temporary file, fsync, rename), keeping only the shard
        stamps that are settled and still hold (``checksums``)."""
        for shard in self.shards:
            if shard.get("stamps") and not (stamps_hold(folder, shard) and all(map(settled, shard["stamps"]))):
                shard["stamps"] = None
        content = {"format": FORMAT_VERSION, "settings": self.settings, "shards": self.shards, "utterances": self.utterances}
        write_atomically(Path(folder) / MANIFEST_NAME, lambda handle: handle.write(json.dumps(content).encode()))

    def absorb(self, part: "Manifest") -> None:
        """Add a rank part's shards and utterances (those already held stay as they are); its
        settings fill in the ones this manifest lacks (the layout a rank recorded)."""
        self.settings = {**part.settings, **self.settings}
        held = {shard["name"] for shard in self.shards}
        self.shards = sorted([*self.shards, *(shard for shard in part.shards if shard["name"] not in held)], key=lambda shard: shard["name"])
        self.utterances = {**part.utterances, **self.utterances}

    def shard(self, name: str) -> dict:
        """The entry of shard ``name`` (a scan of the shards: ``shard_index`` for many look-ups)."""
        return next(shard for shard in self.shards if shard["name"] == name)

    def shard_index(self) -> dict[str, dict]:
        """Every shard's entry by name."""
        return {shard["name"]: shard for shard in self.shards}

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


def append_to_part(folder: Path, name: str, settings: dict, shard: dict, utterances: dict[str, dict]) -> None:
    """Append one shard's line (its entry and ``utterances``) to the rank part ``name``, after the
    part's header line (format, ``settings``) when the part is new; fsynced."""
    path = Path(folder) / name
    header = "" if path.exists() else json.dumps({"format": FORMAT_VERSION, "settings": settings}) + "\n"
    line = json.dumps({"shard": shard, "utterances": utterances}) + "\n"
    with open(path, "ab", buffering=0) as handle:
        start = handle.tell()
        try:
            unwritten = memoryview((header + line).encode())
            while unwritten:
                unwritten = unwritten[handle.write(unwritten):]
            os.fsync(handle.fileno())
        except OSError as error:
            handle.truncate(start)  # no cut-off line left behind for a later append to follow
            full = disk_full(path, error)
            if full is None:
                raise
            raise full from error


def merge_rank_parts(folder: Path, manifest: Manifest, keys: list[str]) -> int:
    """Absorb every rank part in ``folder`` into ``manifest`` (see ``Manifest.absorb``), write
    manifest.json atomically, then delete the parts; returns how many parts there were. A part
    whose settings under ``keys`` differ from the manifest's is refused; one killed before its
    header line was whole holds no shard."""
    parts = sorted(Path(folder).glob(RANK_PART_GLOB))
    for path in parts:
        part = Manifest.read(path)
        if part is None:
            continue
        differences = setting_differences(manifest.settings, part.settings, [key for key in keys if key in manifest.settings])
        if differences:
            raise SettingError(f"{path} was written with other settings ({'; '.join(differences)}); build into another --out folder, or delete this one first")
        manifest.absorb(part)
    if parts:
        manifest.save(folder)
    for path in parts:
        path.unlink()
    return len(parts)
