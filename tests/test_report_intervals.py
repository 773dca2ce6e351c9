"""`s3prl-fusion report` with per-utterance outcomes: each cell's 95 % interval, seeds as mean ± sd
(pooled in the interval), the paired comparisons, the fusion analysis and their charts."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.results.outcomes import OutcomesError, write_outcomes
from s3prl_fusion.results.report import write_report

UTTERANCES = 200
RESAMPLES = 200  # enough for the verdicts below: the planted differences are many standard errors wide


def asr_entry(errors: np.ndarray, words: np.ndarray) -> dict:
    ids = [f"utt{index}" for index in range(len(words))]
    return {
        "ids": ids, "units": ids, "strata": None,
        "columns": {"errors": errors.tolist(), "words": words.tolist()},
        "metrics": {"value": {"statistic": "ratio", "numerator": "errors", "denominator": "words", "scale": 100.0, "combine": "pooled"}},
    }


def write_cell(folder: Path, upstream: str, interface: str, entry: dict | None, task: str = "asr", **extra) -> Path:
    """A result.json (with its outcomes file when ``entry`` is given) whose value is what the outcomes give."""
    folder.mkdir(parents=True, exist_ok=True)
    result = {"task": task, "split": "test", "upstream": upstream, "interface": interface, **extra}
    if entry is not None:
        columns = entry["columns"]
        result["value"] = 100.0 * sum(columns["errors"]) / sum(columns["words"])
        result["outcomes"] = write_outcomes(folder, "test", entry, units="utterance")
    (folder / "result.json").write_text(json.dumps(result))
    return folder / "result.json"


@pytest.fixture(scope="module")
def words() -> np.ndarray:
    return 1 + np.random.default_rng(0).poisson(14, UTTERANCES)


@pytest.fixture(scope="module")
def results(tmp_path_factory, words) -> Path:
    """WavLM and Whisper single rows (WS, HConv); Whisper+WavLM WS with exactly WavLM WS's outcomes
    (identical systems); Whisper+WavLM HConv at about half WavLM HConv's errors (a planted big
    difference), in two seeds; an emotion cell without outcomes."""
    rng = np.random.default_rng(1)
    root = tmp_path_factory.mktemp("results")
    wavlm_ws = rng.binomial(words, 0.10)
    write_cell(root / "wavlm-ws/asr", "wavlm_base_plus", "ws", asr_entry(wavlm_ws, words))
    write_cell(root / "wavlm-hconv/asr", "wavlm_base_plus", "hconv", asr_entry(rng.binomial(words, 0.09), words))
    write_cell(root / "whisper-ws/asr", "whisper_small_en", "ws", asr_entry(rng.binomial(words, 0.12), words))
    write_cell(root / "whisper-hconv/asr", "whisper_small_en", "hconv", asr_entry(rng.binomial(words, 0.11), words))
    write_cell(root / "fused-ws/asr", "fused_wavlm_whisper_en", "ws", asr_entry(wavlm_ws, words))
    for seed, rate in ((1, 0.045), (2, 0.05)):
        write_cell(root / f"fused-hconv/asr/seed{seed}", "fused_wavlm_whisper_en", "hconv", asr_entry(rng.binomial(words, rate), words), seed=seed)
    write_cell(root / "wavlm-ws/emotion", "wavlm_base_plus", "ws", None, task="emotion", value=66.0, metric="acc")
    return root


@pytest.fixture(scope="module")
def report(results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(results, out, bootstrap=RESAMPLES)
    return out


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def cell(report: Path, upstreams: str, interface: str) -> dict:
    return next(row for row in read_csv(report / "main.csv") if (row["upstreams"], row["interface"]) == (upstreams, interface))


def test_each_cell_with_outcomes_has_an_interval_around_its_value(report):
    for upstreams, interface in (("WavLM", "ws"), ("WavLM", "hconv"), ("Whisper", "ws"), ("Whisper+WavLM", "hconv")):
        row = cell(report, upstreams, interface)
        low, value, high = float(row["ls_wer_low"]), float(row["ls_wer"]), float(row["ls_wer_high"])
        assert low < value < high and high - low < 4, row
        assert row["ls_wer_interval_note"] == ""
    markdown = (report / "main.md").read_text()
    row = cell(report, "WavLM", "ws")
    assert f"| WavLM | WS | - | {row['ls_wer']} [{float(row['ls_wer_low']):.2f}, {float(row['ls_wer_high']):.2f}] |" in markdown
    assert "95 % bootstrap interval over the test units, 200 resamples, seeds pooled" in markdown


def test_a_cell_without_outcomes_is_marked_no_interval_with_the_reason(report):
    row = cell(report, "WavLM", "ws")
    assert row["er_acc"] == "66.00" and row["er_acc_low"] == "" and row["er_acc_high"] == ""
    assert row["er_acc_interval_note"].startswith("no interval: ") and "records no per-utterance outcomes" in row["er_acc_interval_note"]
    markdown = (report / "main.md").read_text()
    assert "Cells without an interval:" in markdown
    assert re.search(r"- WavLM WS, ER acc: no interval: .*records no per-utterance outcomes: score the experiment again", markdown)


def test_seeds_are_shown_as_mean_and_standard_deviation_and_pooled_in_the_interval(report, results):
    values = [json.loads((results / f"fused-hconv/asr/seed{seed}/result.json").read_text())["value"] for seed in (1, 2)]
    row = cell(report, "Whisper+WavLM", "hconv")
    assert float(row["ls_wer"]) == pytest.approx(np.mean(values), abs=0.005)
    assert float(row["ls_wer_sd"]) == pytest.approx(np.std(values, ddof=1), abs=1e-4)
    assert row["ls_wer_seeds"] == "2" and float(row["ls_wer_low"]) < np.mean(values) < float(row["ls_wer_high"])
    markdown = (report / "main.md").read_text()
    assert f"{np.mean(values):.2f}** ± {np.std(values, ddof=1):.2f} [" in markdown  # the best of its section, in bold


def comparisons(report: Path) -> dict[tuple[str, str, str], dict]:
    return {(row["kind"], row["column"], row["row"]): row for row in read_csv(report / "comparisons.csv")}


def test_paired_section_calls_a_planted_big_difference_real_and_identical_systems_not(report):
    rows = comparisons(report)
    planted = rows["fused vs best single", "ls_wer", "Whisper+WavLM HConv (unknown)"]
    assert planted["reference"] == "WavLM HConv" and planted["verdict"] == "better" and planted["excludes_zero"] == "1"
    assert 0 < float(planted["improvement_low"]) < float(planted["improvement"]) < float(planted["improvement_high"])
    # the paper's relative gain: (best single - fused) / best single
    best_single, fused = float(planted["reference_value"]), float(planted["value"])
    assert float(planted["relative_pct"]) == pytest.approx(100 * (best_single - fused) / best_single, abs=1e-2)
    identical = rows["fused vs best single", "ls_wer", "Whisper+WavLM WS (unknown)"]
    assert identical["reference"] == "WavLM WS" and identical["excludes_zero"] == "0"
    assert (float(identical["improvement_low"]), float(identical["improvement_high"])) == (0.0, 0.0)
    assert identical["verdict"] == "no clear difference (interval holds 0)"
    against_ws = rows["interface vs WS", "ls_wer", "Whisper+WavLM HConv (unknown)"]
    assert against_ws["reference"] == "Whisper+WavLM WS (unknown)" and against_ws["verdict"] == "better"
    markdown = (report / "comparisons.md").read_text()
    assert "## Each interface against WS (same upstream set)" in markdown
    assert "| LS WER | Whisper+WavLM HConv (unknown) | WavLM HConv |" in markdown


def test_fusion_analysis_gives_each_interfaces_gain_and_whether_they_agree_on_its_sign(report):
    markdown = (report / "comparisons.md").read_text()
    section = markdown.split("## Fusion analysis")[1]
    gains = {row["row"]: float(row["relative_pct"]) for row in read_csv(report / "comparisons.csv") if row["kind"] == "fused vs best single"}
    assert gains["Whisper+WavLM WS (unknown)"] == 0.0 and gains["Whisper+WavLM HConv (unknown)"] > 30
    assert f"| Whisper+WavLM (unknown) | +0.0 % | {gains['Whisper+WavLM HConv (unknown)']:+.1f} %* | no |" in section


def test_charts_are_written(report):
    for name in ("main.png", "intervals_ls_wer.png", "fusion_gains.png", "intervals_er_acc.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_bootstrap_zero_turns_the_intervals_off(results, tmp_path):
    write_report(results, tmp_path, bootstrap=0)
    row = cell(tmp_path, "WavLM", "ws")
    assert row["ls_wer_low"] == "" and row["ls_wer_interval_note"] == "" and "[" not in (tmp_path / "main.md").read_text().split("| WavLM | WS |")[1].splitlines()[0]
    planted = comparisons(tmp_path)["fused vs best single", "ls_wer", "Whisper+WavLM HConv (unknown)"]
    assert planted["verdict"] == "no interval (--bootstrap 0)" and float(planted["relative_pct"]) > 30


def test_an_outcomes_file_changed_after_scoring_stops_the_report(results, tmp_path, capsys, words):
    changed = tmp_path / "results"
    write_cell(changed / "wavlm-ws/asr", "wavlm_base_plus", "ws", asr_entry(np.zeros(UTTERANCES, dtype=int), words))
    table = changed / "wavlm-ws/asr/test_outcomes.tsv"
    table.write_text(table.read_text().replace("\t0.0\t", "\t1.0\t", 1))
    with pytest.raises(OutcomesError, match="SHA-256 differs"):
        write_report(changed, tmp_path / "report")
    with pytest.raises(SystemExit) as ended:
        cli_main(["report", "--results", str(changed), "--out", str(tmp_path / "report"), "--bootstrap", "50"])
    assert ended.value.code == 2 and f"{table} is not the file" in capsys.readouterr().err


def test_a_negative_bootstrap_is_named(results, tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        cli_main(["report", "--results", str(results), "--out", str(tmp_path / "report"), "--bootstrap", "-5"])
    assert ended.value.code == 2 and "--bootstrap -5: give a number of resamples" in capsys.readouterr().err
