"""The feature cache at corpus scale: a build writes and reads its index once (bytes linear in the
shards), a resumed build decodes no stored file, and readers hash no shard whose stamps hold."""
from __future__ import annotations

import builtins
import json
import os
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import DEMO_UPSTREAM, LIBRISPEECH_MINI
from s3prl_fusion.cache import builder, checksums, shards, waveform_key
from s3prl_fusion.cache.batches import BatchLimits
from s3prl_fusion.cache.builder import build_cache, build_fused_upstream, cache_settings
from s3prl_fusion.cache.manifest import MANIFEST_NAME, Manifest
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.cache.upstream import CachedFusedUpstream

SEED = 1337
ONE_UTTERANCE_SHARDS = 1e-6  # shard_mb: every utterance flushes a shard of its own
FILES = sorted((LIBRISPEECH_MINI / "train-clean-100").rglob("*.flac"))[:48]


class CountingFile:
    """A file object that adds the bytes read from and written to it to ``counts``."""

    def __init__(self, handle, counts: Counter):
        self._handle, self._counts = handle, counts

    def write(self, data) -> int:
        self._counts["written"] += len(data)
        return self._handle.write(data)

    def read(self, *args):
        data = self._handle.read(*args)
        self._counts["read"] += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


@pytest.fixture
def manifest_io(monkeypatch) -> Counter:
    """Bytes read from and written to every file whose name holds "manifest" (parts and partial writes included)."""
    counts, real_open = Counter(), builtins.open

    def counting_open(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        return CountingFile(handle, counts) if isinstance(file, (str, os.PathLike)) and "manifest" in Path(file).name else handle

    monkeypatch.setattr(builtins, "open", counting_open)
    return counts


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """How often the build decodes each file and how often a shard file is hashed, by path."""
    counts = Counter()
    read, checksum = builder.read_waveform, shards.file_checksum
    monkeypatch.setattr(builder, "read_waveform", lambda path: counts.update([("decoded", str(path))]) or read(path))
    monkeypatch.setattr(shards, "file_checksum", lambda path: counts.update([("hashed", Path(path).name)]) or checksum(path))
    return counts


@pytest.fixture(scope="module")
def fused():
    return build_fused_upstream("fused", None, str(DEMO_UPSTREAM), SEED).eval()


def build(fused, files: list[Path], out: Path) -> Manifest:
    settings = cache_settings(fused, "fused", None, SEED, "fp16", torch.device("cpu"))
    return build_cache(fused, settings, files, out, torch.device("cpu"), BatchLimits(16, 20.0), ONE_UTTERANCE_SHARDS, log=lambda line: None)


def tallied(counts: Counter, kind: str) -> Counter:
    return Counter({name: count for (what, name), count in counts.items() if what == kind})


def test_index_bytes_grow_linearly_with_the_shards(fused, tmp_path, manifest_io):
    """The manifest used to be rewritten whole after every shard: 4x the bytes for 2x the shards."""
    io = {}
    for count in (len(FILES) // 2, len(FILES)):
        manifest_io.clear()
        manifest = build(fused, FILES[:count], tmp_path / f"{count} shards")
        assert len(manifest.shards) == count
        io[count] = dict(manifest_io)
    half, full = io[len(FILES) // 2], io[len(FILES)]
    assert 0 < full["written"] < 2.3 * half["written"], io
    assert full.get("read", 0) < 2.3 * half.get("read", 0), io  # the rank part, read once when merged
    # nothing but the index itself: each utterance's entry written to its part, then to manifest.json
    manifest_bytes = (tmp_path / f"{len(FILES)} shards" / MANIFEST_NAME).stat().st_size
    assert full["written"] < 3 * manifest_bytes


def test_resuming_a_complete_build_decodes_no_file_and_hashes_each_shard_once(fused, tmp_path, calls):
    out = tmp_path / "cache"
    first = build(fused, FILES[:24], out)
    assert len(tallied(calls, "decoded")) == 24
    calls.clear()
    resumed = build(fused, FILES[:24], out)
    assert not tallied(calls, "decoded")
    assert tallied(calls, "hashed") == Counter({name: 1 for shard in first.shards for name in shard["files"]})
    assert resumed.utterances == first.utterances
    calls.clear()
    added = build(fused, [*FILES[:24], FILES[24]], out)
    assert tallied(calls, "decoded") == Counter({str(FILES[24]): 1})
    assert len(added.utterances) == 25


def test_a_source_whose_stamp_moved_is_decoded_and_looked_up_by_its_samples(fused, tmp_path, calls):
    out = tmp_path / "cache"
    copies = tmp_path / "audio"
    copies.mkdir()
    files = []
    for path in FILES[:3]:
        files.append(copies / path.name)
        files[-1].write_bytes(path.read_bytes())
        os.utime(files[-1], ns=(10**18, 10**18))  # settled: long ago
    build(fused, files, out)
    stored = Manifest.load(out)
    files[0].write_bytes(FILES[5].read_bytes())  # other samples under the same path
    files[1].touch()  # the same samples, a new mtime
    calls.clear()
    rebuilt = build(fused, files, out)
    assert tallied(calls, "decoded") == Counter({str(files[0]): 1, str(files[1]): 1})
    assert len(rebuilt.utterances) == len(stored.utterances) + 1
    assert all(key in rebuilt.utterances for key in stored.utterances)
    for path in files:
        assert waveform_key(read_waveform(path)) in rebuilt.utterances


def test_readers_check_settled_stamps_instead_of_hashing(fused, tmp_path, calls, monkeypatch):
    wavs = [read_waveform(path) for path in FILES[:12]]
    fresh = build(fused, FILES[:12], tmp_path / "fresh")
    # shards written within STAMP_SETTLE_NS of the manifest keep no stamps: a change in their mtime's tick is possible
    unstamped = [shard for shard in fresh.shards if shard["stamps"] is None]
    assert fresh.shards[-1] in unstamped
    calls.clear()
    reader = CachedFusedUpstream(tmp_path / "fresh")
    reader(wavs)
    reader(wavs)
    assert tallied(calls, "hashed") == Counter({name: 1 for shard in unstamped for name in shard["files"]})

    monkeypatch.setattr(checksums, "STAMP_SETTLE_NS", 0)  # as if the build had ended STAMP_SETTLE_NS after its last shard
    settled = build(fused, FILES[:12], tmp_path / "settled")
    assert all(shard["stamps"] for shard in settled.shards)
    calls.clear()
    reader = CachedFusedUpstream(tmp_path / "settled")
    reader(wavs)
    assert not tallied(calls, "hashed")
    # a file whose stamp no longer holds is hashed, once in this process
    moved = tmp_path / "settled" / settled.shards[0]["files"][1]
    os.utime(moved, ns=(moved.stat().st_atime_ns, moved.stat().st_mtime_ns + 1))
    calls.clear()
    reader = CachedFusedUpstream(tmp_path / "settled")
    reader(wavs)
    reader(wavs)
    assert tallied(calls, "hashed") == Counter(settled.shards[0]["files"])


def test_a_format_2_cache_is_read_and_resumed(fused, tmp_path, calls):
    out = tmp_path / "cache"
    built = build(fused, FILES[:4], out)
    content = json.loads((out / MANIFEST_NAME).read_text())
    content["format"] = 2
    for shard in content["shards"]:
        del shard["stamps"]
    for entry in content["utterances"].values():
        del entry["source_stamp"]
    (out / MANIFEST_NAME).write_text(json.dumps(content))
    wavs = [read_waveform(path) for path in FILES[:4]]
    expected = CachedFusedUpstream(out)(wavs)
    calls.clear()
    resumed = build(fused, FILES[:4], out)
    assert len(tallied(calls, "decoded")) == 4 and resumed.utterances.keys() == built.utterances.keys()
    assert json.loads((out / MANIFEST_NAME).read_text())["format"] == 3
    for stack, expected_stack in zip(CachedFusedUpstream(out)(wavs)["fusion_stacks"], expected["fusion_stacks"]):
        assert torch.equal(stack, expected_stack)
