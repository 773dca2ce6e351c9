"""The paper-table recipes end to end in smoke mode (random stand-in members, 2 steps) on the
bundled corpora, and their up-front checks.

Every runner process costs seconds on a CPU, so each table runs a small slice; together the
slices touch every task whose recipe loops over one model per cell:
    table1.sh  rows wavlm-hconv (single hf_ssl member) and whisper_best_ssl-chconv; tasks asr, sv;
               WHISPER_LENGTH_MODE=pad30
    table2.sh  rows whisper_medium-ws and whisper_medium_best_ssl-hconv; task multi
    table3.sh  row whisper_best_ssl-hconv; Mono-1h languages eng1 and jpn (word-level)
    table1.sh  with CACHE=1: rows hubert_wavlm-ws and hubert_wavlm-hconv on asr, from one cache
    table1.sh  with LAUNCHER=local JOBS=2 SEEDS=1337: table1's asr cells again, two at once, compared
               with the serial ones (s3prl's default seed is 1337)
The emotion task (five folds, ten runner processes per cell) is left to its own recipe's test;
its results in the report are covered by test_report.py.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO_ROOT, TEST_ENVIRONMENT, preloaded_python

RECIPES = REPO_ROOT / "recipes"
CORPORA = REPO_ROOT / "corpora"


def smoke_environment(**extra) -> dict:
    return {
        **os.environ,
        **TEST_ENVIRONMENT,
        **preloaded_python()[1],
        "SMOKE": "1",
        "STEPS": "2",
        "DEVICE": "cpu",
        "LIBRISPEECH": str(CORPORA / "LibriSpeech"),
        "MLSUPERB": str(CORPORA / "ml_superb"),
        "VOXCELEB1": str(CORPORA / "VoxCeleb1"),
        "IEMOCAP": str(CORPORA / "IEMOCAP" / "IEMOCAP_full_release"),
        "TEST_TRIALS": str(CORPORA / "VoxCeleb1" / "veri_test_mini.txt"),
        "OVERRIDES": "config.downstream_expert.datarc.vad_config.min_sec=8000",  # the bundled VoxCeleb1 clips are short
        **extra,
    }


def run_table(script: str, out_dir: Path, check: bool = True, **extra) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(RECIPES / script), str(out_dir)], env=smoke_environment(**extra), capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{script} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}")
    return result


def report_rows(out_dir: Path, name: str) -> dict[tuple[str, str], dict]:
    with open(out_dir / "report" / f"{name}.csv", newline="", encoding="utf-8") as file:
        return {(row["upstreams"], row["interface"]): row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def table1(tmp_path_factory):
    tasks = ["asr", "sv"]
    out_dir = tmp_path_factory.mktemp("table1")
    run_table("table1.sh", out_dir, ROWS="wavlm-hconv whisper_best_ssl-chconv", TASKS=" ".join(tasks), WHISPER_LENGTH_MODE="pad30")
    return out_dir, tasks


def test_table1_report_holds_the_chosen_rows_with_their_metrics(table1):
    out_dir, tasks = table1
    rows = report_rows(out_dir, "main")
    assert set(rows) == {("WavLM", "hconv"), ("Whisper+WavLM", "chconv")}
    columns = {"asr": "ls_wer", "sv": "sv_eer"}
    for row in rows.values():
        for task in tasks:
            assert row[columns[task]] != "-"
    assert rows["Whisper+WavLM", "chconv"]["ls_wer_paper"] == "4.52"
    markdown = (out_dir / "report" / "main.md").read_text()
    assert "| WavLM | HConv |" in markdown and "| Whisper+WavLM | CHConv |" in markdown


def test_table1_asr_runs_the_english_whisper_with_random_members(table1):
    out_dir, tasks = table1
    smoke_config = yaml.safe_load((out_dir / "upstream_configs" / "fused_wavlm_whisper_en-random-pad30.yaml").read_text())
    assert [(member["kind"], "config" in member, member.get("length_mode")) for member in smoke_config["members"]] == [
        ("hf", True, None), ("whisper", True, "pad30")
    ]
    assert (out_dir / "whisper_best_ssl-chconv" / "asr" / "result.json").is_file()
    assert '"upstream": "fused_wavlm_whisper_en"' in (out_dir / "whisper_best_ssl-chconv" / "asr" / "result.json").read_text()


def test_whisper_length_mode_reaches_every_whisper_member_and_the_report(table1):
    out_dir, tasks = table1
    for task in tasks:
        members = json.loads((out_dir / "whisper_best_ssl-chconv" / task / "result.json").read_text())["members"]
        assert [(member["kind"], member.get("length_mode")) for member in members] == [("hf", None), ("whisper", "pad30")]
    rows = report_rows(out_dir, "main")
    assert rows["Whisper+WavLM", "chconv"]["whisper_length_mode"] == "pad30"
    assert rows["WavLM", "hconv"]["whisper_length_mode"] == "-"
    assert "| Whisper+WavLM | CHConv | pad30 |" in (out_dir / "report" / "main.md").read_text()


def test_a_finished_cell_is_skipped_on_a_rerun(table1):
    out_dir, tasks = table1
    result = run_table("table1.sh", out_dir, ROWS="wavlm-hconv", TASKS=" ".join(tasks))
    assert result.stdout.count("exists, skipping") == len(tasks)


def test_table2_multi_rows_land_in_the_large_sections(tmp_path):
    run_table("table2.sh", tmp_path, ROWS="whisper_medium-ws whisper_medium_best_ssl-hconv", TASKS="multi")
    rows = report_rows(tmp_path, "main")
    assert set(rows) == {("Whisper Medium", "ws"), ("Whisper Medium+WavLM Large", "hconv")}
    assert {row["scale"] for row in rows.values()} == {"large"}
    assert all(row["multi_cer"] != "-" for row in rows.values())


def test_table3_reports_mono_error_rates_per_language(tmp_path):
    run_table("table3.sh", tmp_path, ROWS="whisper_best_ssl-hconv", LANGUAGES="eng1 jpn")
    rows = report_rows(tmp_path, "per_language")
    row = rows["Whisper+WavLM", "hconv"]
    assert row["eng1"] != "-" and row["jpn"] != "-" and row["fra1"] == "-"
    assert float(row["average"]) == pytest.approx((float(row["eng1"]) + float(row["jpn"])) / 2, abs=0.01)
    assert sorted(path.name for path in (tmp_path / "whisper_best_ssl-hconv" / "mono").iterdir() if path.is_dir()) == ["eng1", "jpn"]


def test_table_with_cache_builds_one_cache_per_upstream_set_for_its_interfaces(tmp_path):
    result = run_table("table1.sh", tmp_path, ROWS="hubert_wavlm-ws hubert_wavlm-hconv", TASKS="asr", CACHE="1")
    cache = tmp_path / "caches" / "fused_hubert_wavlm-random" / "asr"
    manifest = json.loads((cache / "manifest.json").read_text())
    assert len(manifest["utterances"]) == len(list((CORPORA / "LibriSpeech").rglob("*.flac")))
    assert result.stdout.count(f"[recipe] CACHE=1: feature cache {cache} of -u fused_hubert_wavlm (built once") == 1
    assert result.stdout.count(f"[recipe] CACHE=1: feature cache {cache} of -u fused_hubert_wavlm, built by its own job") == 2
    first = tmp_path / "hubert_wavlm-ws" / "asr" / "result.json"
    assert all(path.stat().st_mtime_ns < first.stat().st_mtime_ns for path in cache.glob("shard-*"))  # the second cell built nothing
    for row in ("hubert_wavlm-ws", "hubert_wavlm-hconv"):
        arguments = [yaml.safe_load(path.read_text()) for path in (tmp_path / row / "asr").glob("args_*.yaml")]
        assert arguments and all(args["upstream"] == "fused_cache" and Path(args["upstream_ckpt"]) == cache for args in arguments)
    rows = report_rows(tmp_path, "main")
    assert set(rows) == {("HuBERT+WavLM", "ws"), ("HuBERT+WavLM", "hconv")}
    assert all(row["ls_wer"] != "-" for row in rows.values())


def test_local_launcher_runs_two_cells_at_once_with_the_serial_results(table1, tmp_path):
    serial_dir, _ = table1
    rows = ["wavlm-hconv", "whisper_best_ssl-chconv"]
    run_table("table1.sh", tmp_path, ROWS=" ".join(rows), TASKS="asr", WHISPER_LENGTH_MODE="pad30", LAUNCHER="local", JOBS="2", SEEDS="1337")
    states = [json.loads((tmp_path / "grid" / "state" / f"{row}__asr__seed1337.json").read_text()) for row in rows]
    assert all(state["rc"] == 0 for state in states)
    assert max(state["started"] for state in states) < min(state["ended"] for state in states)  # both ran at once
    for row in rows:
        local, serial = tmp_path / row / "asr" / "seed1337", serial_dir / row / "asr"
        assert json.loads((local / "result.json").read_text())["value"] == json.loads((serial / "result.json").read_text())["value"]
        local_state = torch.load(local / "states-2.ckpt", map_location="cpu", weights_only=False)
        serial_state = torch.load(serial / "states-2.ckpt", map_location="cpu", weights_only=False)
        for part in ("Featurizer", "Downstream"):
            tensors = [key for key, value in serial_state[part].items() if torch.is_tensor(value)]
            assert tensors and all(torch.equal(local_state[part][key], serial_state[part][key]) for key in tensors)
    assert (tmp_path / "report" / "main.csv").is_file()
    again = subprocess.run(["bash", str(RECIPES / "asr.sh"), "hf_ssl", "hconv", str(CORPORA / "LibriSpeech"), str(tmp_path / rows[0] / "asr")],
                           env=smoke_environment(SEEDS="1337 x"), capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "SEEDS names 'x', which is not a whole number" in again.stderr
    again = subprocess.run(["bash", str(RECIPES / "asr.sh"), "hf_ssl", "hconv", str(CORPORA / "LibriSpeech"), str(tmp_path / rows[0] / "asr")],
                           env=smoke_environment(SEEDS="1337"), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and f"seed 1337: {tmp_path / rows[0] / 'asr' / 'seed1337'}/result.json exists, skipping" in again.stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"ROWS": "no-such-row"}, "ROWS names 'no-such-row'"),
        ({"TASKS": "asr", "LIBRISPEECH": ""}, "set LIBRISPEECH="),
        ({"TASKS": "mono", "MLSUPERB": "/nonexistent/ml_superb"}, "MLSUPERB=/nonexistent/ml_superb is not a folder"),
        ({"TASKS": "pos"}, "TASKS names 'pos'"),
        ({"TASKS": "sv", "WHISPER_LENGTH_MODE": "pad20"}, "WHISPER_LENGTH_MODE=pad20 is not a length mode; use exact or pad30"),
        ({"TASKS": "sv", "LAUNCHER": "pbs"}, "LAUNCHER=pbs is not a launcher; use serial"),
        ({"TASKS": "sv", "LAUNCHER": "local", "JOBS": "0"}, "JOBS=0 is not a number of cells to run at once"),
        ({"TASKS": "sv", "SEEDS": "1 two"}, "SEEDS names 'two', which is not a whole number"),
    ],
)
def test_table_scripts_check_rows_tasks_and_data_first(tmp_path, extra, message):
    result = run_table("table1.sh", tmp_path / "out", check=False, **extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_table_over_two_seeds_reports_intervals_comparisons_and_the_fusion_analysis(tmp_path):
    """SEEDS="1 2" SMOKE=1 table1 over a fused set, its two single models and a second interface: the report has
    every section the per-utterance outcomes make possible, each seed's run pooled in its cell."""
    rows = ["wavlm-ws", "whisper-ws", "whisper_best_ssl-ws", "whisper_best_ssl-hconv"]
    run_table("table1.sh", tmp_path, ROWS=" ".join(rows), TASKS="asr", SEEDS="1 2", LAUNCHER="local", JOBS="2")
    for row in rows:
        for seed in (1, 2):
            assert json.loads((tmp_path / row / "asr" / f"seed{seed}" / "result.json").read_text())["seed"] == seed
    report = tmp_path / "report"
    cells = list(report_rows(tmp_path, "main").values())
    assert len(cells) == len(rows)
    for cell in cells:
        assert cell["ls_wer_seeds"] == "2" and float(cell["ls_wer_low"]) <= float(cell["ls_wer"]) <= float(cell["ls_wer_high"])
        assert cell["ls_wer_sd"] != ""
    assert "±" in (report / "main.md").read_text()
    comparisons = (report / "comparisons.md").read_text()
    for section in ("## Each interface against WS", "## Each fused set against its best single model", "## Fusion analysis"):
        assert section in comparisons
    with open(report / "comparisons.csv", newline="", encoding="utf-8") as file:
        kinds = {row["kind"] for row in csv.DictReader(file) if row["verdict"]}
    assert kinds == {"interface vs WS", "fused vs best single"}, kinds
    for chart in ("main.png", "intervals_ls_wer.png", "fusion_gains.png"):
        assert (report / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart
