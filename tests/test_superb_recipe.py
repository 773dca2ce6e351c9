"""`SMOKE=1 recipes/superb.sh` over the bundled corpora, two cells at once (LAUNCHER=local JOBS=2): all
ten SUPERB tasks run their recipes into OUT/<task>/ (two updates of small random members of a fused
preset; QbE's layer sweep; ER's first fold; ASR without and with a small LM made from the miniature),
each writes the prediction file SUPERB's submission packs (`s3prl-fusion submit` takes them all) and
its result.json, the report covers them and `s3prl-fusion grid status` shows every job done; a re-run
skips every finished task; the up-front checks name what to set. The SLURM plan (sbatch stood in for by
a script that records its calls; nothing trains): one job per task and ER fold, a cache build job per
data root of the cacheable tasks that their cells wait for, the report after every cell."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TEST_ENVIRONMENT, preloaded_python
from s3prl_fusion.prepare.libri2mix import write_kaldi_folders

CORPORA = REPO_ROOT / "corpora"
SUPERB_TASKS = ("pr", "ks", "ic", "sid", "er", "asr", "qbe", "sf", "asv", "sd")
# task folder -> (its result.json's task, the files s3prl's submit.py packs from it, relative to the folder)
PREDICTIONS = {
    "pr": ("libriphone", ["test-hyp.ark"]), "ks": ("speech_commands", ["test_predict.txt"]), "ic": ("fluent_commands", ["test_predict.csv"]),
    "sid": ("voxceleb1", ["test_predict.txt"]), "er": ("emotion", ["fold1/test_fold1_predict.txt"]),
    "asr": ("asr", ["test-clean-noLM-hyp.ark", "test-clean-LM-hyp.ark"]), "qbe": ("quesst14_dtw", ["benchmark.stdlist.xml"]),
    "sf": ("snips", ["test-hyp.ark"]), "asv": ("sv_voxceleb1", ["test_predict.txt"]), "sd": ("diarization", ["scoring/predictions", "frame_shift"]),
}


LOCAL_GRID = {"LAUNCHER": "local", "JOBS": "2"}


def superb_environment(**extra) -> dict:
    return {
        **os.environ, **TEST_ENVIRONMENT, **preloaded_python()[1], "SMOKE": "1", "DEVICE": "cpu",
        "LIBRISPEECH": str(CORPORA / "LibriSpeech"), "PR_LEXICON": str(CORPORA / "LibriSpeech" / "phones" / "lexicon.txt"),
        "SPEECH_COMMANDS": str(CORPORA / "SpeechCommands"), "FLUENT_COMMANDS": str(CORPORA / "fluent_speech_commands_dataset"),
        "VOXCELEB1": str(CORPORA / "VoxCeleb1"), "SID_SPLIT": str(CORPORA / "VoxCeleb1" / "iden_split_mini.txt"),
        "TEST_TRIALS": str(CORPORA / "VoxCeleb1" / "veri_test_mini.txt"),
        "ASV_OVERRIDES": "config.downstream_expert.datarc.vad_config.min_sec=8000",  # the bundled VoxCeleb1 clips are short
        "IEMOCAP": str(CORPORA / "IEMOCAP" / "IEMOCAP_full_release"), "FOLDS": "1", "SNIPS": str(CORPORA / "SNIPS"),
        "QUESST14": str(CORPORA / "quesst14Database"), **extra,
    }


def run_superb(out_dir: Path, *arguments: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO_ROOT / "recipes" / "superb.sh"), *arguments, str(out_dir)], env=superb_environment(**extra),
                          capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def superb_run(tmp_path_factory) -> tuple[Path, float]:
    out_dir, libri2mix = tmp_path_factory.mktemp("superb"), tmp_path_factory.mktemp("libri2mix")
    write_kaldi_folders(CORPORA / "Libri2Mix", CORPORA / "Libri2Mix" / "metadata" / "LibriSpeech", libri2mix, "mix_clean")
    started = time.monotonic()
    result = run_superb(out_dir, "fused_wavlm_whisper", "hconv", LIBRI2MIX=str(libri2mix), **LOCAL_GRID)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        logs = "".join(f"--- {log.name}\n{log.read_text()[-3000:]}\n" for log in sorted((out_dir / "grid" / "logs").glob("*.log")) if log.name in result.stderr)
        raise AssertionError(f"superb.sh exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}\n{logs}")
    print(f"SMOKE=1 LAUNCHER=local JOBS=2 superb.sh over {len(SUPERB_TASKS)} tasks: {seconds:.0f} s")
    return out_dir, seconds


def test_every_task_writes_its_prediction_files_and_result(superb_run):
    out_dir, _ = superb_run
    for folder, (task, predictions) in PREDICTIONS.items():
        for prediction in predictions:
            path = out_dir / folder / prediction
            assert (any(path.iterdir()) if path.is_dir() else path.stat().st_size > 0), f"{folder}: no {prediction}"
        result = json.loads((out_dir / folder / "result.json").read_text())
        assert (result["task"], result["upstream"]) == (task, "fused_wavlm_whisper"), folder
        assert folder == "qbe" or result["interface"] == "hconv", folder  # QbE sweeps layers: no interface
        assert [member["kind"] for member in result["members"]] == ["hf", "whisper"] and all("source" in member for member in result["members"])
    assert sorted(path.parent.name for path in out_dir.glob("*/result.json")) == sorted(SUPERB_TASKS)
    assert (out_dir / "report" / "main.md").is_file()


def test_the_output_folder_is_a_submission(superb_run, tmp_path):
    """`s3prl-fusion submit` checks every prediction file's format; only ER's folds 2-5 (not run) are missing."""
    from s3prl_fusion.cli import main as cli_main

    out_dir, _ = superb_run
    cli_main(["submit", str(out_dir), "--out", str(tmp_path / "predict.zip")])
    with zipfile.ZipFile(tmp_path / "predict.zip") as packed:
        entries = {name.split("/")[1] for name in packed.namelist() if name.count("/") >= 2}
    assert entries == {"pr_public", "ks_public", "ic_public", "sid_public", "er_fold1_public", "asr_public", "asr_lm_public", "qbe_public",
                       "sf_public", "sv_public", "sd_public"}


def test_grid_status_shows_every_job_done(superb_run):
    out_dir, _ = superb_run
    status = subprocess.run([sys.executable, "-m", "s3prl_fusion.cli", "grid", "status", str(out_dir)], env=superb_environment(),
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    jobs = len(SUPERB_TASKS) + 1  # a cell per task (er: its one fold, FOLDS=1) and the report
    assert f"{jobs} jobs: {jobs} done, 0 running, 0 pending, 0 failed, 0 waiting" in status.stdout
    assert {line.split()[1] for line in status.stdout.splitlines() if line.startswith("done")} == {*SUPERB_TASKS, "report"} - {"er"} | {"er/fold1"}


def test_a_rerun_skips_every_finished_task(superb_run):
    out_dir, _ = superb_run
    report = (out_dir / "report" / "main.md").stat().st_mtime_ns
    result = run_superb(out_dir, "fused_wavlm_whisper", "hconv", LIBRI2MIX=str(out_dir), **LOCAL_GRID)  # finished: its data is not read again
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("result.json exists, skipping") == len(SUPERB_TASKS)
    assert "[superb] pr: -u" not in result.stdout
    assert (out_dir / "report" / "main.md").stat().st_mtime_ns > report  # the report runs again, over every result there is


@pytest.mark.parametrize("environment, message", [
    ({"TASKS": "pr kws"}, "error: TASKS names 'kws'; tasks are: pr ks ic sid er asr qbe sf asv sd"),
    ({"TASKS": "ks", "SPEECH_COMMANDS": ""}, "error: task ks needs its data root: set SPEECH_COMMANDS=/path/to/the/data"),
    ({"TASKS": "ic", "FLUENT_COMMANDS": "/no/such/folder"}, "error: FLUENT_COMMANDS=/no/such/folder is not a folder"),
    ({"TASKS": "asr", "SMOKE": "0"}, "error: task asr decodes with and without a language model: set LM_DIR"),
])
def test_the_up_front_checks_name_what_to_set(tmp_path, environment, message):
    result = run_superb(tmp_path / "out", "fused_wavlm_whisper", "hconv", **environment)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


# The SLURM plan (no training) ----------------------------------------------------------------------

FAKE_SBATCH = """#!/usr/bin/env bash
# records its arguments in $SBATCH_CALLS/<id> (one a line) and answers the next job id, as sbatch --parsable does
id=$(( $(ls "$SBATCH_CALLS" | wc -l) + 100 ))
printf '%s\\n' "$@" > "$SBATCH_CALLS/$id"
echo "$id"
"""
CACHE_OF = {"pr": "librispeech", "asr": "librispeech", "ic": "fluent_commands", "er": "iemocap", "sf": "snips"}


def submit_to_slurm(tmp_path: Path, **extra) -> tuple[Path, dict[str, tuple[str, str]], Path]:
    """superb.sh with LAUNCHER=slurm, CACHE=1 and every data root; -> OUT, {job: (SLURM id, dependency)}, sbatch's calls."""
    bin_dir, calls, out_dir = tmp_path / "bin", tmp_path / "calls", tmp_path / "out"
    bin_dir.mkdir()
    calls.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    settings = {"SMOKE": "0", "LAUNCHER": "slurm", "CACHE": "1", "FOLDS": "1 2 3 4 5", "LM_DIR": str(tmp_path), "LIBRI2MIX": str(tmp_path),
                "SBATCH_CALLS": str(calls), "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHON": sys.executable}
    result = run_superb(out_dir, "fused_wavlm_whisper", "hconv", **{**settings, **extra})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    submitted = {match[1]: (match[2], match[3] or "") for match in
                 re.finditer(r"^\[grid\] (\S+): submitted as SLURM job (\d+)(?: \((\S+)\))?$", result.stdout, re.MULTILINE)}
    return out_dir, submitted, calls


def test_slurm_plan_is_a_job_per_task_and_fold_after_its_cache_build_and_the_report_after_all(tmp_path):
    out_dir, submitted, calls = submit_to_slurm(tmp_path)
    cells = [task for task in SUPERB_TASKS if task != "er"] + [f"er/fold{fold}" for fold in range(1, 6)]
    caches = {f"caches/fused_wavlm_whisper/{name}" for name in CACHE_OF.values()}
    assert set(submitted) == {*cells, *caches, "report"} and len(list(calls.iterdir())) == len(submitted)
    assert all(submitted[cache][1] == "" for cache in caches)
    for cell in cells:
        cache = CACHE_OF.get(cell.split("/")[0])
        assert submitted[cell][1] == (f"afterok:{submitted[f'caches/fused_wavlm_whisper/{cache}'][0]}" if cache else ""), cell
    assert submitted["report"][1] == "afterany:" + ":".join(sorted((submitted[cell][0] for cell in cells), key=int))
    assert list(submitted)[-1] == "report"
    scripts = out_dir / "grid" / "scripts"
    shared = (scripts / "caches__fused_wavlm_whisper__librispeech.sh").read_text()
    assert "CACHE_ONLY=1" in shared and "/recipes/pr.sh" in shared and "/recipes/asr.sh" in shared  # pr and asr: one build
    assert "CACHE_READY=1" in (scripts / "er__fold3.sh").read_text() and "FOLD=3" in (scripts / "er__fold3.sh").read_text()
    sd, ks = (scripts / "sd.sh").read_text(), (scripts / "ks.sh").read_text()
    assert "CACHE=0" in sd and "CACHE_DIR" not in sd  # sd.sh refuses CACHE=1: SD runs on the fly
    assert "CACHE_READY" not in ks and "CACHE_ONLY" not in ks
    qbe = (scripts / "qbe.sh").read_text()
    assert "/recipes/qbe.sh fused_wavlm_whisper " + str(CORPORA / "quesst14Database") in qbe  # no interface argument
    er = (calls / submitted["er/fold1"][0]).read_text().splitlines()
    assert "--gres=gpu:1" in er and "--job-name=out:er/fold1" in er


def test_slurm_plan_has_a_cell_per_seed_and_fold_with_the_tasks_own_resources(tmp_path):
    _, submitted, calls = submit_to_slurm(tmp_path, TASKS="ks er", FOLDS="1 2", SEEDS="1 2", GRID_ER_TIME="0-06:00:00")
    er_cells = [f"er/seed{seed}/fold{fold}" for seed in (1, 2) for fold in (1, 2)]
    assert set(submitted) == {"ks/seed1", "ks/seed2", "caches/fused_wavlm_whisper/iemocap", "report", *er_cells}
    times = {job: next(line for line in (calls / slurm_id).read_text().splitlines() if line.startswith("--time=")) for job, (slurm_id, _) in submitted.items()}
    assert {times[cell] for cell in er_cells} == {"--time=0-06:00:00"} and times["ks/seed1"] == "--time=1-00:00:00"  # GRID_ER_TIME; the default
