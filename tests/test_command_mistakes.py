"""A typical mistake in each ``s3prl-fusion`` subcommand (a missing input, an unknown name) is one
``error:`` line and exit status 2, never a traceback."""
from __future__ import annotations

import pytest

from conftest import command_failure
from s3prl_fusion.cli import COMMANDS
from s3prl_fusion.cli import main as cli_main

NOWHERE = "{tmp}/nowhere"
# subcommand -> (its arguments, with {tmp} a fresh folder; what the message says). `list` takes no input.
MISTAKES = {
    "bench": (["--quick", "--whisper", NOWHERE], "--whisper {tmp}/nowhere: no config.json there"),
    "cache": (["verify", NOWHERE], "{tmp}/nowhere is not a feature cache (no manifest.json)"),
    "demo": (["--out", "{tmp}/demo", "--interfaces", "hcovn"], "--interfaces hcovn is neither an interface"),
    "grid": (["status", NOWHERE], "{tmp}/nowhere/grid/plan.tsv does not exist: {tmp}/nowhere/grid is not a grid folder"),
    "export": (["--upstream", "fused_wavlm_whispr", "--out", "{tmp}/export"], "--upstream fused_wavlm_whispr is not an upstream of the plugin"),
    "prepare": (["librispeech", "--root", NOWHERE, "--out", "{tmp}/lengths"], "LibriSpeech root {tmp}/nowhere does not exist (--root)"),
    "random-config": (["wavlm_base_plux", "--out", "{tmp}/random.yaml"], "no random stand-in for upstream 'wavlm_base_plux'"),
    "upstream-config": (["fused", "--random", "--out", "{tmp}/row.yaml"], "-u fused takes its members from -k"),
    "report": (["--results", NOWHERE, "--out", "{tmp}/report"], "--results {tmp}/nowhere is not a folder"),
    "score": (["--task", "asr", "--expdir", NOWHERE, "--split", "test-clean"], "{tmp}/nowhere/test-clean-noLM-hyp.ark is missing"),
    "submit": ([NOWHERE], "{tmp}/nowhere is not a folder: pass the output folder of recipes/superb.sh"),
    "qbe": (["{tmp}/qbe", "-u", "fused", "-s", "hconv"], "the QbE sweep sets -d quesst14_dtw -s hidden_states, every -l and the experiment folder itself; drop --upstream_feature_selection"),
    "plot-interface": ([f"{NOWHERE}/states-4.ckpt"], "checkpoint {tmp}/nowhere/states-4.ckpt does not exist"),
}


def test_every_subcommand_with_an_input_has_a_mistake_here():
    assert set(MISTAKES) | {"list"} == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(MISTAKES))
def test_a_typical_mistake_is_one_message_and_exit_status_2(command, tmp_path, capsys):
    arguments, expected = MISTAKES[command]
    with pytest.raises(SystemExit) as ended:
        cli_main([command, *(argument.format(tmp=tmp_path) for argument in arguments)])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in err and len(errors) == 1 and expected.format(tmp=tmp_path) in errors[0], err[-2000:]
    assert not (tmp_path / "nowhere").exists()


def test_the_run_subcommand_reports_a_mistake_from_s3prls_runner(tmp_path):
    error = command_failure("run", "-m", "train", "-u", "fused_wavlm_whispr", "-d", "asr", "-p", str(tmp_path / "exp"))
    assert "-u fused_wavlm_whispr is not an upstream" in error and "Did you mean fused_wavlm_whisper" in error
