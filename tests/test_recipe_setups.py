"""The task recipes on the bundled corpora: a run shorter than the config's save_step / eval_step
still saves and scores a checkpoint, and a re-run of an OUT_DIR with another interface stops
instead of training the old one on under the new name; a result's labels are the checkpoint's."""
from __future__ import annotations

import json
import subprocess
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from conftest import REPO_ROOT, checked, run_python, run_recipe, user_error_line
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError, write_result
from s3prl_fusion.results.outcomes import read_outcomes
from s3prl_fusion.experiments.run_steps import steps_overrides

ML_SUPERB_MINI = REPO_ROOT / "corpora" / "ml_superb"
IEMOCAP_MINI = REPO_ROOT / "corpora" / "IEMOCAP" / "IEMOCAP_full_release"
SHIPPED_CONFIGS = REPO_ROOT / "downstream_configs"
# small batches on the CPU; no save_step or eval_step: the shipped configs' (5000 and 1000) stand
ML_SUPERB_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.batch_size=4",
    "config.downstream_expert.datarc.eval_batch_size=8",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
])
ER_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.train_batch_size=2",
    "config.downstream_expert.datarc.eval_batch_size=8",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
])


@pytest.fixture(scope="module")
def mono_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out_dir = tmp_path_factory.mktemp("mono") / "fused-hconv"
    run = checked(run_recipe("ml_superb.sh", ["fused", "hconv", str(ML_SUPERB_MINI), str(out_dir)], MODE="mono", LANGUAGES="eng1", STEPS="2",
                             OVERRIDES=ML_SUPERB_OVERRIDES))
    return out_dir, run


def test_a_short_ml_superb_run_saves_and_decodes_a_checkpoint_below_the_configs_save_step(mono_run):
    out_dir, run = mono_run
    assert "[recipe] STEPS=2 < save_step 5000: saving every 2 steps" in run.stderr
    assert "[recipe] STEPS=2 < eval_step 5000: scoring dev every 2 steps" in run.stderr
    assert [path.name for path in (out_dir / "eng1").glob("states-*.ckpt")] == ["states-2.ckpt"]
    result = json.loads((out_dir / "result.json").read_text())
    assert result["per_language"].keys() == {"eng1"} and result["value"] >= 0


def test_a_short_emotion_run_saves_and_tests_a_checkpoint_below_the_configs_save_step(tmp_path):
    out_dir = tmp_path / "er"
    run = checked(run_recipe("emotion.sh", ["fused", "ws", str(IEMOCAP_MINI), str(out_dir)], STEPS="1", FOLDS="1", OVERRIDES=ER_OVERRIDES))
    assert "[recipe] STEPS=1 < save_step 1000: saving every 1 steps" in run.stderr
    assert [path.name for path in (out_dir / "fold1").glob("states-*.ckpt")] == ["states-1.ckpt"]
    assert json.loads((out_dir / "result.json").read_text())["per_fold"].keys() == {"fold1"}


def test_save_and_eval_steps_are_lowered_after_the_config_and_the_overrides():
    config = SHIPPED_CONFIGS / "asr" / "config.yaml"  # save_step 500, eval_step 2000
    assert steps_overrides(config, 20, "config.runner.save_step=10") == (
        "config.runner.save_step=10,,config.runner.eval_step=20", ["[recipe] STEPS=20 < eval_step 2000: scoring dev every 20 steps"])
    assert steps_overrides(config, 5000, "a.b=1") == ("a.b=1", [])


def test_rerunning_an_out_dir_with_another_interface_stops_and_names_both(mono_run):
    out_dir, _ = mono_run
    before = (out_dir / "result.json").read_text()
    run = run_recipe("ml_superb.sh", ["fused", "ws", str(ML_SUPERB_MINI), str(out_dir)], MODE="mono", LANGUAGES="eng1", STEPS="4",
                     OVERRIDES=ML_SUPERB_OVERRIDES)
    error = user_error_line(run)
    assert "-s ws (checkpoint: hconv)" in error and "another folder" in error and "OUT_DIR" in error
    assert [path.name for path in (out_dir / "eng1").glob("states-*.ckpt")] == ["states-2.ckpt"]  # nothing trained on
    assert (out_dir / "result.json").read_text() == before


def test_result_labels_are_the_checkpoints_set_up(mono_run):
    out_dir, _ = mono_run
    result = json.loads((out_dir / "result.json").read_text())
    assert (result["upstream"], result["interface"]) == ("fused", "hconv")
    refused = run_python(["-m", "s3prl_fusion.cli", "score", "--task", "ml_superb", "--expdir", str(out_dir), "--split", "test",
                          "--interface", "ws"], check=False)
    assert "--interface ws contradicts" in user_error_line(refused) and "trained with interface hconv" in user_error_line(refused)


def runner_checkpoint(path: Path, interface: str, step: int = 1, seed: int = 1337) -> None:
    """A checkpoint as s3prl's runner writes it, with a fusion featurizer's recorded set-up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    setup = {"interface": interface, "upstream": "fused", "members": ["wavlm", "whisper"]}
    torch.save({"Args": Namespace(upstream="fused", upstream_feature_selection=interface, seed=seed), "Config": {}, "Step": step,
                "Featurizer": {"_extra_state": setup}}, path)


def test_runs_of_one_result_trained_with_different_set_ups_are_refused(tmp_path):
    for fold, interface in (("fold1", "hconv"), ("fold2", "ws")):
        runner_checkpoint(tmp_path / fold / "states-1.ckpt", interface)
        (tmp_path / fold / f"test_{fold}_predict.txt").write_text("a neu\n")
        (tmp_path / fold / f"test_{fold}_truth.txt").write_text("a neu\n")
    with pytest.raises(ScoringError, match="trained with different set-ups \\(interface: \\['hconv'\\] vs \\['ws'\\]\\)"):
        write_result("emotion", tmp_path, "test")
    runner_checkpoint(tmp_path / "fold2" / "states-1.ckpt", "hconv", seed=2)
    with pytest.raises(ScoringError, match="trained with different set-ups \\(seed: \\[1337\\] vs \\[2\\]\\)"):
        write_result("emotion", tmp_path, "test")  # one result holds the runs of one seed
    runner_checkpoint(tmp_path / "fold2" / "states-1.ckpt", "hconv")
    result = write_result("emotion", tmp_path, "test")
    assert (result["upstream"], result["interface"], result["member_labels"]) == ("fused", "hconv", ["wavlm", "whisper"])
    assert result["seed"] == 1337


def test_a_result_without_per_utterance_outcomes_says_why(tmp_path):
    runner_checkpoint(tmp_path / "states-1.ckpt", "hconv", seed=3)
    results = {"mode": "mono", "language": "eng1", "metric": "cer", "overall": {"error_rate": 12.5, "errors": 1, "reference_tokens": 8}}
    (tmp_path / "test-results.json").write_text(json.dumps(results))  # evaluated before the scored tokens were kept
    (tmp_path / "test_outcomes.tsv").write_text("id\tunit\tstratum\n")  # left by an earlier scoring
    write_result("ml_superb", tmp_path, "test")
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["outcomes"] is None and "test-hyp.trn is missing" in result["outcomes_missing"] and result["seed"] == 3
    assert not (tmp_path / "test_outcomes.tsv").exists()
    with pytest.raises(MissingPathError, match="records no per-utterance outcomes"):
        read_outcomes(tmp_path / "result.json")
