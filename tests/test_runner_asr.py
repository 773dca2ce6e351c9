"""s3prl's own runner end to end on the bundled mini LibriSpeech: train, resume, evaluate.

The first run goes through ``python run_downstream.py`` inside a folder laid out like an s3prl
checkout (s3prl's own script, ``./downstream/asr/config.yaml``), with no import of the plugin;
the resume and evaluation go through the plugin's entry points.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import s3prl
import torch
import yaml

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python
from outcomes_checks import checked_outcomes
from s3prl_fusion.results import write_result
from test_submit import submitted_alone
from s3prl_fusion.results.error_rates import asr_error_rates


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, librispeech_buckets) -> Path:
    """A folder laid out like s3prl's source tree: its run_downstream.py and the asr config."""
    root = tmp_path_factory.mktemp("s3prl_checkout")
    shutil.copy(Path(s3prl.__file__).parent / "run_downstream.py", root / "run_downstream.py")
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    datarc = config["downstream_expert"]["datarc"]
    datarc.update(libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict"))
    config["runner"].update(total_steps=4, save_step=2, log_step=2, max_keep=2)
    (root / "downstream" / "asr").mkdir(parents=True)
    (root / "downstream" / "asr" / "config.yaml").write_text(yaml.safe_dump(config))
    return root


SEED = 7


@pytest.fixture(scope="module")
def trained(checkout) -> Path:
    expdir = checkout / "result" / "downstream" / "fused_hconv"
    result = run_python(
        ["run_downstream.py", "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv",
         "-d", "asr", "-n", "fused_hconv", "--device", "cpu", "--seed", str(SEED)],
        cwd=checkout,
    )
    assert "[FusionFeaturizer] - interface hconv over 2 member(s)" in result.stderr
    return expdir


def test_checkout_run_trains_fused_upstream_with_hconv(trained):
    checkpoint = torch.load(trained / "states-4.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["Step"] == 4
    assert checkpoint["Args"].upstream == "fused" and checkpoint["Args"].upstream_feature_selection == "hconv"
    setup = checkpoint["Featurizer"]["_extra_state"]
    assert setup["interface"] == "hconv"
    assert setup["members"] == ["wavlm_small_random", "whisper_small_random"]
    assert setup["layer_counts"] == [5, 4] and setup["dims"] == [64, 48]
    assert any(key.startswith("interface.") for key in checkpoint["Featurizer"])
    assert "Upstream" not in checkpoint  # frozen members are not saved
    assert not list(trained.glob(".*partial*"))  # atomic writes leave no partial file


def test_resume_continues_from_the_saved_step(trained, checkout):
    result = run_python(
        ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(trained), "--device", "cpu",
         "-o", "config.runner.total_steps=6"],
        cwd=checkout,
    )
    assert f"Resume from {trained}/states-4.ckpt" in result.stdout
    resumed = torch.load(trained / "states-6.ckpt", map_location="cpu", weights_only=False)
    assert resumed["Step"] == 6
    adam_steps = {int(state["step"]) for state in resumed["Optimizer"]["state"].values()}
    assert adam_steps == {6}  # optimizer state restored at 4, then two more updates
    before = torch.load(trained / "states-4.ckpt", map_location="cpu", weights_only=False)
    changed = [key for key, value in resumed["Featurizer"].items() if torch.is_tensor(value) and not torch.equal(value, before["Featurizer"][key])]
    assert changed  # training went on from the restored weights


def test_evaluate_writes_test_clean_hypotheses_and_scoring_keeps_each_utterance(trained, checkout, tmp_path):
    run_python(
        ["-m", "s3prl_fusion.cli", "run", "-m", "evaluate", "-e", str(trained / "states-4.ckpt"), "-t", "test-clean", "--device", "cpu"],
        cwd=checkout,
    )
    references = (trained / "test-clean-noLM-ref.ark").read_text().splitlines()
    assert len(references) == len(list((LIBRISPEECH_MINI / "test-clean").rglob("*.flac")))
    rates = asr_error_rates(trained, "test-clean")
    assert 0 <= rates["cer"] and rates["wer"] <= 100 * max(len(r.split()) for r in references)

    result = write_result("asr", trained, "test-clean", checkpoint=trained / "states-4.ckpt")
    assert (result["value"], result["cer"]) == (rates["wer"], rates["cer"]) and result["seed"] == SEED
    outcomes = checked_outcomes(trained / "result.json", tmp_path, units="utterance")  # WER and CER recomputed
    assert list(outcomes.ids) == [line.split(" ", 1)[0] for line in references] and list(outcomes.units) == list(outcomes.ids)
    assert outcomes.columns["words"].sum() == sum(len(line.split()) - 1 for line in references)
    submitted_alone(tmp_path, "asr", trained, "predict/asr_public/predict.ark")  # no LM decoding here: asr_lm_public is missing
