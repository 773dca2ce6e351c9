"""`SMOKE=1 recipes/superb.sh` over the bundled corpora: all ten SUPERB tasks run their recipes into
OUT/<task>/ (two updates of small random members of a fused preset; QbE's layer sweep; ER's first
fold; ASR without and with a small LM made from the miniature), each writes the prediction file
SUPERB's submission packs (`s3prl-fusion submit` takes them all) and its result.json, and the report
covers them; a re-run skips every finished task; the up-front checks name what to set."""
from __future__ import annotations

import json
import os
import subprocess
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
    result = run_superb(out_dir, "fused_wavlm_whisper", "hconv", LIBRI2MIX=str(libri2mix))
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise AssertionError(f"superb.sh exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}")
    print(f"SMOKE=1 superb.sh over {len(SUPERB_TASKS)} tasks: {seconds:.0f} s")
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


def test_a_rerun_skips_every_finished_task(superb_run):
    out_dir, _ = superb_run
    result = run_superb(out_dir, "fused_wavlm_whisper", "hconv", LIBRI2MIX=str(out_dir))  # finished: its data is not read again
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("result.json exists, skipping") == len(SUPERB_TASKS)
    assert "[superb] pr: -u" not in result.stdout


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
