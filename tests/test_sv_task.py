"""SUPERB speaker verification through recipes/sv.sh on the bundled mini VoxCeleb1, with tiny
random fused members: s3prl's x-vector head and the simplified head, resume, scoring, and the
plugin's fixes to s3prl's sv_voxceleb1 dataset / expert."""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, checked, run_recipe
from outcomes_checks import checked_outcomes
from test_submit import submitted_alone

VOXCELEB1_MINI = REPO_ROOT / "corpora" / "VoxCeleb1"
SMOKE_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.vad_config.min_sec=8000",
    "config.downstream_expert.datarc.train_batch_size=2",
    "config.downstream_expert.datarc.eval_batch_size=16",  # one forward over the 16 test files
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
    "config.runner.save_step=1",
])


@pytest.fixture(scope="module")
def sv_environment(tmp_path_factory) -> dict:
    return {
        "TEST_TRIALS": str(VOXCELEB1_MINI / "veri_test_mini.txt"),
        "DEV_TRIALS": str(VOXCELEB1_MINI / "veri_dev_mini.txt"),
        "OVERRIDES": SMOKE_OVERRIDES,
        "S3PRL_FUSION_CACHE": str(tmp_path_factory.mktemp("cache")),
    }


def run_sv(out_dir: Path, environment: dict, steps: int, **extra: str) -> subprocess.CompletedProcess:
    return checked(run_recipe("sv.sh", ["fused", "hconv", str(VOXCELEB1_MINI), str(out_dir)], STEPS=str(steps), **environment, **extra))


def assert_valid_eer_result(out_dir: Path) -> dict:
    result = json.loads((out_dir / "result.json").read_text())
    assert result["task"] == "sv_voxceleb1" and result["metric"] == "eer" and result["lower_is_better"] is True
    assert result["interface"] == "hconv" and result["trials"] == 48
    assert math.isfinite(result["value"]) and 0.0 <= result["value"] <= 100.0
    return result


@pytest.fixture(scope="module")
def superb_run(tmp_path_factory, sv_environment) -> tuple[Path, subprocess.CompletedProcess]:
    out_dir = tmp_path_factory.mktemp("sv") / "fused-hconv"
    return out_dir, run_sv(out_dir, sv_environment, steps=1, SV_SELECT="newest")


def test_superb_head_trains_and_scores_the_test_trials(superb_run, tmp_path):
    out_dir, run = superb_run
    result = assert_valid_eer_result(out_dir)
    printed_eer = float(run.stdout.split("sv-voxceleb1/test-EER:")[1].split()[0])
    assert result["value"] == pytest.approx(100 * printed_eer)  # the EER s3prl itself prints
    assert result["seed"] == 1337  # s3prl's --seed, which the recipe leaves at its default
    outcomes = checked_outcomes(out_dir / "result.json", tmp_path, units="speaker")  # the EER recomputed from the trials
    trials = [line.split() for line in (VOXCELEB1_MINI / "veri_test_mini.txt").read_text().splitlines()]
    assert list(outcomes.columns["label"]) == [int(label) for label, _, _ in trials]
    assert list(outcomes.units) == [enrolment.split("/")[0] for _, enrolment, _ in trials]  # each trial's enrolment speaker
    checkpoint = torch.load(out_dir / "states-1.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["Args"].upstream_feature_selection == "hconv"
    downstream = checkpoint["Downstream"]
    assert downstream["connector.weight"].shape[0] == 512
    assert downstream["model.framelevel_feature_extractor.module.4.kernel.weight"].shape == (1500, 512)  # x-vector TDNN 5
    assert downstream["model.utterancelevel_feature_extractor.linear1.weight"].shape == (512, 3000)
    assert "objective.W" in downstream  # AM-softmax


def test_newest_checkpoints_trial_scores_go_into_the_submission(superb_run, tmp_path):
    submitted_alone(tmp_path, "asv", superb_run[0], "predict/sv_public/predict.txt")


def test_rerun_resumes_from_the_newest_checkpoint(superb_run, sv_environment):
    out_dir, _ = superb_run
    run = run_sv(out_dir, sv_environment, steps=2, SV_SELECT="newest")
    assert "[recipe] resuming" in run.stdout
    assert f"Resume from {out_dir}/states-1.ckpt" in run.stdout
    assert torch.load(out_dir / "states-2.ckpt", map_location="cpu", weights_only=False)["Step"] == 2
    result = assert_valid_eer_result(out_dir)
    assert (result["step"], result["checkpoint"]) == (2, str(out_dir / "states-2.ckpt"))  # SV_SELECT=newest: the newest only
    assert "value_by_step" not in result and not (out_dir / "test_by_step").exists()


def test_simplified_head_has_no_frame_level_layers(tmp_path, sv_environment):
    run_sv(tmp_path, sv_environment, steps=1, SV_HEAD="simplified")
    assert_valid_eer_result(tmp_path)
    downstream = torch.load(tmp_path / "states-1.ckpt", map_location="cpu", weights_only=False)["Downstream"]
    assert not any(key.startswith("model.framelevel_feature_extractor") for key in downstream)
    assert downstream["model.utterancelevel_feature_extractor.linear.weight"].shape == (512, 1024)  # stats of 512 dims
    assert "objective.weight" in downstream  # AAM-softmax


def test_missing_data_names_the_path_and_where_to_get_it(tmp_path):
    run = run_recipe("sv.sh", ["fused", "hconv", str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert run.returncode == 1
    assert f"VoxCeleb1 dev audio not found at {tmp_path}/nowhere/dev/wav" in run.stderr
    assert "robots.ox.ac.uk/~vgg/data/voxceleb" in run.stderr
    run = run_recipe("sv.sh", ["fused", "hconv", str(VOXCELEB1_MINI), str(tmp_path / "out")])
    assert run.returncode == 1 and f"test trial list not found at {VOXCELEB1_MINI}/veri_test2.txt" in run.stderr
    assert "or set TEST_TRIALS" in run.stderr


def test_unknown_head_is_refused(tmp_path):
    run = run_recipe("sv.sh", ["fused", "hconv", str(VOXCELEB1_MINI), str(tmp_path)], SV_HEAD="tiny")
    assert run.returncode == 2 and "SV_HEAD=superb or SV_HEAD=simplified" in run.stderr


@pytest.fixture
def sv_dataset_module(tmp_path, monkeypatch):
    monkeypatch.setenv("S3PRL_FUSION_CACHE", str(tmp_path / "cache"))
    from s3prl.downstream.sv_voxceleb1 import dataset

    return dataset


def training_set(dataset_module, root: Path, min_sec: int):
    return dataset_module.SpeakerVerifi_train(
        vad_config={"min_sec": min_sec}, key_list=["Voxceleb1"], file_path=[root], meta_data="unused", max_timestep=16000
    )


def test_training_lengths_are_cached_per_data_folder_outside_s3prl(sv_dataset_module, tmp_path):
    train = training_set(sv_dataset_module, VOXCELEB1_MINI / "dev" / "wav", min_sec=8000)
    assert train.speaker_num == 8 and len(train) == 32
    wav, utterance, label = train[0]
    assert wav.ndim == 1 and 0 < len(wav) <= 16000 and utterance.startswith("id1000") and 0 <= label < 8
    other = training_set(sv_dataset_module, VOXCELEB1_MINI / "test" / "wav", min_sec=8000)
    assert other.speaker_num == 4 and len(other) == 16  # not the dev folder's cached table
    caches = sorted((tmp_path / "cache" / "sv_voxceleb1_lengths").glob("*.json"))
    assert len(caches) == 2
    assert {json.loads(path.read_text())["root"] for path in caches} == {
        str((VOXCELEB1_MINI / split / "wav").resolve()) for split in ("dev", "test")
    }


def test_training_set_errors_name_the_setting_to_fix(sv_dataset_module, tmp_path):
    with pytest.raises(FileNotFoundError, match="datarc.file_path"):
        training_set(sv_dataset_module, tmp_path / "missing", min_sec=8000)
    with pytest.raises(ValueError, match="vad_config.min_sec=8000"):
        training_set(sv_dataset_module, VOXCELEB1_MINI / "dev" / "wav", min_sec=32000)


def test_eer_matches_s3prl_definition():
    from s3prl.downstream.sv_voxceleb1.utils import EER

    from s3prl_fusion.results.sv import equal_error_rate

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.3 + rng.normal(0, 0.3, 200)
    assert equal_error_rate(labels, scores) == pytest.approx(EER(labels, scores)[0])
