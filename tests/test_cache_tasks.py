"""Every frozen-member task from a feature cache through s3prl's runner: ER over its five folds and
ML-SUPERB Mono-1h / Multi-1h from one cache each (the recipes with CACHE=1), and SV refused at start."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

import s3prl_fusion  # noqa: F401  (s3prl's torchaudio calls read audio through the plugin's reader)
from conftest import REPO_ROOT, checked, run_python, run_recipe, user_error_line
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.cache.task_files import emotion_files, ml_superb_files
from s3prl_fusion.cache.tasks import UncacheableTaskError, check_cached_task
from s3prl_fusion.downstreams.ml_superb.corpus import SPLITS, MlSuperbCorpus
from s3prl_fusion.prepare.iemocap import write_meta_data

IEMOCAP_MINI = REPO_ROOT / "corpora" / "IEMOCAP" / "IEMOCAP_full_release"
ML_SUPERB_MINI = REPO_ROOT / "corpora" / "ml_superb"
FOLDS = ("fold1", "fold2", "fold3", "fold4", "fold5")
DEMO_MEMBERS = ["wavlm_small_random", "whisper_small_random"]
ER_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.train_batch_size=2",
    "config.downstream_expert.datarc.eval_batch_size=8",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
    "config.runner.save_step=1",
])
ML_SUPERB_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.batch_size=4",
    "config.downstream_expert.datarc.eval_batch_size=8",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
    "config.runner.save_step=1",
])


def runner_arguments(expdir: Path) -> list[dict]:
    """Every ``args_*.yaml`` s3prl's runner wrote in ``expdir`` (one per train / evaluate run)."""
    return [yaml.safe_load(path.read_text()) for path in sorted(expdir.glob("args_*.yaml"))]


def assert_ran_from(expdir: Path, cache: Path) -> None:
    arguments = runner_arguments(expdir)
    assert arguments, f"no runner arguments in {expdir}"
    for args in arguments:
        assert args["upstream"] == "fused_cache" and Path(args["upstream_ckpt"]) == cache


def shard_times(cache: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in cache.glob("shard-*")}


# What each task hands the upstream ----------------------------------------------------------------


@pytest.fixture(scope="module")
def iemocap_meta_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("iemocap_meta")
    write_meta_data(IEMOCAP_MINI, out)
    return out


def as_runner_waveform(wav) -> torch.Tensor:
    """A dataset item's waveform as s3prl's runner hands it to the upstream."""
    return torch.FloatTensor(wav)


def test_emotion_dataset_hands_the_upstream_each_file_unchanged(iemocap_meta_data):
    from s3prl.downstream.emotion.dataset import IEMOCAPDataset

    files = emotion_files(IEMOCAP_MINI, iemocap_meta_data)
    assert len(files) == 40 and all(path.is_file() for path in files)
    listed = {waveform_key(read_waveform(path)) for path in files}
    for session in range(1, 6):
        for split in ("train", "test"):
            dataset = IEMOCAPDataset(str(IEMOCAP_MINI), str(iemocap_meta_data / f"Session{session}" / f"{split}_meta_data.json"), pre_load=False)
            for index in range(len(dataset)):
                key = waveform_key(as_runner_waveform(dataset[index][0]))
                assert key == waveform_key(read_waveform(IEMOCAP_MINI / dataset.meta_data[index]["path"])) and key in listed


def test_ml_superb_dataset_hands_the_upstream_each_file_unchanged():
    from s3prl_fusion.downstreams.ml_superb.dataset import MlSuperbDataset
    from s3prl_fusion.downstreams.ml_superb.text import Tokenizer, Vocabulary

    mono = ml_superb_files(ML_SUPERB_MINI, "mono", ["eng1", "jpn"])
    multi = ml_superb_files(ML_SUPERB_MINI, "multi", [])
    assert set(mono) < set(multi) and len(multi) == len(list(ML_SUPERB_MINI.glob("*/*/wav/*.wav")))
    for language in ("eng1", "jpn"):
        corpus = MlSuperbCorpus(ML_SUPERB_MINI, "mono", language)
        assert {utterance.wav_path for split in SPLITS for utterance in corpus.utterances(split)} <= set(mono)
    utterances = MlSuperbCorpus(ML_SUPERB_MINI, "multi").utterances("train")
    tokenizer = Tokenizer("char")
    dataset = MlSuperbDataset(utterances, tokenizer, Vocabulary.build("char", [tokenizer.tokens(u.text) for u in utterances]))
    for index, utterance in enumerate(utterances):
        assert waveform_key(as_runner_waveform(dataset[index][0])) == waveform_key(read_waveform(utterance.wav_path))


def test_a_cache_serves_asr_er_and_ml_superb_and_refuses_sv_and_qbe(tmp_path):
    for task in ("asr", "emotion", "ml_superb"):
        check_cached_task("fused_cache", task, str(tmp_path))
    check_cached_task("fused", "sv_voxceleb1")
    refused = r"random segment .* sox effects .*on the fly instead: the fused upstream the cache was built from"
    with pytest.raises(UncacheableTaskError, match=refused):
        check_cached_task("fused_cache", "sv_voxceleb1", str(tmp_path / "no_cache"))
    qbe_refused = r"-d quesst14_dtw cannot .* sox effects \(resampled to 16 kHz, gain -3 dB\) .* each member's own layers.*`s3prl-fusion qbe`"
    with pytest.raises(UncacheableTaskError, match=qbe_refused):
        check_cached_task("fused_cache", "quesst14_dtw", str(tmp_path / "no_cache"))


# ER: five folds from one cache --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cached_emotion_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out_dir = tmp_path_factory.mktemp("cached_emotion") / "fused-ws"
    result = checked(run_recipe("emotion.sh", ["fused", "ws", str(IEMOCAP_MINI), str(out_dir)], CACHE="1", STEPS="1", OVERRIDES=ER_OVERRIDES))
    return out_dir, result


def test_emotion_trains_and_tests_all_five_folds_from_one_cache_built_once(cached_emotion_run):
    out_dir, result = cached_emotion_run
    cache = out_dir / "cache"
    assert result.stdout.count(f"[recipe] CACHE=1: feature cache {cache} of -u fused") == 1
    manifest = Manifest.load(cache)
    assert len(manifest.utterances) == 40 and [member["name"] for member in manifest.settings["members"]] == DEMO_MEMBERS
    built = shard_times(cache)
    for fold in FOLDS:
        assert_ran_from(out_dir / fold, cache)
        assert (out_dir / fold / "states-1.ckpt").is_file()
        assert len((out_dir / fold / f"test_{fold}_truth.txt").read_text().splitlines()) == 8
    assert shard_times(cache) == built
    scored = json.loads((out_dir / "result.json").read_text())
    assert set(scored["per_fold"]) == set(FOLDS) and scored["interface"] == "ws"
    assert [member["label"] for member in scored["members"]] == DEMO_MEMBERS


def test_sv_from_a_cache_stops_at_start_with_why_and_what_to_run(cached_emotion_run, tmp_path):
    out_dir, _ = cached_emotion_run
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused_cache", "-k", str(out_dir / "cache"),
                         "-s", "ws", "-d", "sv_voxceleb1", "-p", str(tmp_path / "sv"), "--device", "cpu"], check=False)
    message = user_error_line(result)
    assert "-d sv_voxceleb1 cannot train or be evaluated from a feature cache" in message and "random segment" in message
    assert "on the fly instead: -u fused (the upstream the cache was built from), with the -g it was built with" in message
    assert not list((tmp_path / "sv").glob("*.ckpt"))


def test_sv_recipe_with_cache_runs_the_members_on_the_fly(tmp_path):
    result = run_recipe("sv.sh", ["fused", "ws", str(tmp_path / "VoxCeleb1"), str(tmp_path / "out")], CACHE="1")
    assert result.returncode == 1 and "VoxCeleb1 dev audio not found" in result.stderr
    assert "[recipe] CACHE=1: sv_voxceleb1 trains on random crops of sox-processed audio" in result.stdout
    assert "running the members on the fly" in result.stdout


# ML-SUPERB: Mono-1h and Multi-1h from one cache ---------------------------------------------------


def test_ml_superb_mono_and_multi_train_and_decode_from_one_cache(tmp_path):
    cache = tmp_path / "cache"
    runs = {}
    for mode, extra in (("mono", {"LANGUAGES": "eng1"}), ("multi", {})):
        runs[mode] = checked(run_recipe("ml_superb.sh", ["fused", "ws", str(ML_SUPERB_MINI), str(tmp_path / mode)], CACHE="1", CACHE_DIR=str(cache),
                                        MODE=mode, STEPS="1", OVERRIDES=ML_SUPERB_OVERRIDES, **extra))
        if mode == "mono":
            mono_shards = shard_times(cache)
            assert len(Manifest.load(cache).utterances) == len(ml_superb_files(ML_SUPERB_MINI, "mono", ["eng1"]))
    assert len(Manifest.load(cache).utterances) == len(ml_superb_files(ML_SUPERB_MINI, "multi", []))
    assert {name: time for name, time in shard_times(cache).items() if name in mono_shards} == mono_shards
    for mode, expdir in (("mono", tmp_path / "mono" / "eng1"), ("multi", tmp_path / "multi")):
        assert_ran_from(expdir, cache)
        test_results = json.loads((expdir / "test-results.json").read_text())
        # STEPS=1 lowers eval_step to 1: dev is scored, and the default SELECTION decodes the dev-loss average
        assert test_results["mode"] == mode and test_results["checkpoint"] == str(expdir / "dev-loss-ave.ckpt")
        scored = json.loads((tmp_path / mode / "result.json").read_text())
        assert scored["mode"] == mode and [member["label"] for member in scored["members"]] == DEMO_MEMBERS


# The recipes' cache switch ------------------------------------------------------------------------


def cache_choice(upstream: str, *flags: str, **environment: str) -> str:
    script = 'source recipes/lib.sh; fusion_use_cache "$@"; echo "dir=$FUSION_CACHE_DIR k=$FUSION_UPSTREAM_CKPT flags=${FUSION_RUNNER_FLAGS[*]}"'
    result = subprocess.run(["bash", "-c", script, "bash", upstream, "OUT", *flags], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DEVICE": "cpu", **environment}, check=True)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def test_recipes_cache_fused_upstreams_only_and_move_their_k_to_the_build():
    assert cache_choice("fused", "-k", "a,b", "--seed", "3", CACHE="1") == "dir=OUT/cache k=a,b flags=--seed 3"
    assert cache_choice("fused_wavlm_whisper", CACHE="1", CACHE_DIR="shared") == "dir=shared k= flags="
    assert cache_choice("fused", "-k", "a,b") == "dir= k= flags=-k a,b"
    assert cache_choice("hf_ssl", "-k", "microsoft/wavlm-base-plus", CACHE="1") == "dir= k= flags=-k microsoft/wavlm-base-plus"
    printed = subprocess.run(["bash", "-c", 'source recipes/lib.sh; fusion_use_cache hf_ssl OUT'], cwd=REPO_ROOT, capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "DEVICE": "cpu", "CACHE": "1"}, check=True).stdout
    assert "-u hf_ssl is not a fused upstream" in printed and "running it on the fly" in printed


def test_a_recipe_with_cache_refuses_fine_tuning_before_building(tmp_path):
    """-f fine-tunes the members, which a feature cache holds frozen: CACHE=1 stops before any cache is built."""
    out_dir = tmp_path / "out"
    result = run_recipe("asr.sh", ["fused", "ws", str(REPO_ROOT / "corpora" / "LibriSpeech"), str(out_dir), "-f"], CACHE="1", STEPS="1")
    message = user_error_line(result)
    assert "-f (--upstream_trainable) fine-tunes the upstream" in message and "drop CACHE=1" in message and "drop -f" in message
    assert not (out_dir / "cache").exists() and not list(out_dir.glob("*.ckpt"))
