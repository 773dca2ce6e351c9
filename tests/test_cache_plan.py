"""`s3prl-fusion cache plan`: sizes equal what `cache build` stores, audio and batches equal what the tasks read."""
from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml
from test_real_shapes import BASE_SIZE_MEMBERS

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, REPO_ROOT, WHISPER_TINY_EN
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.plan import Audio, aligned_frames, audio_from_data, epoch_batches, fused_members, member_bytes, member_shape, read_training
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.upstreams.fused import FusedUpstream

ML_SUPERB_MINI = REPO_ROOT / "corpora" / "ml_superb"
ML_SUPERB_CONFIG = REPO_ROOT / "downstream_configs" / "ml_superb" / "config.yaml"


def plan_output(capsys, *arguments: str) -> str:
    capsys.readouterr()
    cli_main(["cache", "plan", *arguments])
    return capsys.readouterr().out


def stored_array_bytes(folder: Path, manifest: Manifest, member: int) -> int:
    """Bytes of a member's arrays in the cache's shard files (the .npy headers left out)."""
    total = 0
    for shard in manifest.shards:
        path = folder / shard["files"][member]
        total += path.stat().st_size - np.load(path, mmap_mode="r").offset
    return total


@pytest.fixture(scope="module")
def ssl_only_members(tmp_path_factory) -> Path:
    """One randomly initialised WavLM-style member: its conv frame rule alone sets the frames."""
    members = yaml.safe_load(DEMO_UPSTREAM.read_text())["members"][:1]
    path = tmp_path_factory.mktemp("members") / "ssl-only.yaml"
    path.write_text(yaml.safe_dump({"members": members}))
    return path


@pytest.fixture(scope="module")
def noise_folder(tmp_path_factory) -> Path:
    """Ten noise files of 0.3-2 s whose sample counts fall anywhere within a frame's stride."""
    folder = tmp_path_factory.mktemp("noise") / "mixed-lengths"
    folder.mkdir()
    generator = np.random.default_rng(7)
    for index, samples in enumerate(generator.integers(4800, 32000, size=10)):
        soundfile.write(folder / f"noise-{index}.wav", 0.1 * generator.standard_normal(samples), 16000, subtype="PCM_16")
    return folder


@pytest.mark.parametrize("members", ["demo", "ssl_only"])
def test_plan_equals_the_bytes_cache_build_stores(members, ssl_only_members, noise_folder, tmp_path, capsys):
    model_config = str(DEMO_UPSTREAM if members == "demo" else ssl_only_members)
    data = [str(LIBRISPEECH_MINI / "dev-clean"), str(noise_folder)]
    out = tmp_path / "cache-plan" / "fp16-cache"
    cli_main(["cache", "build", "-u", "fused", "-g", model_config, *(f"--data={entry}" for entry in data), "--out", str(out),
              "--device", "cpu", "--batch-size", "5", "--shard-mb", "0.05"])
    manifest = Manifest.load(out)
    assert len(manifest.shards) >= 3

    shapes = [member_shape(entry) for entry in fused_members("fused", None, model_config)]
    audio = audio_from_data(data)
    frames = aligned_frames(shapes, audio)
    assert audio.utterances == len(manifest.utterances) == 26
    assert audio.hours == pytest.approx(manifest.hours_of_audio(), rel=1e-12)
    assert frames == sum(entry["frames"] for entry in manifest.utterances.values())
    assert [shape.hidden_states for shape in shapes] == manifest.settings["layer_counts"]
    assert [shape.dim for shape in shapes] == manifest.settings["dims"]
    for index, shape in enumerate(shapes):
        assert member_bytes(shape, frames, "fp16") == stored_array_bytes(out, manifest, index)
        assert member_bytes(shape, frames, "fp32") == 2 * stored_array_bytes(out, manifest, index)

    printed = plan_output(capsys, "-u", "fused", "-g", model_config, *(f"--data={entry}" for entry in data))
    fp16_total = sum(stored_array_bytes(out, manifest, index) for index in range(len(shapes)))
    assert f"audio ({' + '.join(data)}): 26 utterances, {manifest.hours_of_audio():,.2f} h, {frames:,} aligned frames" in printed
    assert "per-member fp16  " in printed and f"{fp16_total / 2**30:,.2f} GiB" in printed
    assert "member passes: give -d <task>" in printed


def test_plan_shapes_and_frames_equal_base_size_members_on_a_mixed_batch(tmp_path):
    members = tmp_path / "base-size-members.yaml"
    members.write_text(yaml.safe_dump(BASE_SIZE_MEMBERS))
    shapes = [member_shape(entry) for entry in fused_members("fused", None, str(members))]
    known = [member_shape(entry) for entry in fused_members("fused_wavlm_whisper", None, None)]
    assert [(shape.hidden_states, shape.dim) for shape in shapes] == [(shape.hidden_states, shape.dim) for shape in known] == [(13, 768)] * 2

    torch.manual_seed(0)
    fused = FusedUpstream(BASE_SIZE_MEMBERS["members"]).eval()
    generator = torch.Generator().manual_seed(3)
    wavs = [torch.randn(samples, generator=generator) for samples in (16000, 5217, 11111, 8399)]
    with torch.no_grad():
        features = fused(wavs)
    assert [stack.shape[0] for stack in features["fusion_stacks"]] == [shape.hidden_states for shape in shapes]
    assert [stack.shape[-1] for stack in features["fusion_stacks"]] == [shape.dim for shape in shapes]
    for wav, frames in zip(wavs, features["fusion_lengths"].tolist()):
        assert aligned_frames(shapes, Audio("batch", wav.numel() / 16000, [wav.numel()], 1)) == frames
        assert aligned_frames(known, Audio("batch", wav.numel() / 16000, [wav.numel()], 1)) == frames


@pytest.mark.parametrize("config_name, forwards_per_step, per_forward", [("config.yaml", 200000, 16), ("demo.yaml", 1200, 4)])
def test_asr_passes_follow_s3prl_sequence_dataset(config_name, forwards_per_step, per_forward, librispeech_buckets, capsys):
    from s3prl.downstream.asr.dataset import SequenceDataset
    from s3prl.downstream.asr.dictionary import Dictionary

    config = ASR_CONFIGS / config_name
    training = read_training("asr", config)
    table = librispeech_buckets / "train-clean-100.csv"
    from_table, from_folder = audio_from_data([str(table)]), audio_from_data([str(LIBRISPEECH_MINI / "train-clean-100")])
    assert sorted(from_table.samples) == sorted(from_folder.samples) and from_table.utterances == 128

    dataset = SequenceDataset("train", training.batch_size, Dictionary.load(str(ASR_CONFIGS / "char.dict")),
                              libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), train=["train-clean-100"])
    assert epoch_batches(training, from_table) == (len(dataset.X), sum(len(batch) for batch in dataset.X))

    printed = plan_output(capsys, "-u", "fused", "-g", str(DEMO_UPSTREAM), "--data", str(table), "-d", "asr", "-c", str(config))
    passes = forwards_per_step * per_forward
    assert f"  {forwards_per_step:,} forwards (total_steps {forwards_per_step:,} x gradient_accumulate_steps 1) of batch_size {training.batch_size}: {per_forward:.2f} utterances per forward" in printed
    assert f"on the fly:     {passes:,} utterance passes per member" in printed
    assert f"from the cache: 128 utterance passes per member, one per utterance when it is built ({passes / 128:,.1f}x fewer)" in printed


def test_ml_superb_passes_follow_its_corpus_and_batches(capsys, monkeypatch):
    from s3prl_fusion.downstreams.ml_superb.corpus import MlSuperbCorpus
    from s3prl_fusion.downstreams.ml_superb.dataset import LengthSortedBatches

    utterances = MlSuperbCorpus(ML_SUPERB_MINI, "mono", "eng1").utterances("train")
    transcript = ML_SUPERB_MINI / "mls" / "eng" / "transcript_1h_train.txt"
    audio = audio_from_data([str(transcript)])
    assert audio.samples == [utterance.num_samples for utterance in utterances]
    training = read_training("ml_superb", ML_SUPERB_CONFIG)
    batches = len(LengthSortedBatches(audio.samples, training.batch_size, seed=0))
    assert epoch_batches(training, audio) == (batches, len(utterances))

    monkeypatch.chdir(REPO_ROOT)
    printed = plan_output(capsys, "-u", "fused", "-g", str(DEMO_UPSTREAM), "--data", str(transcript), "-d", "ml_superb")
    passes = round(150000 * 4 * len(utterances) / batches)
    assert "member passes (-d ml_superb, downstream_configs/ml_superb/config.yaml):" in printed
    assert "  600,000 forwards (total_steps 150,000 x gradient_accumulate_steps 4) of batch_size 8" in printed
    assert f"on the fly:     {passes:,} utterance passes per member" in printed


def test_hours_plan_for_large_preset(capsys):
    printed = plan_output(capsys, "-u", "fused_wavlmlarge_whispermedium", "--hours", "1", "-d", "ml_superb")
    # 25 x 1024 values x 180,000 frames (50 frames/s) per member: 9,216,000,000 bytes in fp16
    assert "  wavlmlarge      25 x 1024            50" in printed
    assert "  whisper_medium  25 x 1024            50" in printed
    assert "audio (--hours 1): 1.00 h, 180,000 aligned frames" in printed
    assert "per-member fp16             8.58 GiB    8.58 GiB        17.17 GiB  17.17 GiB/h" in printed
    assert "per-member fp32             17.17 GiB   17.17 GiB       34.33 GiB  34.33 GiB/h" in printed
    assert "per-member int8-calibrated  4.29 GiB    4.29 GiB        8.58 GiB   8.58 GiB/h" in printed
    assert "merged fp16                 -           -               8.58 GiB   8.58 GiB/h" in printed
    assert "merged fp32                 -           -               17.17 GiB  17.17 GiB/h" in printed
    assert "merged int8-calibrated      -           -               4.29 GiB   4.29 GiB/h" in printed
    assert "int8 (about half of fp16, plus per-utterance scales): give --utterances to count it" in printed
    assert "on the fly:     4,800,000 utterance passes per member" in printed
    assert "from the cache: one pass per utterance, when it is built (give --utterances to count them)" in printed


def test_hours_plan_for_base_preset_with_utterance_count(capsys):
    printed = plan_output(capsys, "-u", "fused_wavlm_whisper_en", "--hours", "100", "--utterances", "28539", "-d", "asr")
    # 13 x 768 x 2 bytes x 50 frames/s: 3.35 GiB per hour per member; every LibriSpeech bucket of 32 is halved
    assert "per-member fp16             334.74 GiB  334.74 GiB        669.48 GiB    6.69 GiB/h" in printed
    assert "merged int8                 -           -                 167.90 GiB    1.68 GiB/h" in printed  # a quarter + scales
    assert "merged int8-calibrated      -           -                 167.37 GiB    1.67 GiB/h" in printed  # a quarter
    assert "of batch_size 32: 16.01 utterances per forward on average" in printed  # 891 buckets of 32, each halved, + one of 27
    assert "on the fly:     3,201,234 utterance passes per member" in printed
    assert "from the cache: 28,539 utterance passes per member" in printed


def documented_plans() -> list[tuple[str, str]]:
    """(command line, output) of every ``$ s3prl-fusion cache plan`` on the feature cache's page (docs/cache.md)."""
    lines = (REPO_ROOT / "docs" / "cache.md").read_text().splitlines()
    plans = []
    for start, line in enumerate(lines):
        if line.startswith("$ s3prl-fusion cache plan "):
            end = next(index for index in range(start + 1, len(lines)) if not lines[index] or lines[index].startswith("```"))
            plans.append((line[len("$ s3prl-fusion "):], "\n".join(lines[start + 1 : end]) + "\n"))
    return plans


def test_documented_plans_are_what_the_command_prints(capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    plans = documented_plans()
    assert [command.split()[3] for command, _ in plans] == [
        "fused_wavlm_whisper_en", "fused_wavlmlarge_whispermedium_en", "fused_wavlm_whisper", "fused_wavlmlarge_whispermedium",
    ]
    for command, output in plans:
        assert plan_output(capsys, *shlex.split(command)[2:]) == output


def test_sv_plan_says_its_random_crops_cannot_be_cached(capsys):
    printed = plan_output(capsys, "-u", "fused_wavlm_whisper", "--hours", "2", "-d", "sv_voxceleb1")
    assert "on the fly:     10,000,000 utterance passes per member" in printed  # 200,000 x 5 x 10
    assert "from the cache: not possible: -d sv_voxceleb1: its training set crops a random segment" in printed


@pytest.mark.skipif(not WHISPER_TINY_EN.is_dir(), reason="needs ../shared/models/whisper-tiny.en (a real pretrained checkpoint)")
def test_local_checkpoint_is_sized_from_its_config_json(capsys):
    printed = plan_output(capsys, "-u", "fused", "-k", f"{WHISPER_TINY_EN},microsoft/wavlm-base-plus", "--hours", "1")
    assert "5 x 384" in printed and "13 x 768" in printed


@pytest.mark.parametrize("arguments, message", [
    (["-u", "fused_wavlm_whisper", "--hours", "1", "--data", "x"], "--data (folders, length tables, transcripts) or --hours H, not both"),
    (["-u", "fused_wavlm_whisper"], "--data (folders, length tables, transcripts) or --hours H, not both"),
    (["-u", "fused_wavlm_whisper", "--data", "x", "--utterances", "9"], "--utterances goes with --hours"),
    (["-u", "fused_wavlm_whisper", "--hours", "1", "-c", "x.yaml"], "-c needs -d <task>"),
    (["-u", "fused_wavlm_whisper", "--data", "/no/such-folder"], "--data /no/such-folder is neither a folder of audio"),
    (["-u", "fused", "-k", "wavlm_base_plus", "--hours", "1"], "cannot tell the layers and dims of member wavlm_base_plus"),
    (["-u", "whisper_small", "--hours", "1"], "-u whisper_small is not a fused upstream"),
    (["-u", "fused_wavlm_whisper", "--hours", "1", "-d", "asrr"], "no config for task -d asrr"),
    (["-u", "fused_wavlm_whisper", "--hours", "1", "-d", "asrr", "-c", str(ASR_CONFIGS / "config.yaml")], "not -d asrr. Did you mean asr?"),
])
def test_plan_mistakes_end_with_a_message(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli_main(["cache", "plan", *arguments])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
