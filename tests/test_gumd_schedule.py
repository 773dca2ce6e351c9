"""GumD's temperature schedule spans the run s3prl's runner is configured for, in optimizer
updates: with gradient accumulation, the first update's forwards use tau_start and the last
update's tau_end; a batch the runner skips (CUDA out of memory) does not advance it; a
checkpoint continues the schedule where it stopped, and one made for another annealing length
is refused with how to keep its schedule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import s3prl
import yaml

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python, user_error_line
from s3prl_fusion.cache.builder import build_fused_upstream
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.featurizer import FusionFeaturizer, FusionSetupMismatch
from s3prl_fusion.interfaces import RunLength, build_interface

TOTAL_UPDATES = 4
ACCUMULATION = 3
TAU_START, TAU_END = 2.0, 0.1

SKIPPED_FORWARD = 5  # the second update's second forward runs out of memory and is skipped

# s3prl's own run_downstream.py in a fresh interpreter, recording the temperature of every
# Gumbel-softmax draw the training forwards make; the ASR head's n-th training forward raises
# CUDA's out-of-memory error, which s3prl's runner answers by skipping the batch ("skipped"
# follows that forward's draws in the record)
RECORDING_RUN = """
import contextlib, json, runpy, sys
import torch
import torch.nn.functional as F
from s3prl.downstream.asr.expert import DownstreamExpert

record, skipped_forward, script, *arguments = sys.argv[1:]
temperatures = []
gumbel_softmax = F.gumbel_softmax
def recording_gumbel_softmax(logits, tau=1.0, **kwargs):
    temperatures.append(tau)
    return gumbel_softmax(logits, tau=tau, **kwargs)
F.gumbel_softmax = recording_gumbel_softmax

training_forwards = []
head_forward = DownstreamExpert.forward
def forward_out_of_memory_once(self, split, *args, **kwargs):
    if split == "train":
        training_forwards.append(split)
        if len(training_forwards) == int(skipped_forward):
            temperatures.append("skipped")
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return head_forward(self, split, *args, **kwargs)
DownstreamExpert.forward = forward_out_of_memory_once
torch.cuda.device = lambda device: contextlib.nullcontext()  # s3prl empties the CUDA cache of the run's device
torch.cuda.empty_cache = lambda: None
sys.argv = [script, *arguments]
runpy.run_path(script, run_name="__main__")
open(record, "w").write(json.dumps(temperatures))
"""


@pytest.fixture(scope="module")
def run_config(tmp_path_factory, librispeech_buckets) -> Path:
    """The demo ASR config with 3 forwards per update, 4 updates, a checkpoint after each, and
    no anneal_steps (the default: the run's total_steps)."""
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    config["downstream_expert"]["datarc"].update(
        libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict"),
        train_batch_size=2,
    )
    config["runner"].update(total_steps=TOTAL_UPDATES, gradient_accumulate_steps=ACCUMULATION, save_step=1, log_step=2, max_keep=TOTAL_UPDATES)
    assert "anneal_steps" not in (config.get("interface") or {}).get("gumd", {})
    path = tmp_path_factory.mktemp("gumd-config") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_config) -> tuple[Path, list[float]]:
    """(the experiment folder, the temperatures of its Gumbel draws: one per member per forward)."""
    expdir = tmp_path_factory.mktemp("gumd-run") / "exp-gumd-accumulate"
    record = expdir.parent / "temperatures.json"
    result = run_python([
        "-c", RECORDING_RUN, str(record), str(SKIPPED_FORWARD), str(Path(s3prl.__file__).parent / "run_downstream.py"),
        "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "gumd", "-d", "asr", "-c", str(run_config),
        "-p", str(expdir), "--device", "cpu",
    ])
    assert "gumd temperature 2 -> 0.1 (exponential) over 4 optimizer updates (runner.total_steps), counted at each optimizer step" in result.stderr
    assert "[Runner] - CUDA out of memory at step 2" in result.stdout + result.stderr
    return expdir, json.loads(record.read_text())


def skipped_draws(temperatures: list) -> tuple[list[float], list[float]]:
    """(the draws of the forwards that led to updates, the draws of the skipped forward)."""
    marker = temperatures.index("skipped")
    return temperatures[: marker - 2] + temperatures[marker + 1 :], temperatures[marker - 2 : marker]


def per_update(temperatures: list, members: int = 2) -> list[list[float]]:
    """The draws grouped by optimizer update: ACCUMULATION forwards x ``members`` draws each,
    the skipped forward's left out."""
    temperatures, _ = skipped_draws(temperatures)
    size = ACCUMULATION * members
    return [temperatures[start:start + size] for start in range(0, len(temperatures), size)]


def test_first_update_uses_tau_start_and_last_update_tau_end(trained):
    _, temperatures = trained
    updates = per_update(temperatures)
    assert len(updates) == TOTAL_UPDATES and all(len(set(update)) == 1 for update in updates)
    schedule = [update[0] for update in updates]
    assert schedule[0] == TAU_START
    assert schedule[-1] == pytest.approx(TAU_END, rel=1e-12)
    assert all(earlier > later for earlier, later in zip(schedule, schedule[1:]))


def test_a_skipped_batch_does_not_advance_the_schedule(trained):
    """The out-of-memory forward ran at the second update's temperature, and so do the forwards
    of that update after it: the schedule waits for the optimizer's step."""
    _, temperatures = trained
    _, skipped = skipped_draws(temperatures)
    assert len(skipped) == 2 and set(skipped) == {per_update(temperatures)[1][0]}


def test_checkpoints_count_optimizer_updates(trained):
    expdir, _ = trained
    for step in range(1, TOTAL_UPDATES + 1):
        checkpoint = load_checkpoint(expdir / f"states-{step}.ckpt")
        assert checkpoint["Step"] == step
        assert int(checkpoint["Featurizer"]["interface.step"]) == step  # updates, not the 3x as many forwards
    identities = checkpoint["Featurizer"]["_extra_state"]["member_identities"]
    assert [(member["label"], member["kind"]) for member in identities] == [("wavlm_small_random", "hf"), ("whisper_small_random", "whisper")]


def test_resume_continues_the_schedule(trained):
    """A checkpoint holds the completed updates, so GumD rebuilt from it (as ``-e`` does) goes on
    with the temperature the uninterrupted run used next."""
    expdir, temperatures = trained
    schedule = [update[0] for update in per_update(temperatures)]
    for step in range(1, TOTAL_UPDATES):
        featurizer = load_checkpoint(expdir / f"states-{step}.ckpt")["Featurizer"]
        setup = featurizer["_extra_state"]
        resumed = build_interface("gumd", setup["layer_counts"], setup["dims"], run=RunLength(TOTAL_UPDATES), **setup["settings"])
        resumed.load_state_dict({key[len("interface."):]: value for key, value in featurizer.items() if key.startswith("interface.")})
        assert resumed.train().temperature == schedule[step]


# every config that trains (QbE's trains nothing: its runner section is empty)
TASK_CONFIGS = [path for path in [*sorted(ASR_CONFIGS.parent.glob("*/config*.yaml")), *sorted(ASR_CONFIGS.parent.glob("ctc/*.yaml")), ASR_CONFIGS / "demo.yaml"]
                if yaml.safe_load(path.read_text())["runner"]]


@pytest.mark.parametrize("config_path", TASK_CONFIGS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_shipped_config_anneals_over_its_whole_run(config_path):
    config = yaml.safe_load(config_path.read_text())
    runner = config["runner"]
    settings = (config.get("interface") or {}).get("gumd") or {}
    interface = build_interface("gumd", [13], [768], run=RunLength(runner["total_steps"]), **settings)
    assert interface.anneal_updates == runner["total_steps"]


def test_resume_with_another_annealing_length_is_refused_with_how_to_keep_it(trained, tmp_path):
    expdir, _ = trained
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(expdir / f"states-{TOTAL_UPDATES}.ckpt"),
                         "--device", "cpu", "-o", f"config.runner.total_steps={2 * TOTAL_UPDATES}"], cwd=tmp_path, check=False)
    line = user_error_line(result)
    assert f"annealing length: checkpoint {TOTAL_UPDATES} vs now {2 * TOTAL_UPDATES} optimizer updates" in line
    assert f"-o config.interface.gumd.anneal_steps={TOTAL_UPDATES}" in line
    assert not (expdir / f"states-{TOTAL_UPDATES + 1}.ckpt").exists()


def test_the_checkpoint_s_annealing_length_set_explicitly_continues_its_schedule(trained):
    """A longer run that states the checkpoint's annealing length (``anneal_steps``) loads it and
    goes on at tau_end; one that leaves it to the new total_steps is refused."""
    expdir, _ = trained
    checkpoint = load_checkpoint(expdir / f"states-{TOTAL_UPDATES}.ckpt")["Featurizer"]
    upstream = build_fused_upstream("fused", None, str(DEMO_UPSTREAM), 0)

    def featurizer(**settings) -> FusionFeaturizer:
        return FusionFeaturizer(upstream, "gumd", settings, upstream_name="fused", upstream_model_config=str(DEMO_UPSTREAM),
                                run=RunLength(2 * TOTAL_UPDATES))

    with pytest.raises(FusionSetupMismatch, match=f"annealing length: checkpoint {TOTAL_UPDATES} vs now {2 * TOTAL_UPDATES}"):
        featurizer().load_state_dict(checkpoint)
    kept = featurizer(anneal_steps=TOTAL_UPDATES)
    kept.load_state_dict(checkpoint)
    assert kept.interface.train().temperature == pytest.approx(TAU_END)
