"""The feature cache: build over bundled audio, read back what the members compute, refuse what does not match."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, command_failure, run_python, runner_failure, user_error_line
from s3prl_fusion.cache import CacheMissError, CachedFusedUpstream, waveform_key
from s3prl_fusion.cache.builder import build_fused_upstream
from s3prl_fusion.cache.manifest import RANK_PART_GLOB, Manifest
from s3prl_fusion.cache.shards import CorruptShardError
from s3prl_fusion.cache.sources import collect_audio_files, read_waveform
from s3prl_fusion.cache.upstream import CacheSettingsMismatch
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.errors import SettingError
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.upstreams import read_upstream_options

SEED = 1337


@pytest.fixture(scope="module")
def audio_files() -> list[Path]:
    return sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))[:4]


@pytest.fixture(scope="module")
def wav_list(tmp_path_factory, audio_files) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "wavs.txt"
    path.write_text("# dev-clean sample\n" + "\n".join(map(str, audio_files)) + "\n")
    return path


def build(out: Path, wav_list: Path, *extra: str) -> None:
    cli_main(["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--wav-list", str(wav_list),
              "--out", str(out), "--device", "cpu", "--seed", str(SEED), "--shard-mb", "0.1", *extra])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, wav_list) -> Path:
    out = tmp_path_factory.mktemp("cache") / "fp32"
    build(out, wav_list, "--dtype", "fp32")
    return out


@pytest.fixture(scope="module")
def fused():
    return build_fused_upstream("fused", None, str(DEMO_UPSTREAM), SEED).eval()


def declared() -> dict:
    return read_upstream_options(str(DEMO_UPSTREAM))


def test_fp32_cache_equals_on_the_fly_features(cache_dir, fused, audio_files):
    wavs = [read_waveform(path) for path in audio_files[:3]]
    cached = CachedFusedUpstream(cache_dir, declared())(wavs)
    assert cached["fusion_members"] == ["wavlm_small_random", "whisper_small_random"]
    for position, wav in enumerate(wavs):
        with torch.no_grad():
            alone = fused([wav])
        frames = int(alone["fusion_lengths"][0])
        assert int(cached["fusion_lengths"][position]) == frames
        for cached_stack, stack in zip(cached["fusion_stacks"], alone["fusion_stacks"]):
            assert cached_stack.dtype == torch.float32
            torch.testing.assert_close(cached_stack[:, position, :frames], stack[:, 0, :frames], atol=1e-5, rtol=0)
            assert not cached_stack[:, position, frames:].any()


def _storages(features: dict) -> set[int]:
    return {stack.untyped_storage().data_ptr() for stack in features["fusion_stacks"]}


def test_reads_reuse_memory_only_once_nothing_holds_it(cache_dir, audio_files):
    """Each read decodes into memory kept from earlier reads (``cache.buffers``), never into
    memory a caller still holds, and rewrites every value of it, padding included."""
    wavs = [read_waveform(path) for path in audio_files]
    longest_first = sorted(wavs, key=len, reverse=True)
    upstream = CachedFusedUpstream(cache_dir)
    held = upstream(longest_first)
    held_values = [stack.clone() for stack in held["fusion_stacks"]]
    while_held = upstream(longest_first[::-1])
    assert not _storages(held) & _storages(while_held)
    for stack, values in zip(held["fusion_stacks"], held_values):
        assert torch.equal(stack, values)
    kept = _storages(held) | _storages(while_held)
    del held, while_held
    # a shorter batch in memory that held longer utterances: its padding is zeros again
    reused = upstream([longest_first[-1], longest_first[0]])
    assert _storages(reused) <= kept
    for stack, fresh in zip(reused["fusion_stacks"], CachedFusedUpstream(cache_dir)([longest_first[-1], longest_first[0]])["fusion_stacks"]):
        assert torch.equal(stack, fresh)


def test_features_autograd_still_needs_are_not_overwritten(cache_dir, audio_files):
    """A featurizer's graph keeps views of the stacks for its backward after the caller dropped
    them: the next read must not decode into that memory."""
    wavs = [read_waveform(path) for path in audio_files]
    gradients = []
    for read_between in (False, True):
        upstream = CachedFusedUpstream(cache_dir)
        torch.manual_seed(0)
        featurizer = FusionFeaturizer(upstream, "ws", upstream_name="fused_cache")
        loss = sum(feature.square().sum() for feature in featurizer(wavs[:2], upstream(wavs[:2])))
        if read_between:  # as large a batch, other values at every position
            upstream([wavs[1], wavs[0]])
        loss.backward()
        gradients.append([parameter.grad.clone() for parameter in featurizer.parameters()])
    for reference, after_a_read in zip(*gradients):
        assert torch.equal(reference, after_a_read)


def test_cache_spans_several_shards_with_checksums(cache_dir, audio_files):
    manifest = Manifest.load(cache_dir)
    assert len(manifest.shards) >= 2
    assert len(manifest.utterances) == len(audio_files)
    assert {entry["source"] for entry in manifest.utterances.values()} == {str(path.resolve()) for path in audio_files}
    settings = manifest.settings
    assert settings["layer_counts"] == [5, 4] and settings["dims"] == [64, 48]
    assert settings["members"][1]["length_mode"] == "exact" and settings["dtype"] == "fp32"
    stored = [sum((cache_dir / shard["files"][index]).stat().st_size for shard in manifest.shards) for index in range(2)]
    assert manifest.bytes_per_member() == stored
    frames = sum(entry["frames"] for entry in manifest.utterances.values())
    assert stored[0] > frames * 5 * 64 * 4 and stored[1] > frames * 4 * 48 * 4


def test_build_reports_disk_size_per_hour_of_audio(tmp_path, wav_list, capsys):
    build(tmp_path / "fp16", wav_list, "--dtype", "fp16")
    manifest = Manifest.load(tmp_path / "fp16")
    printed = capsys.readouterr().out
    for member, stored in zip(manifest.settings["members"], manifest.bytes_per_member()):
        expected = stored / 2**20 / manifest.hours_of_audio()
        line = next(line for line in printed.splitlines() if member["name"] in line and "per hour" in line)
        assert f"{expected:.1f} MiB per hour of audio" in line


def test_members_run_without_autograd(fused, audio_files, cache_dir):
    wav = read_waveform(audio_files[0])
    assert torch.is_grad_enabled()
    for stack in fused([wav])["fusion_stacks"]:
        assert not stack.requires_grad and stack.grad_fn is None
    for stack in CachedFusedUpstream(cache_dir)([wav])["fusion_stacks"]:
        assert not stack.requires_grad


def test_key_depends_on_samples_only(audio_files):
    wav = read_waveform(audio_files[0])
    assert waveform_key(wav) == waveform_key(wav.clone().double())
    assert waveform_key(wav) != waveform_key(wav[1:])
    assert waveform_key(wav) != waveform_key(wav * 0.5)


def test_cropped_waveform_is_a_clear_miss(cache_dir, audio_files):
    wav = read_waveform(audio_files[0])
    with pytest.raises(CacheMissError, match="random crops cannot|cannot use a feature cache"):
        CachedFusedUpstream(cache_dir)([wav, wav[: len(wav) // 2]])


def test_declared_members_must_match(cache_dir):
    options = declared()
    options["members"][1]["length_mode"] = "pad30"
    with pytest.raises(CacheSettingsMismatch, match=r"member 1 \(whisper_small_random\) length_mode: cache 'exact' vs 'pad30'"):
        CachedFusedUpstream(cache_dir, options)
    with pytest.raises(CacheSettingsMismatch, match="holds 2 member"):
        CachedFusedUpstream(cache_dir, {"members": options["members"][:1]})


def test_rebuilding_with_other_settings_is_refused(cache_dir, wav_list, capsys):
    with pytest.raises(SystemExit) as ended:
        build(cache_dir, wav_list, "--dtype", "fp16")
    assert ended.value.code == 2 and "dtype: cache 'fp32' vs 'fp16'" in capsys.readouterr().err


def test_hub_entry_reads_the_cache(cache_dir):
    upstream = hub_entries()["fused_cache"](ckpt=str(cache_dir), model_config=str(DEMO_UPSTREAM))
    assert isinstance(upstream, CachedFusedUpstream)
    assert upstream.get_downsample_rates("hidden_states") == 320
    with pytest.raises(ValueError, match="-k CACHE_DIR"):
        hub_entries()["fused_cache"]()


def test_damaged_shard_is_detected_and_rebuilt(tmp_path, wav_list, audio_files, cache_dir, capsys):
    out = tmp_path / "cache"
    build(out, wav_list, "--dtype", "fp32")
    wav = read_waveform(audio_files[0])
    manifest = Manifest.load(out)
    shard = manifest.utterances[waveform_key(wav)]["shard"]
    damaged = out / manifest.shard(shard)["files"][0]
    array = np.load(damaged)
    array[0, 0, 0] += 1.0
    np.save(damaged, array)

    with pytest.raises(CorruptShardError, match=f"shard {shard} is damaged .*fails its checksum"):
        CachedFusedUpstream(out)([wav])
    with pytest.raises(SystemExit) as ended:
        cli_main(["cache", "verify", str(out)])
    assert ended.value.code == 2 and re.search("error: 1 of .* shards are damaged", capsys.readouterr().err)

    capsys.readouterr()
    build(out, wav_list, "--dtype", "fp32")
    assert f"shard {shard}: {damaged.name} fails its checksum: rebuilding" in capsys.readouterr().out
    assert len(Manifest.load(out).utterances) == len(audio_files)
    wavs = [read_waveform(path) for path in audio_files]
    for rebuilt, reference in zip(CachedFusedUpstream(out)(wavs)["fusion_stacks"], CachedFusedUpstream(cache_dir)(wavs)["fusion_stacks"]):
        # the rebuilt utterances are batched otherwise than in the first build: equal within batch invariance
        torch.testing.assert_close(rebuilt, reference, atol=1e-5, rtol=0)
    cli_main(["cache", "verify", str(out)])
    assert "shards intact" in capsys.readouterr().out


def test_inputs_from_a_length_table(librispeech_buckets):
    files = collect_audio_files([], [str(librispeech_buckets / "dev-clean.csv")], str(LIBRISPEECH_MINI))
    assert len(files) == len(list((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac")))
    with pytest.raises(ValueError, match="--root"):
        collect_audio_files([], [str(librispeech_buckets / "dev-clean.csv")])


def test_manifest_is_plain_json(cache_dir):
    data = json.loads((cache_dir / "manifest.json").read_text())
    assert data["settings"]["weights_fingerprint"]
    assert not list(cache_dir.glob(".*partial*"))


def test_runner_trains_from_the_cache(tmp_path, librispeech_buckets):
    """s3prl's runner with -u fused_cache: the members never run, the interface and head train."""

    cache = tmp_path / "cache"
    cli_main(["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--data", str(librispeech_buckets / "train-clean-100.csv"),
              "--root", str(LIBRISPEECH_MINI), "--out", str(cache), "--device", "cpu", "--dtype", "fp16"])
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'",
        "config.runner.total_steps=4", "config.runner.save_step=4",
    ])
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused_cache", "-k", str(cache), "-s", "hconv",
                         "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(tmp_path / "exp"), "--device", "cpu", "-o", overrides])
    assert "interface hconv over 2 member(s) ['wavlm_small_random', 'whisper_small_random']" in result.stderr
    assert (tmp_path / "exp" / "states-4.ckpt").is_file()


def test_fused_cache_needs_the_members_it_is_declared_for(cache_dir, tmp_path):
    options = tmp_path / "autocast-only.yaml"
    options.write_text("autocast: none\n")
    with pytest.raises(SettingError, match="must list the expected `members:`"):
        hub_entries()["fused_cache"](ckpt=str(cache_dir), model_config=str(options))


def test_cache_command_mistakes_are_one_message_each(tmp_path, wav_list, cache_dir):
    """Through `s3prl-fusion cache`: exit status 2, the message, no traceback; the cache is left as it was."""
    manifest = (cache_dir / "manifest.json").read_bytes()
    inputs = ["--wav-list", str(wav_list), "--device", "cpu", "--seed", str(SEED)]
    cases = [
        (["build", "-u", "wavlm_base_plus", *inputs, "--out", str(tmp_path / "single")], ["-u wavlm_base_plus is not a fused upstream"]),
        (["build", "-u", "fused", "-g", str(DEMO_UPSTREAM), *inputs, "--out", str(cache_dir), "--dtype", "fp16"],
         [f"the cache {cache_dir} was built with other settings", "dtype: cache 'fp32' vs 'fp16'"]),
        (["verify", str(tmp_path)], [f"{tmp_path} is not a feature cache (no manifest.json)"]),
    ]
    for arguments, expected in cases:
        error = command_failure("cache", *arguments)
        assert all(text in error for text in expected), (arguments, error)
    assert (cache_dir / "manifest.json").read_bytes() == manifest
    assert not (tmp_path / "single").exists()


def test_runner_mistakes_with_a_cache_are_one_message_each(tmp_path, cache_dir, librispeech_buckets):
    """Through s3prl's runner with -u fused_cache: exit status 2, the message, no traceback, no checkpoint.
    The cache holds 4 dev-clean utterances, so training on train-clean-100 misses it."""
    other = read_upstream_options(str(DEMO_UPSTREAM))
    other["members"][1]["length_mode"] = "pad30"
    other_members = tmp_path / "other-members.yaml"
    other_members.write_text(yaml.safe_dump(other))
    not_a_cache = tmp_path / "not-a-cache"
    not_a_cache.mkdir()
    data = f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}',,config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'"
    cases = [
        (["-k", str(cache_dir), "-g", str(other_members)],
         [f"the cache {cache_dir} was built for other members or settings than -g declares", "length_mode: cache 'exact' vs 'pad30'"]),
        (["-k", str(not_a_cache)], [f"{not_a_cache} is not a feature cache (no manifest.json)"]),
        ([], ["-u fused_cache needs -k CACHE_DIR"]),
        (["-k", str(cache_dir), "-f"], ["-f (--upstream_trainable) fine-tunes the upstream, but a feature cache", "drop CACHE=1", "drop -f"]),
        (["-k", str(cache_dir)], ["waveforms are not in the feature cache", "build it over the files this run reads"]),
    ]
    for flags, expected in cases:
        stderr = runner_failure(tmp_path, "-u", "fused_cache", *flags, "-s", "hconv", "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-o", data)
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and all(text in errors[0] for text in expected), (flags, stderr[-2000:])


SIZE = re.compile(r"still needs roughly ([\d,.]+) (B|KiB|MiB|GiB) for the (\d+) files")


def test_a_full_disk_stops_the_build_with_what_it_needs_and_a_rerun_resumes(tmp_path, wav_list, audio_files):
    """The disk fills up while the build writes its second shard (``full_disk.py``): exit status 2, one message
    naming the shard, the space free and roughly what the build still needs; the same command then resumes."""
    out = tmp_path / "cache"
    arguments = ["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--wav-list", str(wav_list), "--out", str(out),
                 "--device", "cpu", "--seed", str(SEED), "--shard-mb", "0.1", "--dtype", "fp32"]
    full = run_python([str(Path(__file__).with_name("full_disk.py")), "shard-00001.m0.npy", "s3prl_fusion.cli", *arguments], check=False)
    message = user_error_line(full)
    assert f"no space left to write {out / 'shard-00001.m0.npy'} (No space left on device)" in message and " free on its file system" in message
    assert "run the same command again: it resumes, keeping the 1 utterances already stored" in message, message
    size, unit, files = SIZE.search(message).groups()
    assert int(files) == len(audio_files) - 1
    (part,) = out.glob(RANK_PART_GLOB)  # the build's index so far: one line per stored shard, merged when a build ends
    first_shard = Manifest.read(part).shards[0]["files"][0]
    written = (out / first_shard).stat().st_mtime_ns
    assert not list(out.glob(".*partial*"))

    cli_main(arguments)
    manifest = Manifest.load(out)
    assert len(manifest.utterances) == len(audio_files) and (out / first_shard).stat().st_mtime_ns == written
    added = sum(size for shard in manifest.shards[1:] for size in shard["bytes"])
    estimate = float(size.replace(",", "")) * 1024 ** ["B", "KiB", "MiB", "GiB"].index(unit)
    assert 0.8 < estimate / added < 1.2, (estimate, added)


def test_a_full_disk_while_appending_a_shards_line_is_one_message_and_leaves_no_cut_off_line(tmp_path, monkeypatch):
    """The index line a build appends after each shard: ENOSPC part-way through it is a DiskFullError
    naming the part, and the part keeps exactly its earlier lines, so a later append follows whole lines."""
    import errno
    import io

    import s3prl_fusion.cache.manifest as manifest_module
    from s3prl_fusion.experiments.atomic_files import DiskFullError

    manifest_module.append_to_part(tmp_path, "manifest.rank-00000.json", {"seed": 1}, {"files": ["a.npy"]}, {"k1": {"shard": 0}})
    before = (tmp_path / "manifest.rank-00000.json").read_bytes()

    class FillingFile(io.FileIO):
        room = 10

        def write(self, data):
            if not self.room:
                raise OSError(errno.ENOSPC, "No space left on device")
            written = super().write(memoryview(data)[: self.room])
            self.room -= written
            return written

    monkeypatch.setattr(manifest_module, "open", lambda path, mode, buffering=-1: FillingFile(path, mode), raising=False)
    with pytest.raises(DiskFullError, match=r"no space left to write .*manifest\.rank-00000\.json .* free on its file system"):
        manifest_module.append_to_part(tmp_path, "manifest.rank-00000.json", {"seed": 1}, {"files": ["b.npy"]}, {"k2": {"shard": 1}})
    assert (tmp_path / "manifest.rank-00000.json").read_bytes() == before
