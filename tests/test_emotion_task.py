"""SUPERB emotion recognition: IEMOCAP meta data, the per-fold accuracy reader, and
recipes/emotion.sh end to end on the bundled mini IEMOCAP with tiny random fused members."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import REPO_ROOT, checked, run_recipe
from outcomes_checks import checked_outcomes
from test_submit import submitted_alone
from s3prl_fusion.prepare.iemocap import LABELS, write_meta_data
from s3prl_fusion.results.emotion import read_result

IEMOCAP_MINI = REPO_ROOT / "corpora" / "IEMOCAP" / "IEMOCAP_full_release"
SMOKE_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.train_batch_size=2",
    "config.downstream_expert.datarc.eval_batch_size=8",
    "config.downstream_expert.datarc.num_workers=0",
    "config.runner.gradient_accumulate_steps=1",
    "config.runner.save_step=1",
])


def load_split(meta_dir: Path, session: int, split: str) -> dict:
    return json.loads((meta_dir / f"Session{session}" / f"{split}_meta_data.json").read_text())


def test_meta_data_holds_out_one_session_per_fold(tmp_path):
    written = write_meta_data(IEMOCAP_MINI, tmp_path)
    assert len(written) == 10
    for session in range(1, 6):
        train, test = load_split(tmp_path, session, "train"), load_split(tmp_path, session, "test")
        assert train["labels"] == test["labels"] == {"neu": 0, "hap": 1, "ang": 2, "sad": 3}
        assert len(test["meta_data"]) == 8 and len(train["meta_data"]) == 32
        assert all(item["path"].startswith(f"Session{session}/sentences/wav/") for item in test["meta_data"])
        assert not any(item["path"].startswith(f"Session{session}/") for item in train["meta_data"])
        assert all((IEMOCAP_MINI / item["path"]).is_file() for item in train["meta_data"] + test["meta_data"])
        assert sorted(item["label"] for item in test["meta_data"]) == sorted(sorted(LABELS) * 2)
        assert {item["speaker"] for item in test["meta_data"]} == {f"Ses0{session}F", f"Ses0{session}M"}


def test_meta_data_merges_exc_and_skips_other_labels_and_missing_audio(tmp_path):
    session = tmp_path / "IEMOCAP_full_release" / "Session1"
    (session / "dialog" / "EmoEvaluation").mkdir(parents=True)
    (session / "sentences" / "wav" / "Ses01F_impro01").mkdir(parents=True)
    for name in ("Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses01F_impro01_F002"):
        (session / "sentences" / "wav" / "Ses01F_impro01" / f"{name}.wav").touch()
    (session / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt").write_text(
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[1.0 - 2.0]\tSes01F_impro01_F000\texc\t[3.0, 3.0, 3.0]\n"
        "C-E1:\tExcited;\t()\n"
        "[2.0 - 3.0]\tSes01F_impro01_M001\tfru\t[2.0, 3.0, 3.0]\n"
        "[3.0 - 4.0]\tSes01F_impro01_F002\tsad\t[2.0, 2.0, 2.0]\n"
        "[4.0 - 5.0]\tSes01F_impro01_F003\tneu\t[3.0, 3.0, 3.0]\n"
    )
    write_meta_data(tmp_path / "IEMOCAP_full_release", tmp_path / "meta")
    test = load_split(tmp_path / "meta", 1, "test")["meta_data"]
    assert [(item["path"].rsplit("/", 1)[1], item["label"]) for item in test] == [
        ("Ses01F_impro01_F000.wav", "hap"), ("Ses01F_impro01_F002.wav", "sad"),
    ]
    assert load_split(tmp_path / "meta", 1, "train")["meta_data"] == []


def test_missing_root_says_which_folder_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass the IEMOCAP_full_release folder as --root"):
        write_meta_data(tmp_path, tmp_path / "meta")


def write_fold(folder: Path, fold: str, truth: list[str], predicted: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"utt{index}" for index in range(len(truth))]
    (folder / f"test_{fold}_truth.txt").write_text("".join(f"{name} {label}\n" for name, label in zip(names, truth)))
    (folder / f"test_{fold}_predict.txt").write_text("".join(f"{name} {label}\n" for name, label in zip(names, predicted)))


def test_result_averages_fold_accuracies(tmp_path):
    write_fold(tmp_path / "fold1", "fold1", ["neu", "hap", "ang", "sad"], ["neu", "hap", "ang", "sad"])
    write_fold(tmp_path / "fold2", "fold2", ["neu", "hap", "ang", "sad"], ["neu", "neu", "neu", "neu"])
    write_fold(tmp_path / "fold3", "fold3", ["neu", "sad"], ["sad", "neu"])
    result = read_result(tmp_path, "test")
    assert result["metric"] == "acc"
    assert result["per_fold"] == {"fold1": 100.0, "fold2": 25.0, "fold3": 0.0}
    assert result["value"] == pytest.approx(125.0 / 3)
    assert read_result(tmp_path / "fold2", "test")["per_fold"] == {"fold2": 25.0}


def test_result_without_evaluated_folds_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="-m evaluate"):
        read_result(tmp_path, "test")


@pytest.fixture(scope="module")
def emotion_runs(tmp_path_factory) -> tuple[Path, list[str]]:
    """The recipe one fold at a time (FOLD, as a grid's cells run it), then once more over both folds; its
    output folder and the three runs' outputs."""
    out_dir = tmp_path_factory.mktemp("emotion") / "fused-ws"
    arguments = ["fused", "ws", str(IEMOCAP_MINI), str(out_dir)]
    outputs = []
    for fold in ("2", "1", ""):
        run = checked(run_recipe("emotion.sh", arguments, STEPS="1", FOLDS="1 2", FOLD=fold, OVERRIDES=SMOKE_OVERRIDES))
        outputs.append(run.stdout)
        if fold == "2":
            assert not (out_dir / "result.json").exists() and not (out_dir / "fold1").exists()
    return out_dir, outputs


@pytest.fixture(scope="module")
def emotion_run(emotion_runs) -> Path:
    return emotion_runs[0]


def test_one_fold_at_a_time_writes_the_mean_once_every_fold_is_scored(emotion_runs):
    out_dir, (second, first, both) = emotion_runs
    assert f"fold 1 has no result yet: {out_dir}/result.json waits for it" in second
    assert "waits for it" not in first and '"fold2": ' in first  # the mean over both folds, scored by fold 1's run
    assert both.count("exists, skipping") == 2 and '"fold2": ' in both


def test_recipe_trains_and_tests_each_fold_and_averages(emotion_run, tmp_path):
    result = json.loads((emotion_run / "result.json").read_text())
    assert result["task"] == "emotion" and result["metric"] == "acc" and result["lower_is_better"] is False
    assert result["interface"] == "ws" and set(result["per_fold"]) == {"fold1", "fold2"}
    assert all(math.isfinite(value) and 0.0 <= value <= 100.0 for value in result["per_fold"].values())
    assert result["value"] == pytest.approx(sum(result["per_fold"].values()) / 2)
    for fold in ("fold1", "fold2"):
        assert (emotion_run / fold / "states-1.ckpt").is_file()
        assert len((emotion_run / fold / f"test_{fold}_truth.txt").read_text().splitlines()) == 8
        assert json.loads((emotion_run / fold / "result.json").read_text())["per_fold"].keys() == {fold}
    assert (emotion_run / "meta_data" / "Session5" / "test_meta_data.json").is_file()
    assert result["seed"] == 1337
    outcomes = checked_outcomes(emotion_run / "result.json", tmp_path, units="utterance")  # the mean of fold accuracies
    assert sorted(set(outcomes.strata)) == ["fold1", "fold2"] and len(outcomes) == 16
    for fold in ("fold1", "fold2"):
        rows = outcomes.strata == fold
        assert 100 * outcomes.columns["correct"][rows].mean() == pytest.approx(result["per_fold"][fold])


def test_recipe_folds_go_into_the_submission(emotion_run, tmp_path):
    submitted_alone(tmp_path, "er", emotion_run, "predict/er_fold1_public/predict.txt", "predict/er_fold2_public/predict.txt")


def test_missing_session_names_the_path_and_where_to_get_it(tmp_path):
    run = run_recipe("emotion.sh", ["fused", "ws", str(tmp_path), str(tmp_path / "out")])
    assert run.returncode == 1
    assert f"IEMOCAP Session1 labels not found at {tmp_path}/Session1/dialog/EmoEvaluation" in run.stderr
    assert "sail.usc.edu/iemocap" in run.stderr
