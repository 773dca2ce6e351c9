"""Which checkpoint the recipes evaluate, and s3prl's SV protocol (best of every checkpoint on the
test trials), on a real short SV run that saves three checkpoints into a folder whose path has
hyphens and dots: steps 4, 8 and 12, whose names sort 12 < 4 < 8 as text."""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO_ROOT, checked, run_recipe
from outcomes_checks import checked_outcomes
from s3prl_fusion.experiments.resume import newest_intact_checkpoint
from s3prl_fusion.results.report import write_report
from s3prl_fusion.results import ScoringError, write_result
from s3prl_fusion.results.provenance import newest_checkpoints_under

VOXCELEB1_MINI = REPO_ROOT / "corpora" / "VoxCeleb1"
STEPS = (4, 8, 12)
SV_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.vad_config.min_sec=8000",
    "config.downstream_expert.datarc.train_batch_size=2",
    "config.downstream_expert.datarc.eval_batch_size=16",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
    f"config.runner.save_step={STEPS[0]}",
])


def lib_function(function: str, *arguments: str) -> str:
    """The output of one of recipes/lib.sh's functions, run in bash."""
    script = f'source "{REPO_ROOT}/recipes/lib.sh"; {function} "$@"'
    environment = {"PYTHON": sys.executable, "PYTHONPATH": str(REPO_ROOT), "DEVICE": "cpu", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["bash", "-c", script, "lib.sh", *arguments], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def sv_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out_dir = tmp_path_factory.mktemp("table") / "fused_demo-hconv.v1" / "sv"
    run = checked(run_recipe(
        "sv.sh", ["fused", "hconv", str(VOXCELEB1_MINI), str(out_dir)], STEPS=str(STEPS[-1]), OVERRIDES=SV_OVERRIDES,
        TEST_TRIALS=str(VOXCELEB1_MINI / "veri_test_mini.txt"), S3PRL_FUSION_CACHE=str(tmp_path_factory.mktemp("cache")),
    ))
    return out_dir, run


def test_the_newest_checkpoint_is_the_highest_step_whatever_the_folder_is_called(sv_run, tmp_path):
    out_dir, _ = sv_run
    assert sorted(path.name for path in out_dir.glob("states-*.ckpt")) == [f"states-{step}.ckpt" for step in (12, 4, 8)]
    assert lib_function("fusion_best_checkpoint", str(out_dir)) == str(out_dir / "states-12.ckpt")
    for folder in ("wavlm-ws/sv", "whisper_best_ssl-hconv.v2/sv", "run 3-a/sv-1.5"):
        copies = tmp_path / folder
        copies.mkdir(parents=True)
        for source, step in zip(STEPS, (90000, 100000, 200000)):
            shutil.copy(out_dir / f"states-{source}.ckpt", copies / f"states-{step}.ckpt")
        assert lib_function("fusion_best_checkpoint", str(copies)) == str(copies / "states-200000.ckpt")
        assert lib_function("fusion_checkpoints", str(copies)).splitlines() == [str(copies / f"states-{step}.ckpt") for step in (90000, 100000, 200000)]


def test_recipes_resume_and_results_agree_on_the_newest_checkpoint_whatever_the_file_times(tmp_path):
    """Three checkpoints whose file times run against their steps (states-5 written last), the
    highest step truncated: the newest is the highest intact step for the recipes, -e and results."""
    folder = tmp_path / "run"
    folder.mkdir()
    checkpoint = {"Args": argparse.Namespace(upstream="fused", upstream_feature_selection="hconv"), "Config": {}}
    for step, written_at in ((20, 100), (10, 200), (5, 300)):
        torch.save({**checkpoint, "Step": step}, folder / f"states-{step}.ckpt")
        os.utime(folder / f"states-{step}.ckpt", (written_at, written_at))
    truncated = folder / "states-20.ckpt"
    truncated.write_bytes(truncated.read_bytes()[:100])
    os.utime(truncated, (100, 100))
    expected = folder / "states-10.ckpt"
    assert lib_function("fusion_newest_checkpoint", str(folder)) == str(expected)
    assert newest_intact_checkpoint(folder) == expected
    assert newest_checkpoints_under(folder) == [expected]
    assert newest_checkpoints_under(tmp_path) == [expected]  # a folder of runs (folds, languages): each run's newest


def printed_test_eers(stdout: str) -> dict[int, float]:
    """{step: EER in %} of each checkpoint the recipe evaluated, as s3prl's evaluation printed it."""
    steps = [int(step) for step in re.findall(r"\[Runner\] - Resume from .*/states-(\d+)\.ckpt", stdout)]
    eers = [100 * float(eer) for eer in re.findall(r"sv-voxceleb1/test-EER: ([0-9.eE+-]+)", stdout)]
    assert len(steps) == len(eers) == len(STEPS), stdout[-3000:]
    return dict(zip(steps, eers))


def test_sv_reports_the_best_checkpoint_on_test_and_says_which(sv_run, tmp_path):
    out_dir, run = sv_run
    result = json.loads((out_dir / "result.json").read_text())
    printed = printed_test_eers(run.stdout)
    assert sorted(printed) == list(STEPS)  # every saved checkpoint was scored on the test trials
    assert result["value_by_step"] == pytest.approx({str(step): eer for step, eer in printed.items()})
    best_step = min(STEPS, key=lambda step: (printed[step], -step))
    assert result["selection"] == "best-test" and result["step"] == best_step
    assert result["value"] == pytest.approx(printed[best_step]) and result["trials"] == 48
    assert result["checkpoint"] == str(out_dir / f"states-{best_step}.ckpt")
    for step in STEPS:
        assert {path.name for path in (out_dir / "test_by_step" / str(step)).iterdir()} == {"test_predict.txt", "test_truth.txt"}
    outcomes = checked_outcomes(out_dir / "result.json", tmp_path, units="speaker")
    selected = [line.split() for line in (out_dir / "test_by_step" / str(best_step) / "test_predict.txt").read_text().splitlines()]
    assert list(outcomes.ids) == [pair for pair, _ in selected]
    assert list(outcomes.columns["score"]) == [float(score) for _, score in selected]  # the selected checkpoint's trials


def test_sv_result_records_the_members_it_was_evaluated_with(sv_run, tmp_path):
    out_dir, _ = sv_run
    result = json.loads((out_dir / "result.json").read_text())
    members = [(member["label"], member["kind"], member["source"]["model_type"] if member["kind"] == "hf" else None, member.get("length_mode"))
               for member in result["members"]]
    assert members == [("wavlm_small_random", "hf", "wavlm", None), ("whisper_small_random", "whisper", None, "exact")]
    write_report(out_dir.parent.parent, tmp_path / "report")
    main = (tmp_path / "report" / "main.md").read_text()
    assert "## Base — Whisper+SSL" in main and "| Whisper+WavLM | HConv | exact |" in main  # not "fused", not a single model


def test_best_test_selection_is_only_offered_for_sv(sv_run):
    out_dir, _ = sv_run
    with pytest.raises(ScoringError, match="--select best-test is not offered for task asr"):
        write_result("asr", out_dir, "test", select="best-test")


def test_unknown_selection_is_refused(tmp_path):
    run = run_recipe("sv.sh", ["fused", "hconv", str(VOXCELEB1_MINI), str(tmp_path)], SV_SELECT="best-dev")
    assert run.returncode == 2 and "use SV_SELECT=best-test or SV_SELECT=newest" in run.stderr
