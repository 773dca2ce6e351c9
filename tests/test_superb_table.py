"""`s3prl-fusion report`'s SUPERB table: every task's number per row and the SUPERB score, checked
against hand computations; a score over a part of the ten tasks is marked partial, never shown as
the SUPERB score."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.results.superb_table import superb_references, superb_score, superb_tasks

TASK_RESULTS = {  # SUPERB task -> (result.json task, extra keys)
    "pr": "libriphone", "ks": "speech_commands", "ic": "fluent_commands", "sid": "voxceleb1", "er": "emotion",
    "asr": "asr", "qbe": "quesst14_dtw", "sf": "snips", "asv": "sv_voxceleb1", "sd": "diarization",
}


def reference(title: str):
    return next(entry for entry in superb_references()[1] if entry.title == title)


def at(fraction: float, title: str) -> float:
    """The number a fraction of the way from FBANK's to the state of the art's."""
    entry = reference(title)
    return entry.fbank + fraction * (entry.sota - entry.fbank)


def test_the_reference_file_covers_the_ten_tasks_each_metric_pointing_its_way():
    definition, references = superb_references()
    assert superb_tasks() == ["pr", "ks", "ic", "sid", "er", "asr", "qbe", "sf", "asv", "sd"]
    assert definition["scale"] == 1000 and "2210.08634" in definition["source"]
    for entry in references:
        assert (entry.sota < entry.fbank) == entry.lower_is_better, entry.title
        assert TASK_RESULTS[entry.task] == entry.result_task


def test_score_is_the_mean_of_linearly_scaled_tasks_times_1000():
    titles = [entry.title for entry in superb_references()[1]]
    assert superb_score({title: at(0.0, title) for title in titles}).value == pytest.approx(0.0)
    assert superb_score({title: at(1.0, title) for title in titles}).value == pytest.approx(1000.0)
    values = {title: at(0.0, title) for title in titles}
    values["PR PER"] = 3.06          # the state of the art's PER: PR scores 1
    values["SF F1"] = 92.21          # SF's F1 at the state of the art, its CER at FBANK's: SF scores (1 + 0) / 2
    values["ER acc"] = (35.39 + 70.62) / 2   # halfway: 0.5
    score = superb_score(values)
    assert score.complete and score.per_task["sf"] == pytest.approx(0.5) and score.per_task["er"] == pytest.approx(0.5)
    assert score.value == pytest.approx(1000 * (1 + 0.5 + 0.5) / 10)
    assert score.confirmed is False  # the reference numbers are marked unconfirmed in the data file


def test_a_missing_metric_leaves_its_task_out():
    titles = [entry.title for entry in superb_references()[1] if entry.title not in ("SF CER", "QbE MTWV")]
    score = superb_score({title: at(1.0, title) for title in titles})
    assert not score.complete and score.missing == ["qbe", "sf"] and score.value == pytest.approx(1000.0)


def write_result(folder: Path, task: str, interface: str, value: float, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = {"task": task, "split": "test", "upstream": "fused_hubert_wavlm", "interface": interface, "value": value, **extra}
    (folder / "result.json").write_text(json.dumps(result))


def full_run(root: Path, interface: str, fraction: float) -> None:
    for task, result_task in TASK_RESULTS.items():
        extra = {"per_fold": {f"fold{k}": 1.0 for k in range(1, 6)}} if task == "er" else {}
        if task == "asv":
            extra["selection"] = "best-test"
        if task == "sf":
            extra["cer"] = at(fraction, "SF CER")
        title = next(entry.title for entry in superb_references()[1] if entry.task == task)
        write_result(root / interface / task, result_task, interface, at(fraction, title), **extra)


def test_report_writes_the_superb_table_with_complete_and_partial_scores(tmp_path):
    root = tmp_path / "results"
    full_run(root, "hconv", 0.25)
    full_run(root, "ws", 0.5)
    for task in ("qbe", "sd"):
        (root / "ws" / task / "result.json").unlink()
    write_result(root / "ws" / "er", "emotion", "ws", at(0.5, "ER acc"), per_fold={"fold1": 1.0, "fold2": 1.0})  # 2 of 5 folds
    cli_main(["report", "--results", str(root), "--out", str(tmp_path / "report")])
    rows = {row["interface"]: row for row in csv.DictReader(open(tmp_path / "report" / "superb.csv", encoding="utf-8"))}
    assert float(rows["hconv"]["superb_score"]) == pytest.approx(250.0) and rows["hconv"]["partial_score"] == "-"
    assert rows["ws"]["superb_score"] == "-" and float(rows["ws"]["partial_score"]) == pytest.approx(500.0)
    assert rows["ws"]["tasks_scored"] == "7" and rows["ws"]["tasks_missing"] == "er qbe sd"
    assert float(rows["ws"]["PR PER"]) == pytest.approx(at(0.5, "PR PER")) and rows["ws"]["QbE MTWV"] == "-"
    markdown = (tmp_path / "report" / "superb.md").read_text(encoding="utf-8")
    hconv_line = next(line for line in markdown.splitlines() if line.startswith("| HuBERT+WavLM | HConv"))
    assert hconv_line.endswith("| 250.00‡ | - |")
    ws_line = next(line for line in markdown.splitlines() if line.startswith("| HuBERT+WavLM | WS"))
    assert ws_line.endswith("| - | 500.00‡ (7/10 tasks) |") and "\\*" in ws_line  # ER's cell is marked
    assert "HuBERT+WavLM WS: partial score, without er, qbe, sd: not a SUPERB score" in markdown
    assert "ER acc: mean of 2 of 5 folds, missing fold3, fold4, fold5; left out of the score" in markdown
    assert "not yet confirmed against the paper" in markdown and "superb_reference.yaml" in markdown
