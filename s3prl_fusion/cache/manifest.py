"""manifest.json of a feature cache: what built it, its shards, and where each utterance lies.

    format:      FORMAT_VERSION
    settings:    upstream, members (entries as in ``upstreams.members``, Whisper's
                 ``length_mode`` filled in), autocast, seed, dtype, weights_fingerprint,
                 layer_counts, dims, downsample_rate, device_type
    shards:      [{name, files (one per member), checksums, bytes}]
    utterances:  {key: {shard, offset, frames, samples, source}}
The manifest is rewritten atomically after every shard, so an interrupted build leaves a
consistent cache that the next build completes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from s3prl_fusion.atomic import write_atomically
from s3prl_fusion.upstreams.members import MEMBER_KEYS

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
DEFAULT_WHISPER_LENGTH_MODE = "exact"


def member_settings(entry: dict) -> dict:
    """A normalized member entry -> every member key, with Whisper's default length mode filled in."""
    settings = {key: entry.get(key) for key in sorted(MEMBER_KEYS)}
    if entry["kind"] == "whisper":
        settings["length_mode"] = entry.get("length_mode") or DEFAULT_WHISPER_LENGTH_MODE
    return settings


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
    def load(cls, folder: Path) -> "Manifest":
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a feature cache (no {MANIFEST_NAME}); build one with `s3prl-fusion cache build`")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path} has cache format {data.get('format')}, this version reads {FORMAT_VERSION}: rebuild the cache")
        return cls(data["settings"], data["shards"], data["utterances"])

    def save(self, folder: Path) -> None:
        """Write manifest.json atomically (temporary file, fsync, rename)."""
        content = {"format": FORMAT_VERSION, "settings": self.settings, "shards": self.shards, "utterances": self.utterances}
        write_atomically(Path(folder) / MANIFEST_NAME, lambda handle: handle.write(json.dumps(content).encode()))

    def shard(self, name: str) -> dict:
        return next(shard for shard in self.shards if shard["name"] == name)

    def drop_shard(self, name: str) -> None:
        """Forget a shard and every utterance stored in it."""
        self.shards = [shard for shard in self.shards if shard["name"] != name]
        self.utterances = {key: entry for key, entry in self.utterances.items() if entry["shard"] != name}

    def hours_of_audio(self, sample_rate: int = 16000) -> float:
        return sum(entry["samples"] for entry in self.utterances.values()) / sample_rate / 3600

    def bytes_per_member(self) -> list[int]:
        return [sum(shard["bytes"][index] for shard in self.shards) for index in range(len(self.settings["members"]))]

    def disk_usage_lines(self) -> list[str]:
        """Per member: stored bytes and MiB per hour of audio, from the shard files' sizes."""
        hours = self.hours_of_audio()
        settings = self.settings
        lines = [f"{len(self.utterances)} utterances, {hours * 3600:.1f} s of audio, dtype {settings['dtype']}"]
        for index, (member, stored) in enumerate(zip(settings["members"], self.bytes_per_member())):
            shape = f"{settings['layer_counts'][index]} x {settings['dims'][index]}"
            per_hour = stored / 2**20 / hours if hours else float("nan")
            lines.append(f"  {member['name']:<28} {shape:>11}  {stored / 2**20:10.1f} MiB  {per_hour:10.1f} MiB per hour of audio")
        return lines
