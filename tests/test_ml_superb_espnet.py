"""ML-SUPERB scored and selected as ESPnet's recipe (egs2/ml_superb/asr1) does it: the Mono-1h
language-grouped mean, the 5 checkpoints best by dev loss and their average, and the train
batches sharded across DDP ranks."""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from tensorboardX import SummaryWriter

from conftest import REPO_ROOT, checked, run_recipe
from outcomes_checks import checked_outcomes
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.downstreams.ml_superb.average import AVERAGED_NAME, CheckpointAverageError, write_average
from s3prl_fusion.downstreams.ml_superb.dataset import LengthSortedBatches
from s3prl_fusion.downstreams.ml_superb.expert import DownstreamExpert
from s3prl_fusion.downstreams.ml_superb.nbest import DevEvaluation, checkpoint_name
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.results.ml_superb import MONO_LANGUAGES, read_result

CORPUS = REPO_ROOT / "corpora" / "ml_superb"
BASE_LAYERS, BASE_DIM = 13, 768


class BaseMembersLayout(torch.nn.Module):
    """Stands in for a fused upstream of two base members (13 hidden states x 768 each)."""

    def fusion_layout(self):
        return ["member_a", "member_b"], [BASE_LAYERS, BASE_LAYERS], [BASE_DIM, BASE_DIM]

    def get_downsample_rates(self, key):
        return 320


def write_mono_results(folder: Path, per_pair: dict[str, float]) -> None:
    for pair, rate in per_pair.items():
        (folder / pair).mkdir(parents=True)
        results = {"mode": "mono", "language": pair, "metric": "cer", "overall": {"error_rate": rate}, "checkpoint": f"{pair}/dev-loss-ave.ckpt"}
        (folder / pair / "test-results.json").write_text(json.dumps(results))


def test_mono_headline_is_the_mean_over_languages_of_the_mean_over_their_pairs(tmp_path):
    per_pair = {"eng1": 10.0, "eng2": 10.0, "eng3": 10.0, "fra1": 26.0, "fra2": 27.0, "deu1": 26.0, "deu2": 27.0,
                "rus": 38.0, "swa": 38.0, "swe": 38.0, "jpn": 38.0, "cmn": 38.0, "xty": 38.0}
    assert list(per_pair) == list(MONO_LANGUAGES)
    assert sum(per_pair.values()) / len(per_pair) == pytest.approx(28.00)  # the plain mean over 13 pairs
    write_mono_results(tmp_path, per_pair)
    result = read_result(tmp_path, "test")
    assert result["value"] == pytest.approx(32.3333, abs=1e-4)  # (10 + 26.5 + 26.5 + 6 x 38) / 9
    assert list(result["per_language_group"]) == ["eng", "fra", "deu", "rus", "swa", "swe", "jpn", "cmn", "xty"]
    assert result["per_language_group"]["eng"] == 10.0
    assert result["per_language_group"]["fra"] == result["per_language_group"]["deu"] == 26.5
    assert result["per_language"] == per_pair and result["missing_languages"] == []
    assert result["checkpoints"]["jpn"] == "jpn/dev-loss-ave.ckpt"
    assert "outcomes" not in result and "eng1/test-hyp.trn is missing" in result["outcomes_missing"]  # evaluated without transcripts


def test_mono_headline_of_a_subset_groups_the_pairs_present(tmp_path):
    write_mono_results(tmp_path, {"eng1": 10.0, "eng3": 20.0, "jpn": 45.0})
    result = read_result(tmp_path, "test")
    assert result["value"] == pytest.approx((15.0 + 45.0) / 2)
    assert result["per_language_group"] == {"eng": 15.0, "jpn": 45.0}
    assert "eng2" in result["missing_languages"]


def test_shipped_config_gives_the_interfaces_the_settings_of_every_task_config():
    config = yaml.safe_load((REPO_ROOT / "downstream_configs" / "ml_superb" / "config.yaml").read_text())
    asr = yaml.safe_load((REPO_ROOT / "downstream_configs" / "asr" / "config.yaml").read_text())
    assert config.get("interface") == asr.get("interface")
    for name in ("ws", "gumd", "hconv", "chconv"):
        settings = (config.get("interface") or {}).get(name) or {}
        featurizer = FusionFeaturizer(BaseMembersLayout(), name, settings)
        assert featurizer.setup["settings"] == settings and featurizer.output_dim > 0
        if name == "gumd":
            gumd = featurizer.interface
            assert (gumd.tau_start, gumd.tau_end, gumd.schedule, gumd.straight_through) == (2.0, 0.1, "exponential", False)
    assert config["downstream_expert"]["keep_nbest_models"] == 5


# Dev-loss ranking in the expert -------------------------------------------------------------


def make_expert(expdir: Path, upstream_dim: int = 12, runner_mode: str = "train", **datarc) -> DownstreamExpert:
    """The expert as s3prl's runner builds it (``runner_mode``: the runner's -m)."""
    datarc = {"root": str(CORPUS), "mode": "mono", "language": "eng1", "batch_size": 4, "num_workers": 0, **datarc}
    return DownstreamExpert(upstream_dim, 320, {"datarc": datarc, "modelrc": {}}, str(expdir), seed=1337, mode=runner_mode)


def dev_round(expert: DownstreamExpert, step: int, loss: float, logger) -> list[str]:
    """log_records of a dev evaluation whose utterance-weighted loss is ``loss``; the returned
    names are then written as the runner would."""
    records = defaultdict(list)
    records["loss"] = [loss - 1.0, loss + 2.0]  # batches of 2 and 1 utterances
    records["batch_size"] = [2, 1]
    names = expert.log_records("dev", records, logger, step, batch_ids=[0, 1], total_batch_num=2)
    for name in names:
        (expert.expdir / name).write_bytes(b"checkpoint")
    return names


def dev_loss_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("dev-loss-step-*.ckpt"))


def test_dev_evaluations_keep_the_5_best_by_utterance_weighted_dev_loss(tmp_path):
    expdir = tmp_path / "exp-rank"
    expert = make_expert(expdir)
    logger = SummaryWriter(str(tmp_path / "tb"))
    losses = {1: 5.0, 2: 4.0, 3: 6.0, 4: 3.0, 5: 2.0, 6: 7.0}
    returned = {step: dev_round(expert, step, loss, logger) for step, loss in losses.items()}
    assert all(returned[step][0] == checkpoint_name(step) for step in (1, 2, 3, 4, 5))
    assert checkpoint_name(6) not in returned[6]
    assert [(e.step, e.loss) for e in expert.dev_loss_ranking.evaluations] == [(5, 2.0), (4, 3.0), (2, 4.0), (1, 5.0), (3, 6.0)]
    assert dev_loss_files(expdir) == [checkpoint_name(step) for step in (1, 2, 3, 4, 5)]

    resumed = make_expert(expdir)
    resumed.load_state_dict(expert.state_dict())
    assert resumed.dev_loss_ranking.state() == expert.dev_loss_ranking.state()
    assert dev_round(resumed, 7, 1.0, logger)[0] == checkpoint_name(7)  # evicts step 3, deleted at the next evaluation
    assert dev_loss_files(expdir) == [checkpoint_name(step) for step in (1, 2, 3, 4, 5, 7)]
    assert dev_round(resumed, 8, 9.0, logger) == []
    assert dev_loss_files(expdir) == [checkpoint_name(step) for step in (1, 2, 4, 5, 7)]

    evaluating = make_expert(expdir, runner_mode="evaluate")
    evaluating.load_state_dict(resumed.state_dict())
    assert dev_round(evaluating, 0, 0.5, logger) == []
    assert dev_loss_files(expdir) == [checkpoint_name(step) for step in (1, 2, 4, 5, 7)]
    logger.close()


def test_keep_nbest_models_sets_how_many_dev_evaluations_keep_a_checkpoint(tmp_path):
    datarc = {"root": str(CORPUS), "mode": "mono", "language": "eng1", "num_workers": 0}
    expert = DownstreamExpert(12, 320, {"datarc": datarc, "keep_nbest_models": 2}, str(tmp_path / "exp"))
    logger = SummaryWriter(str(tmp_path / "tb"))
    assert [checkpoint_name(step) in dev_round(expert, step, loss, logger) for step, loss in ((1, 3.0), (2, 2.0), (3, 4.0), (4, 1.0))] == [True, True, False, True]
    assert expert.dev_loss_ranking.steps == {2, 4}
    logger.close()


# Averaging -----------------------------------------------------------------------------------


def perturbed(state: dict, generator: torch.Generator, step: int) -> dict:
    changed = {}
    for key, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point():
            changed[key] = value + torch.randn(value.shape, generator=generator)
        elif key.endswith("interface.step"):
            changed[key] = torch.tensor(10 * step)
        else:
            changed[key] = value
    return changed


def test_average_is_the_mean_of_the_5_best_states_by_dev_loss(tmp_path):
    expdir = tmp_path / "ml-superb" / "exp-gumd"
    featurizer = FusionFeaturizer(BaseMembersLayout(), "gumd", {"tau_start": 2.0, "tau_end": 0.1})
    expert = make_expert(expdir, upstream_dim=featurizer.output_dim)
    generator = torch.Generator().manual_seed(0)
    dev_losses = {3: 9.0, 6: 4.0, 9: 2.5, 12: 3.5, 15: 8.0, 18: 3.0, 21: 5.0}
    written = {}
    for step, loss in dev_losses.items():
        expert.last_dev_evaluation = DevEvaluation(step, loss)
        written[step] = {
            "Step": step, "Epoch": step // 3, "Args": argparse.Namespace(mode="train"), "Config": {"runner": {}},
            "Optimizer": {"state": {}, "param_groups": []},
            "Featurizer": perturbed(featurizer.state_dict(), generator, step),
            "Downstream": perturbed(expert.state_dict(), generator, step),
        }
        torch.save(written[step], expdir / checkpoint_name(step))

    averaged = load_checkpoint(write_average(expdir))
    best = [9, 18, 12, 6, 21]
    assert averaged["Averaged"]["steps"] == best
    assert averaged["Averaged"]["dev_losses"] == [dev_losses[step] for step in best]
    assert averaged["Step"] == 21 and "Optimizer" not in averaged
    for module in ("Featurizer", "Downstream"):
        for key, value in written[21][module].items():
            if torch.is_tensor(value) and value.is_floating_point():
                expected = torch.stack([written[step][module][key] for step in best]).double().mean(dim=0).float()
                assert torch.allclose(averaged[module][key], expected, atol=1e-6), f"{module}.{key}"
    step_keys = [key for key in averaged["Featurizer"] if key.endswith("interface.step")]
    assert step_keys and all(averaged["Featurizer"][key].item() == 210 for key in step_keys)
    assert averaged["Featurizer"]["_extra_state"]["interface"] == "gumd"

    fresh_featurizer = FusionFeaturizer(BaseMembersLayout(), "gumd", {"tau_start": 2.0, "tau_end": 0.1})
    fresh_featurizer.load_state_dict(averaged["Featurizer"])
    make_expert(expdir, upstream_dim=featurizer.output_dim).load_state_dict(averaged["Downstream"])
    assert (expdir / AVERAGED_NAME).is_file()


def test_average_without_dev_loss_checkpoints_says_what_to_train(tmp_path):
    with pytest.raises(CheckpointAverageError, match="eval_step"):
        write_average(tmp_path)


# DDP sharding ----------------------------------------------------------------------------------


def test_length_sorted_batches_pad_so_every_rank_runs_as_many_steps():
    lengths = [7, 3, 5, 1, 9, 2, 8]
    shards = [list(LengthSortedBatches(lengths, batch_size=2, seed=4, rank=rank, world_size=3)) for rank in range(3)]
    whole = list(LengthSortedBatches(lengths, batch_size=2, seed=4))
    assert len(whole) == 4 and [len(shard) for shard in shards] == [2, 2, 2]
    assert [shard[0] for shard in shards] == whole[:3]
    assert [shard[1] for shard in shards] == [whole[3], whole[0], whole[1]]  # padded with the first batches
    assert sorted(index for shard in shards for batch in shard for index in batch) == sorted([*range(7), *whole[0], *whole[1]])


def _list_batches_on_rank(rank: int, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
    try:
        expert = make_expert(Path(folder) / f"exp-{rank}", mode="multi", language=None)
        seen = {
            f"epoch{epoch}": [[u.utt_id for u in utterances] for _, _, utterances in expert.get_dataloader("train", epoch=epoch)]
            for epoch in (0, 1)
        }
        seen["dev"] = [u.utt_id for _, _, utterances in expert.get_dataloader("dev") for u in utterances]
        (Path(folder) / f"rank-{rank}.json").write_text(json.dumps(seen))
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_train_on_disjoint_batches_that_cover_the_data(tmp_path):
    mp.start_processes(_list_batches_on_rank, args=(str(tmp_path),), nprocs=2, join=True, start_method="fork")
    ranks = [json.loads((tmp_path / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    every_utterance = [u.utt_id for u in make_expert(tmp_path / "whole", mode="multi", language=None).corpus.utterances("train")]
    assert len(every_utterance) == 39
    for epoch in ("epoch0", "epoch1"):
        first, second = ([u for batch in rank[epoch] for u in batch] for rank in ranks)
        assert len(ranks[0][epoch]) == len(ranks[1][epoch]) == 5
        assert not set(first) & set(second)
        assert sorted(first + second) == sorted(every_utterance)
    assert ranks[0]["epoch0"] != ranks[0]["epoch1"]
    assert ranks[0]["dev"] == ranks[1]["dev"] and len(ranks[0]["dev"]) == 13


# The recipe, end to end with s3prl's runner -------------------------------------------------------


def test_recipe_trains_keeps_5_best_by_dev_loss_decodes_their_average_and_scores(tmp_path):
    out_dir = tmp_path / "ml-superb" / "fused-gumd"
    overrides = ",,".join([
        "config.downstream_expert.datarc.batch_size=2", "config.downstream_expert.datarc.num_workers=0",
        "config.runner.gradient_accumulate_steps=2", "config.runner.eval_step=1", "config.runner.save_step=3",
        "config.runner.log_step=3",
    ])
    result = checked(run_recipe("ml_superb.sh", ["fused", "gumd", str(CORPUS), str(out_dir)],
                                MODE="mono", LANGUAGES="eng1", STEPS="6", OVERRIDES=overrides))
    expdir = out_dir / "eng1"
    dev_losses = {int(step): float(loss) for loss, step in re.findall(r"dev loss ([0-9.]+) at step (\d+)", result.stdout)}
    printed = [float(loss) for loss in re.findall(r"\[ml_superb\] dev loss ([0-9.]+) CER", result.stdout)]
    assert len(printed) == 6 and sorted(dev_losses.values()) == sorted(printed)
    best = sorted(dev_losses, key=lambda step: (dev_losses[step], step))[:5]
    assert {path.name for path in expdir.glob("states-*.ckpt")} == {"states-3.ckpt", "states-6.ckpt"}

    averaged = load_checkpoint(expdir / AVERAGED_NAME)
    assert averaged["Averaged"]["steps"] == best
    kept = {step: load_checkpoint(expdir / checkpoint_name(step)) for step in best}
    for module in ("Featurizer", "Downstream"):
        for key, value in averaged[module].items():
            if torch.is_tensor(value) and value.is_floating_point():
                expected = torch.stack([kept[step][module][key].double() for step in best]).mean(dim=0)
                assert torch.allclose(value.double(), expected, atol=1e-6), f"{module}.{key}"
    newest = kept[max(best)]
    gumd_steps = [key for key in averaged["Featurizer"] if key.endswith("step")]
    assert gumd_steps and all(torch.equal(averaged["Featurizer"][key], newest["Featurizer"][key]) for key in gumd_steps)

    shipped = yaml.safe_load((REPO_ROOT / "downstream_configs" / "ml_superb" / "config.yaml").read_text())
    assert averaged["Featurizer"]["_extra_state"]["settings"] == (shipped.get("interface") or {}).get("gumd", {})

    test_results = json.loads((expdir / "test-results.json").read_text())
    assert test_results["checkpoint"] == str(expdir / AVERAGED_NAME)
    scored = json.loads((out_dir / "result.json").read_text())
    assert scored["value"] == pytest.approx(test_results["overall"]["error_rate"])
    assert scored["per_language_group"] == {"eng": scored["value"]} and scored["checkpoints"]["eng1"] == str(expdir / AVERAGED_NAME)
    assert scored["seed"] == 1337
    outcomes = checked_outcomes(out_dir / "result.json", tmp_path, units="utterance")
    assert set(outcomes.strata) == {"eng1"} and len(outcomes) == test_results["overall"]["utterances"]

    rerun = checked(run_recipe("ml_superb.sh", ["fused", "gumd", str(CORPUS), str(out_dir)], MODE="mono", LANGUAGES="eng1",
                               STEPS="6", OVERRIDES=overrides, SELECTION="dev-cer-best"))
    assert "resuming" in rerun.stdout and "dev loss" not in rerun.stdout.split("resuming", 1)[1].split("decoding", 1)[0]
    assert json.loads((expdir / "test-results.json").read_text())["checkpoint"] == str(expdir / "dev-best.ckpt")
