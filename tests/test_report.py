"""`s3prl-fusion report`: result.json files -> the paper's table layout (Markdown, CSV, PNG)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import yaml

from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.results.report import UpstreamSet, describe_upstream, paper_rows, write_report
from s3prl_fusion.results.ml_superb import MONO_LANGUAGES, read_result


def write_result(folder: Path, task: str, upstream: str, interface: str, value: float, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    result = {"task": task, "split": "test", "upstream": upstream, "interface": interface, "value": value, **extra}
    (folder / "result.json").write_text(json.dumps(result))
    return folder / "result.json"


@pytest.mark.parametrize(
    "upstream, ckpt, expected",
    [
        ("fused_hubert_wavlm", None, UpstreamSet("HuBERT+WavLM", "base", "SSL+SSL")),
        ("fused_wavlm_whisper_en", None, UpstreamSet("Whisper+WavLM", "base", "Whisper+SSL")),
        ("fused_hubert_wavlm_whisper", None, UpstreamSet("Whisper+HuBERT+WavLM", "base", "Whisper+SSL")),
        ("fused_wavlmlarge_whispermedium", None, UpstreamSet("Whisper Medium+WavLM Large", "large", "Whisper+SSL")),
        ("fused_data2veclarge_wavlmlarge", None, UpstreamSet("Data2Vec Large+WavLM Large", "large", "SSL+SSL")),
        ("whisper_small_en", None, UpstreamSet("Whisper", "base", "Single models")),
        ("whisper_medium", None, UpstreamSet("Whisper Medium", "large", "Single models")),
        ("hf_ssl", "microsoft/wavlm-base-plus", UpstreamSet("WavLM", "base", "Single models")),
        ("hf_ssl", "microsoft/wavlm-large", UpstreamSet("WavLM Large", "large", "Single models")),
        ("wavlm_base_plus", None, UpstreamSet("WavLM", "base", "Single models")),
        ("fused", "hubert_base,whisper_small", UpstreamSet("Whisper+HuBERT", "base", "Whisper+SSL")),
    ],
)
def test_upstream_sets_are_named_and_grouped_like_the_paper(upstream, ckpt, expected):
    assert describe_upstream(upstream, ckpt) == expected


@pytest.fixture()
def report(tmp_path) -> Path:
    root = tmp_path / "results"
    write_result(root / "hw-hconv/asr", "asr", "fused_hubert_wavlm", "hconv", 4.9, metric="wer")
    write_result(root / "hw-ws/asr", "asr", "fused_hubert_wavlm", "ws", 5.5, metric="wer")
    write_result(root / "hw-ws/emotion", "emotion", "fused_hubert_wavlm", "ws", 68.0, metric="acc", per_fold={f"fold{n}": 68.0 for n in range(1, 6)})
    write_result(root / "hw-ws/emotion/fold1", "emotion", "fused_hubert_wavlm", "ws", 1.0, metric="acc")
    write_result(root / "hw-hconv/emotion", "emotion", "fused_hubert_wavlm", "hconv", 70.0, metric="acc")
    write_result(root / "ws-chconv/mono", "ml_superb", "fused_wavlm_whisper", "chconv", 23.0, mode="mono",
                 per_language={"eng1": 20.0, "jpn": 26.0})
    write_result(root / "ws-chconv/multi", "ml_superb", "fused_wavlm_whisper", "chconv", 21.0, mode="multi", per_language={"eng": 21.0})
    single = root / "wavlm-ws/sv"
    write_result(single, "sv_voxceleb1", "hf_ssl", "ws", 3.5, metric="eer", selection="best-test")
    (single / "args_2025-01-01-00-00-00.yaml").write_text(yaml.safe_dump({"upstream": "hf_ssl", "upstream_ckpt": "microsoft/wavlm-base-plus"}))
    write_result(root / "large/sv", "sv_voxceleb1", "fused_wavlmlarge_whispermedium", "hconv", 2.3, metric="eer", selection="best-test")
    write_result(root / "other/task", "some_new_task", "fused_hubert_wavlm", "ws", 1.0)
    write_report(root, tmp_path / "report")
    return tmp_path / "report"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_main_csv_has_one_row_per_upstream_set_and_interface_in_paper_order(report):
    rows = read_csv(report / "main.csv")
    assert [(row["scale"], row["section"], row["upstreams"], row["interface"]) for row in rows] == [
        ("base", "Single models", "WavLM", "ws"),
        ("base", "SSL+SSL", "HuBERT+WavLM", "ws"),
        ("base", "SSL+SSL", "HuBERT+WavLM", "hconv"),
        ("base", "Whisper+SSL", "Whisper+WavLM", "chconv"),
        ("large", "Whisper+SSL", "Whisper Medium+WavLM Large", "hconv"),
    ]


def test_best_per_section_follows_each_metric_direction(report):
    rows = {(row["upstreams"], row["interface"]): row for row in read_csv(report / "main.csv")}
    hconv, ws = rows["HuBERT+WavLM", "hconv"], rows["HuBERT+WavLM", "ws"]
    assert (hconv["ls_wer"], hconv["ls_wer_best"], ws["ls_wer_best"]) == ("4.90", "1", "0")  # lower WER wins
    assert (hconv["er_acc"], hconv["er_acc_best"], ws["er_acc_best"]) == ("70.00", "1", "0")  # higher accuracy wins
    assert ws["er_acc"] == "68.00"  # the combined 5-fold result, not a fold's own result.json
    assert rows["WavLM", "ws"]["sv_eer_best"] == "1"  # alone in its section
    markdown = (report / "main.md").read_text()
    assert "| HuBERT+WavLM | HConv | - | **4.90** | - | - | - | **70.00** |" in markdown
    assert "| HuBERT+WavLM | WS | - | 5.50 | - | - | - | 68.00 |" in markdown


def paper_cell(upstreams: str, interface: str, column: str) -> str:
    """The report's text of the paper's number in ``column`` of a row (``data/paper_results.yaml``)."""
    return f"{paper_rows()[upstreams, interface][1][column]:.2f}"


def test_paper_numbers_sit_beside_matching_rows_and_missing_cells_are_dashes(report):
    rows = {(row["upstreams"], row["interface"]): row for row in read_csv(report / "main.csv")}
    assert rows["HuBERT+WavLM", "hconv"]["ls_wer_paper"] == paper_cell("HuBERT+WavLM", "hconv", "ls_wer")
    assert rows["Whisper+WavLM", "chconv"]["multi_cer_paper"] == paper_cell("Whisper+WavLM", "chconv", "multi_cer")
    assert rows["Whisper Medium+WavLM Large", "hconv"]["sv_eer_paper"] == paper_cell("Whisper Medium+WavLM Large", "hconv", "sv_eer")
    assert rows["Whisper Medium+WavLM Large", "hconv"]["ls_wer_paper"] == "-"
    assert rows["Whisper+WavLM", "chconv"]["ls_wer"] == "-"
    markdown = (report / "main.md").read_text()
    assert "## Base — Single models" in markdown and "## Large — Whisper+SSL" in markdown
    assert "Whisper+best SSL" in markdown


def test_per_language_table_lists_mono_rows_with_their_average(report):
    rows = read_csv(report / "per_language.csv")
    assert [row["upstreams"] for row in rows] == ["Whisper+WavLM"]
    assert list(rows[0])[5:] == [key for language in (*MONO_LANGUAGES, "average") for key in (language, f"{language}_best", f"{language}_note")]
    assert (rows[0]["eng1"], rows[0]["jpn"], rows[0]["average"], rows[0]["fra1"]) == ("20.00", "26.00", "23.00", "-")
    assert "eng1" in (report / "per_language.md").read_text()


def test_chart_is_a_png(report):
    assert (report / "main.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_of_two_results_for_one_cell_the_newer_wins(tmp_path, capsys):
    root = tmp_path / "results"
    old = write_result(root / "a", "asr", "fused_hubert_wavlm", "ws", 9.0)
    new = write_result(root / "b", "asr", "fused_hubert_wavlm", "ws", 5.0)
    os.utime(old, (1, 1))
    write_report(root, tmp_path / "report")
    assert read_csv(tmp_path / "report" / "main.csv")[0]["ls_wer"] == "5.00"
    assert str(new) in capsys.readouterr().err


def test_report_command_names_a_missing_results_folder(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="--results"):
        write_report(tmp_path / "nothing", tmp_path / "report")
    with pytest.raises(SystemExit) as ended:
        cli_main(["report", "--results", str(tmp_path / "nothing"), "--out", str(tmp_path / "report")])
    assert ended.value.code == 2 and "--results" in capsys.readouterr().err


def expert_results(folder: Path, mode: str, language: str | None, error_rate: float, per_language: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "mode": mode, "language": language, "metric": "cer", "overall": {"error_rate": error_rate},
        "per_language": {name: {"error_rate": rate} for name, rate in per_language.items()},
    }
    (folder / "test-results.json").write_text(json.dumps(results))


def test_ml_superb_mono_result_averages_the_language_experiments(tmp_path):
    expert_results(tmp_path / "eng1", "mono", "eng1", 10.0, {"eng": 10.0})
    expert_results(tmp_path / "jpn", "mono", "jpn", 30.0, {"jpn": 30.0})
    result = read_result(tmp_path, "test")
    assert result["value"] == 20.0 and result["mode"] == "mono"
    assert result["per_language"] == {"eng1": 10.0, "jpn": 30.0}
    assert len(result["missing_languages"]) == len(MONO_LANGUAGES) - 2


def test_ml_superb_multi_result_keeps_the_per_language_rates(tmp_path):
    expert_results(tmp_path, "multi", None, 25.0, {"eng": 20.0, "lit": 40.0})
    result = read_result(tmp_path, "test")
    assert (result["value"], result["mode"], result["per_language"]) == (25.0, "multi", {"eng": 20.0, "lit": 40.0})


def test_ml_superb_result_names_what_to_evaluate_when_nothing_is_there(tmp_path):
    with pytest.raises(FileNotFoundError, match="-m evaluate -t test"):
        read_result(tmp_path, "test")


def test_per_language_average_is_espnets_mean_over_languages_of_their_sources():
    """eng1 10 and eng2 30 make English 20; with Russian 40 the average is 30, not the plain 26.67."""
    from s3prl_fusion.results.report import Row, with_language_average

    row = Row(upstreams=None, interface="hconv", values={"eng1": 10.0, "eng2": 30.0, "rus": 40.0, "ls_wer": 5.0})
    [averaged] = with_language_average([row, Row(upstreams=None, interface="ws", values={"ls_wer": 5.0})])
    assert averaged.values["average"] == 30.0
