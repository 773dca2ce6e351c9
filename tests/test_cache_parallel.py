"""`cache build` on several ranks (torchrun, gloo on the CPU) and in length-bucketed batches: the
same cache as one rank one utterance at a time; a killed build resumes and keeps its shards."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DEMO_UPSTREAM, LIBRISPEECH_MINI
from s3prl_fusion.audio.loading import info
from s3prl_fusion.cache.batches import BatchLimits, length_batches
from s3prl_fusion.cache.builder import CRASH_AFTER_SHARDS_ENV, build_fused_upstream
from s3prl_fusion.cache.calibration import recorded_scales
from s3prl_fusion.cache.checksums import file_checksum
from s3prl_fusion.cache.manifest import RANK_PART_GLOB, Manifest
from s3prl_fusion.benchmark.cache_measures import timed_build
from s3prl_fusion.cache.ranks import Ranks
from s3prl_fusion.cache.sources import longest_first
from s3prl_fusion.cache.storage import PER_MEMBER
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.fused import FusedUpstream

SEED = 1337
SINGLE = ["--batch-size", "1"]


@pytest.fixture(scope="module")
def wav_list(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "wavs.txt"
    path.write_text("\n".join(map(str, sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))[:8])) + "\n")
    return path


def build_arguments(out: Path, wav_list: Path, *extra: str) -> list[str]:
    return ["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--wav-list", str(wav_list), "--out", str(out),
            "--device", "cpu", "--seed", str(SEED), "--dtype", "fp32", "--shard-mb", "0.1", *extra]


def build_here(out: Path, wav_list: Path, *extra: str) -> None:
    """One rank in this process, on one thread as each torchrun rank below runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cli_main(build_arguments(out, wav_list, *extra))
    finally:
        torch.set_num_threads(threads)


def torchrun_build(out: Path, wav_list: Path, *extra: str, ranks: int = 2, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
               "-m", "s3prl_fusion.cli", *build_arguments(out, wav_list, *extra)]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)


def succeeded(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"torchrun exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def stored_features(folder: Path) -> dict[str, list[np.ndarray]]:
    """Every utterance's member arrays (frames, L_i, D_i), by key."""
    manifest = Manifest.load(folder)
    features = {}
    for key, entry in manifest.utterances.items():
        files = manifest.shard(entry["shard"])["files"]
        rows = slice(entry["offset"], entry["offset"] + entry["frames"])
        features[key] = [np.array(np.load(folder / name, mmap_mode="r")[rows]) for name in files]
    return features


def assert_same_cache(folder: Path, reference: Path, atol: float) -> None:
    built, expected = Manifest.load(folder), Manifest.load(reference)
    assert built.settings == expected.settings
    assert {key: entry["samples"] for key, entry in built.utterances.items()} == {key: entry["samples"] for key, entry in expected.utterances.items()}
    ours, theirs = stored_features(folder), stored_features(reference)
    for key, arrays in ours.items():
        for array, expected_array in zip(arrays, theirs[key]):
            assert array.shape == expected_array.shape
            np.testing.assert_allclose(array, expected_array, atol=atol, rtol=0)
    assert not list(folder.glob(RANK_PART_GLOB)) and not list(folder.glob(".*partial*"))
    assert sorted(path.name for path in folder.glob("shard-*.npy")) == sorted(name for shard in built.shards for name in shard["files"])


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory, wav_list) -> Path:
    out = tmp_path_factory.mktemp("one-rank") / "cache"
    build_here(out, wav_list, *SINGLE)
    return out


def test_two_ranks_build_what_one_rank_builds(tmp_path, wav_list, one_rank):
    out = tmp_path / "cache"
    stdout = succeeded(torchrun_build(out, wav_list, *SINGLE))
    assert f"into {out} on 2 ranks" in stdout
    assert_same_cache(out, one_rank, atol=1e-6)
    manifest = Manifest.load(out)
    for rank in (0, 1):
        written = [line for line in stdout.splitlines() if line.startswith(f"[rank {rank}/2] wrote shard-")]
        assert len(written) >= 2, stdout
        assert {int(line.split()[3][len("shard-"):-1]) % 2 for line in written} == {rank}
    assert len(manifest.shards) == len({shard["name"] for shard in manifest.shards})


def test_killed_build_resumes_keeping_its_shards(tmp_path, wav_list, one_rank):
    out = tmp_path / "cache"
    killed = torchrun_build(out, wav_list, *SINGLE, env={CRASH_AFTER_SHARDS_ENV: "1:1"})
    assert killed.returncode != 0 and not (out / "manifest.json").exists()
    parts = [Manifest.load(out, path.name) for path in sorted(out.glob(RANK_PART_GLOB))]
    kept = [name for part in parts for shard in part.shards for name in shard["files"]]
    assert kept and sum(len(part.utterances) for part in parts) < len(Manifest.load(one_rank).utterances)
    before = {name: ((out / name).stat().st_ino, (out / name).stat().st_mtime_ns, file_checksum(out / name)) for name in kept}
    on_one_rank = tmp_path / "resumed-on-one-rank"
    shutil.copytree(out, on_one_rank)

    succeeded(torchrun_build(out, wav_list, *SINGLE))
    assert_same_cache(out, one_rank, atol=1e-6)
    assert {name: ((out / name).stat().st_ino, (out / name).stat().st_mtime_ns, file_checksum(out / name)) for name in kept} == before
    assert set(kept) <= {name for shard in Manifest.load(out).shards for name in shard["files"]}

    build_here(on_one_rank, wav_list, *SINGLE)
    assert_same_cache(on_one_rank, one_rank, atol=1e-6)
    assert set(kept) <= {name for shard in Manifest.load(on_one_rank).shards for name in shard["files"]}


def decoded_int8_calibrated(folder: Path) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]]]:
    """An int8-calibrated cache's scales (L_i, D_i) and every utterance's values (frames, L_i, D_i) read back."""
    scales = recorded_scales(Manifest.load(folder).settings)
    return scales, {key: [codes * scale for codes, scale in zip(arrays, scales)] for key, arrays in stored_features(folder).items()}


def test_int8_calibrated_scales_are_the_same_on_two_ranks_and_a_resume_keeps_them(tmp_path, wav_list):
    """The calibration sample is the same files on any number of ranks (rank 0 runs it), and an
    interrupted build's scales are reused, not measured again."""
    calibrated = ["--dtype", "int8-calibrated", "--calibration-utterances", "3"]
    build_here(tmp_path / "one-rank", wav_list, *SINGLE, *calibrated)
    killed = torchrun_build(tmp_path / "two-ranks", wav_list, *SINGLE, *calibrated, env={CRASH_AFTER_SHARDS_ENV: "1:1"})
    assert killed.returncode != 0 and "int8-calibrated: scales from 1.25 x the absmax over 3 of the 8 files" in killed.stdout
    resumed = succeeded(torchrun_build(tmp_path / "two-ranks", wav_list, *SINGLE, *calibrated))
    assert "int8-calibrated: scales from" not in resumed
    scales, values = decoded_int8_calibrated(tmp_path / "two-ranks")
    expected_scales, expected = decoded_int8_calibrated(tmp_path / "one-rank")
    for stack_scales, expected_stack_scales in zip(scales, expected_scales, strict=True):
        np.testing.assert_allclose(stack_scales, expected_stack_scales, rtol=1e-3)  # a float16 step, where absmax rounds across one
    assert values.keys() == expected.keys()
    for key, arrays in values.items():
        for array, expected_array, stack_scales in zip(arrays, expected[key], scales, strict=True):
            assert np.all(np.abs(array - expected_array) <= stack_scales * 1.01)  # a code apart at most, where a value rounds across
    clipped = [error.clipped for error in Manifest.load(tmp_path / "two-ranks").reconstruction_errors()]
    assert clipped == [error.clipped for error in Manifest.load(tmp_path / "one-rank").reconstruction_errors()] and sum(clipped) > 0


def test_default_batches_store_what_batch_one_stores(tmp_path, wav_list, one_rank, monkeypatch):
    forwards = []
    forward = FusedUpstream.forward
    monkeypatch.setattr(FusedUpstream, "forward", lambda self, wavs: forwards.append(len(wavs)) or forward(self, wavs))
    build_here(tmp_path / "cache", wav_list)
    assert sum(forwards) == 8 and max(forwards) > 1
    assert_same_cache(tmp_path / "cache", one_rank, atol=1e-5)


def test_default_batches_follow_the_device_and_are_printed(tmp_path, wav_list, capsys):
    """20 s of padded audio on the CPU, 120 s on a GPU (``cache.batches`` has the measurements);
    a build says which limits it runs with."""
    assert BatchLimits.default_for("cpu") == BatchLimits(16, 20.0)
    assert BatchLimits.default_for("cuda") == BatchLimits(16, 120.0)
    assert BatchLimits.default_for("cpu", 4, 60.0) == BatchLimits(4, 60.0)
    build_here(tmp_path / "cache", wav_list)
    assert "encoding longest first in batches of at most 16 utterances and 20 s of padded audio" in capsys.readouterr().out
    build_here(tmp_path / "cache-1", wav_list, *SINGLE, "--batch-seconds", "5")
    assert "encoding longest first in batches of at most 1 utterances and 5 s of padded audio" in capsys.readouterr().out


def test_length_batches_respect_both_limits():
    seconds = [9.0, 7.0, 6.0, 2.0, 2.0, 2.0, 1.0, 1.0]
    samples = [int(value * 16000) for value in seconds]
    assert list(length_batches(samples, int, BatchLimits(utterances=3, seconds=None))) == [samples[:3], samples[3:6], samples[6:]]
    batches = list(length_batches(samples, int, BatchLimits(utterances=16, seconds=8.0)))
    assert batches == [samples[:1], samples[1:2], samples[2:3], samples[3:7], samples[7:]]
    assert all(len(batch) * max(batch) <= 8 * 16000 or len(batch) == 1 for batch in batches)
    assert list(length_batches(samples, int, BatchLimits(utterances=1))) == [[value] for value in samples]


def test_ranks_share_longest_first_files_evenly():
    files = [str(path) for path in sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))]
    ordered = longest_first(files)
    assert ordered == longest_first(list(reversed(files)))
    shares = [Ranks(rank, 3).share(ordered) for rank in range(3)]
    assert sorted(path for share in shares for path in share) == sorted(files)
    audio = [sum(info(path).num_frames for path in share) for share in shares]
    assert max(audio) - min(audio) <= max(info(path).num_frames for path in files)


def test_timed_build_times_one_configuration(wav_list, tmp_path):
    files = [Path(line) for line in wav_list.read_text().split()]
    fused = build_fused_upstream("fused", None, str(DEMO_UPSTREAM), SEED).eval()
    manifest, seconds = timed_build(fused, files, tmp_path / "timed cache", torch.device("cpu"), PER_MEMBER, "fp16", limits=BatchLimits(4))
    assert len(manifest.utterances) == len(files) and seconds > 0
    assert manifest.hours_of_audio() * 3600 == pytest.approx(sum(info(path).num_frames for path in files) / SAMPLE_RATE)
